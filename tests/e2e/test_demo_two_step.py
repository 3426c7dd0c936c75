"""The local-only setting: by default the demo supervisor signs in with a password and has every supervisor view
(TOTP on, its challenge answered by the local line); with `demo_users_skip_totp=False` (`peerline dev --mfa`) they
sign in like any new supervisor on AWS — without TOTP yet, so supervisor operations are refused until set up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from line_kit import aws_client, running_line

pytestmark = pytest.mark.e2e


def supervisor_calls_get_line(line: dict[str, Any]) -> requests.Response:
    demo = next(user for user in line["demo_users"] if user["role"] == "supervisor")
    signed_in = aws_client(line, "cognito-idp").initiate_auth(
        ClientId=line["user_pool_client_id"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": demo["username"], "PASSWORD": demo["password"]},
    )
    token = signed_in["AuthenticationResult"]["AccessToken"]
    return requests.get(f"{line['api_url']}/volunteer/line", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_with_mfa_asked_for_the_demo_supervisor_must_set_up_two_step_sign_in(tmp_path: Path) -> None:
    # given the local line started as `peerline dev --mfa` starts it
    with running_line(tmp_path, "demo-two-step-mfa", demo_users_skip_totp=False) as line:
        # when the demo supervisor signs in with their password and asks for the line at a glance
        answer = supervisor_calls_get_line(line)

    # then they are told to set up two-step sign-in first
    assert (answer.status_code, answer.json()) == (403, {"message": "set up two-step sign-in first"})
