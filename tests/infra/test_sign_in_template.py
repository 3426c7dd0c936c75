"""The volunteers' user pool: two-step sign-in by an authenticator app (TOTP) is on offer, never SMS, and an e-mail
alone can reset nobody's password; the volunteer API and the dashboard socket may read whether a supervisor has it
on."""

from pathlib import Path
from typing import Any

import pytest

from peerline_local.stack import load_template

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    return dict(load_template(TEMPLATE)["Resources"])


def test_the_user_pool_offers_totp_and_only_totp(resources: dict[str, Any]) -> None:
    # given the volunteers' user pool
    pool = resources["VolunteerUserPool"]["Properties"]

    # then two-step sign-in is possible (required for supervisors by the API), by authenticator app only
    assert pool["MfaConfiguration"] in ("OPTIONAL", "ON"), "two-step sign-in is off: supervisors sign in by password"
    assert pool["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"], "SMS codes can be intercepted: TOTP only"


def test_an_email_alone_cannot_recover_an_account(resources: dict[str, Any]) -> None:
    # given the pool's account recovery
    mechanisms = resources["VolunteerUserPool"]["Properties"]["AccountRecoverySetting"]["RecoveryMechanisms"]

    # then only an operator resets a password (the volunteer gets a new temporary one)
    assert [mechanism["Name"] for mechanism in mechanisms] == ["admin_only"]


@pytest.mark.parametrize("function", ["VolunteerApiFunction", "DashboardSocketFunction"])
def test_functions_that_admit_supervisors_may_read_two_step_settings_in_their_pool_only(
    resources: dict[str, Any], function: str
) -> None:
    # given the policy statements of a function that gives supervisors more than volunteers
    statements = [
        statement
        for policy in resources[function]["Properties"]["Policies"]
        if isinstance(policy, dict) and "Statement" in policy
        for statement in policy["Statement"]
    ]

    # then it may AdminGetUser (UserMFASettingList), on the volunteers' pool and nothing else
    reading_users = [statement for statement in statements if "cognito-idp:AdminGetUser" in statement["Action"]]
    assert reading_users, f"{function} can't tell whether a supervisor has two-step sign-in"
    for statement in reading_users:
        assert statement["Action"] == ["cognito-idp:AdminGetUser"]
        assert statement["Resource"] == {"Fn::GetAtt": ["VolunteerUserPool", "Arn"]}
