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
