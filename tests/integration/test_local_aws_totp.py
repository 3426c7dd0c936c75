"""The local line's Cognito checks TOTP codes as Cognito does (moto alone gives everyone one secret and takes any
code): a secret per user, a code must match it at set-up and at every sign-in, a challenge belongs to its own user;
only users the local line names skip the challenge."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pyotp
import pytest
import requests
from botocore.exceptions import ClientError
from moto.cognitoidp.utils import cognito_totp

from peerline_local.cognito_totp import set_up_totp
from peerline_local.local_aws import LocalAwsServer

PASSWORD = "Peerline-Test-Password-1"
MOTOS_OWN_SECRET = "asdfasdfasdf"  # what moto gives every user


@pytest.fixture(scope="module")
def server() -> Iterator[LocalAwsServer]:
    started = LocalAwsServer().start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def cognito(server: LocalAwsServer) -> Any:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("cognito-idp", endpoint_url=server.url)


@pytest.fixture(scope="module")
def pool(cognito: Any) -> dict[str, str]:
    pool_id = cognito.create_user_pool(PoolName="totp", MfaConfiguration="OPTIONAL")["UserPool"]["Id"]
    cognito.set_user_pool_mfa_config(
        UserPoolId=pool_id, MfaConfiguration="OPTIONAL", SoftwareTokenMfaConfiguration={"Enabled": True}
    )
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName="dashboard", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    return {"pool_id": pool_id, "client_id": client_id}


def new_user(cognito: Any, pool: dict[str, str]) -> str:
    username = f"sup-{uuid.uuid4().hex[:8]}"
    cognito.admin_create_user(UserPoolId=pool["pool_id"], Username=username, MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=pool["pool_id"], Username=username, Password=PASSWORD, Permanent=True)
    return username


def password_step(cognito: Any, pool: dict[str, str], username: str) -> dict[str, Any]:
    answer: dict[str, Any] = cognito.initiate_auth(
        ClientId=pool["client_id"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )
    return answer


def code_step(cognito: Any, pool: dict[str, str], session: str, username: str, code: str) -> dict[str, Any]:
    answer: dict[str, Any] = cognito.respond_to_auth_challenge(
        ClientId=pool["client_id"],
        ChallengeName="SOFTWARE_TOKEN_MFA",
        Session=session,
        ChallengeResponses={"USERNAME": username, "SOFTWARE_TOKEN_MFA_CODE": code},
    )
    return answer


def wrong_code(secret: str) -> str:
    """A code that is none of the codes Cognito accepts around now (±1 step), with a step to spare either side."""
    totp, now = pyotp.TOTP(secret), time.time()
    right = {totp.at(now + 30 * step) for step in range(-2, 3)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in right)


def test_after_set_up_sign_in_needs_the_users_own_current_code(cognito: Any, pool: dict[str, str]) -> None:
    # given a supervisor who has set TOTP up as the dashboard does
    username = new_user(cognito, pool)
    secret = set_up_totp(cognito, pool["client_id"], username, PASSWORD)

    # when they sign in with their password, Cognito asks for a code
    challenge = password_step(cognito, pool, username)
    assert challenge["ChallengeName"] == "SOFTWARE_TOKEN_MFA" and "AuthenticationResult" not in challenge

    # then a wrong code and moto's one-secret-for-all code are refused ...
    for refused in (wrong_code(secret), cognito_totp(MOTOS_OWN_SECRET).generate(time.time()).decode()):
        with pytest.raises(ClientError) as mismatch:
            code_step(cognito, pool, challenge["Session"], username, refused)
        assert mismatch.value.response["Error"]["Code"] == "CodeMismatchException"

    # ... and their own current code signs them in
    signed_in = code_step(cognito, pool, challenge["Session"], username, pyotp.TOTP(secret).now())
    assert signed_in["AuthenticationResult"]["AccessToken"]


def test_a_challenge_cannot_be_answered_for_another_user(cognito: Any, pool: dict[str, str]) -> None:
    # given two users with TOTP, one of whom knows her password and code, and the other's username
    mine, theirs = new_user(cognito, pool), new_user(cognito, pool)
    my_secret = set_up_totp(cognito, pool["client_id"], mine, PASSWORD)
    set_up_totp(cognito, pool["client_id"], theirs, PASSWORD)

    # when she answers her own challenge naming the other user
    challenge = password_step(cognito, pool, mine)
    with pytest.raises(ClientError) as refused:
        code_step(cognito, pool, challenge["Session"], theirs, pyotp.TOTP(my_secret).now())

    # then nobody is signed in (moto alone signed in whoever USERNAME named)
    assert refused.value.response["Error"]["Code"] == "NotAuthorizedException"


def test_a_wrong_code_at_set_up_leaves_totp_off(cognito: Any, pool: dict[str, str]) -> None:
    # given a signed-in user who asked for a secret
    username = new_user(cognito, pool)
    token = password_step(cognito, pool, username)["AuthenticationResult"]["AccessToken"]
    secret = cognito.associate_software_token(AccessToken=token)["SecretCode"]
    assert secret != MOTOS_OWN_SECRET and len(secret) >= 16

    # when the code they type is wrong
    with pytest.raises(ClientError) as mismatch:
        cognito.verify_software_token(AccessToken=token, UserCode=wrong_code(secret))

    # then set-up fails, TOTP can't be turned on, and they still sign in by password alone
    assert mismatch.value.response["Error"]["Code"] == "EnableSoftwareTokenMFAException"
    with pytest.raises(ClientError):
        cognito.set_user_mfa_preference(AccessToken=token, SoftwareTokenMfaSettings={"Enabled": True})
    user = cognito.admin_get_user(UserPoolId=pool["pool_id"], Username=username)
    assert "SOFTWARE_TOKEN_MFA" not in user.get("UserMFASettingList", [])


def test_only_users_the_local_line_names_skip_the_challenge(
    server: LocalAwsServer, cognito: Any, pool: dict[str, str]
) -> None:
    # given two users with TOTP on, one of them a demo user the local line lets skip it
    demo, other = new_user(cognito, pool), new_user(cognito, pool)
    for username in (demo, other):
        set_up_totp(cognito, pool["client_id"], username, PASSWORD)
    server.totp.skip_totp_for(pool["pool_id"], demo)

    # when each signs in with a password
    # then the demo user is signed in (TOTP still on, as the API checks), the other is asked for a code
    assert password_step(cognito, pool, demo)["AuthenticationResult"]["AccessToken"]
    assert (
        "SOFTWARE_TOKEN_MFA" in cognito.admin_get_user(UserPoolId=pool["pool_id"], Username=demo)["UserMFASettingList"]
    )
    assert password_step(cognito, pool, other)["ChallengeName"] == "SOFTWARE_TOKEN_MFA"


def test_the_dashboard_reads_a_refused_code_across_origins(
    server: LocalAwsServer, cognito: Any, pool: dict[str, str]
) -> None:
    # given a user with TOTP at the code step
    username = new_user(cognito, pool)
    set_up_totp(cognito, pool["client_id"], username, PASSWORD)
    session = password_step(cognito, pool, username)["Session"]

    # when the dashboard (another origin) sends a wrong code
    response = requests.post(
        server.url,
        json={
            "ChallengeName": "SOFTWARE_TOKEN_MFA",
            "ClientId": pool["client_id"],
            "Session": session,
            "ChallengeResponses": {"USERNAME": username, "SOFTWARE_TOKEN_MFA_CODE": "12"},
        },
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AWSCognitoIdentityProviderService.RespondToAuthChallenge",
            "Origin": "http://127.0.0.1:8080",
        },
        timeout=10,
    )

    # then it can read Cognito's error
    assert response.status_code == 400
    assert response.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:8080"
    assert response.json()["__type"] == "CodeMismatchException"
