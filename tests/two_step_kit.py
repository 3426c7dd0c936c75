"""Supervisors with two-step sign-in (TOTP) in a provisioned stack's user pool (importable from any test folder)."""

from __future__ import annotations

from typing import Any

import boto3

from peerline_local.cognito_totp import set_up_totp

PASSWORD = "Peerline-Test-Password-1"


def cognito_user(stack: Any, username: str, password: str = PASSWORD) -> str:
    """A confirmed user of the stack's volunteer pool (permanent password); their ``sub``."""
    cognito = boto3.session.Session(region_name="us-east-1").client("cognito-idp")
    pool_id = stack.resources["VolunteerUserPool"].physical_id
    created = cognito.admin_create_user(UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password, Permanent=True)
    return next(str(a["Value"]) for a in created["User"]["Attributes"] if a["Name"] == "sub")


def with_totp(stack: Any, username: str, password: str = PASSWORD) -> str:
    """TOTP turned on for an existing user, as the dashboard does it; the secret (for codes at sign-in)."""
    cognito = boto3.session.Session(region_name="us-east-1").client("cognito-idp")
    return set_up_totp(cognito, stack.resources["DashboardUserPoolClient"].physical_id, username, password)


def register_team(stack: Any, members: list[tuple[str, str, list[Any], list[Any]]]) -> None:
    """Volunteers in the stack's registry — ``(volunteer_id, display name, languages, roles)``, username the name in
    lower case, certified for a year — with each supervisor also a pool user with TOTP on (without it, supervisor
    operations are refused)."""
    from datetime import date, timedelta

    from peerline.adapters.volunteers import DynamoVolunteerRegistry
    from peerline.models import Role, VolunteerRecord

    registry = DynamoVolunteerRegistry(
        stack.resources["VolunteersTable"].physical_id,
        boto3.session.Session(region_name="us-east-1").client("dynamodb"),
    )
    for volunteer_id, name, languages, roles in members:
        registry.create(
            VolunteerRecord(
                volunteer_id=volunteer_id,
                username=name.lower(),
                display_name=name,
                roles=roles,
                languages=languages,
                certified_until=date.today() + timedelta(days=365),
            )
        )
        if Role.SUPERVISOR in roles:
            cognito_user(stack, name.lower())
            with_totp(stack, name.lower())
