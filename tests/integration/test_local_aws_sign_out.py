"""The local line's AWS (moto behind LocalAwsServer) answers the dashboard's sign-out calls over real HTTP, the way the
browser sends them: Cognito's JSON API with an Origin header."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from peerline_local.local_aws import LocalAwsServer

DASHBOARD_ORIGIN = "http://127.0.0.1:8080"
PASSWORD = "Peerline-Test-Password-1"


@pytest.fixture(scope="module")
def aws_url() -> Iterator[str]:
    server = LocalAwsServer()
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def cognito(aws_url: str) -> Any:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("cognito-idp", endpoint_url=aws_url)


@pytest.fixture(scope="module")
def pool(cognito: Any) -> dict[str, str]:
    pool_id = cognito.create_user_pool(PoolName="sign-out")["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="dashboard",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    other_client_id = cognito.create_user_pool_client(UserPoolId=pool_id, ClientName="other")["UserPoolClient"][
        "ClientId"
    ]
    cognito.admin_create_user(UserPoolId=pool_id, Username="volunteer", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=pool_id, Username="volunteer", Password=PASSWORD, Permanent=True)
    return {"pool_id": pool_id, "client_id": client_id, "other_client_id": other_client_id}


def sign_in(cognito: Any, pool: dict[str, str]) -> dict[str, Any]:
    result: dict[str, Any] = cognito.initiate_auth(
        ClientId=pool["client_id"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "volunteer", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    return result


def call_from_the_dashboard(aws_url: str, action: str, body: dict[str, str]) -> requests.Response:
    """What auth.js sends: a cross-origin POST of Cognito's JSON API."""
    return requests.post(
        aws_url,
        json=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"AWSCognitoIdentityProviderService.{action}",
            "Origin": DASHBOARD_ORIGIN,
        },
        timeout=10,
    )


def test_revoke_token_from_the_dashboard_succeeds_with_cors_headers(
    aws_url: str, cognito: Any, pool: dict[str, str]
) -> None:
    # given a signed-in volunteer
    tokens = sign_in(cognito, pool)

    # when the dashboard revokes the refresh token
    response = call_from_the_dashboard(
        aws_url, "RevokeToken", {"ClientId": pool["client_id"], "Token": tokens["RefreshToken"]}
    )

    # then Cognito's empty answer comes back, readable by the page (no server error, no CORS error)
    assert response.status_code == 200, response.text
    assert response.json() == {}
    assert response.headers["Access-Control-Allow-Origin"] == DASHBOARD_ORIGIN


def test_the_preflight_for_revoke_token_allows_the_dashboard(aws_url: str) -> None:
    # given / when the browser asks before its cross-origin POST
    response = requests.options(
        aws_url,
        headers={
            "Origin": DASHBOARD_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-amz-target",
        },
        timeout=10,
    )

    # then the origin, the method and both headers are allowed
    assert response.ok
    assert response.headers["Access-Control-Allow-Origin"] == DASHBOARD_ORIGIN
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "x-amz-target" in response.headers["Access-Control-Allow-Headers"].lower()


def test_a_revoked_refresh_token_and_its_access_token_no_longer_work(cognito: Any, pool: dict[str, str]) -> None:
    # given a signed-in volunteer whose refresh token is revoked (through botocore, to check the wire format too)
    tokens = sign_in(cognito, pool)
    cognito.revoke_token(ClientId=pool["client_id"], Token=tokens["RefreshToken"])

    # when the dashboard tries to refresh, or to use the access token issued with it
    # then both are refused
    with pytest.raises(ClientError) as refreshed:
        cognito.initiate_auth(
            ClientId=pool["client_id"],
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
        )
    assert refreshed.value.response["Error"]["Code"] == "NotAuthorizedException"
    with pytest.raises(ClientError) as used:
        cognito.get_user(AccessToken=tokens["AccessToken"])
    assert used.value.response["Error"]["Code"] == "NotAuthorizedException"


def test_revoking_leaves_the_other_sessions_of_the_user_signed_in(cognito: Any, pool: dict[str, str]) -> None:
    # given the same volunteer signed in twice (two tabs)
    first, second = sign_in(cognito, pool), sign_in(cognito, pool)

    # when the first session signs out
    cognito.revoke_token(ClientId=pool["client_id"], Token=first["RefreshToken"])

    # then the second still refreshes and its access token still works
    refreshed = cognito.initiate_auth(
        ClientId=pool["client_id"],
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": second["RefreshToken"]},
    )
    assert refreshed["AuthenticationResult"]["AccessToken"]
    assert cognito.get_user(AccessToken=second["AccessToken"])["Username"] == "volunteer"


def test_revoking_twice_is_harmless(aws_url: str, cognito: Any, pool: dict[str, str]) -> None:
    # given a refresh token already revoked
    tokens = sign_in(cognito, pool)
    cognito.revoke_token(ClientId=pool["client_id"], Token=tokens["RefreshToken"])

    # when it is revoked again (a second tab signing out) / then that succeeds too
    response = call_from_the_dashboard(
        aws_url, "RevokeToken", {"ClientId": pool["client_id"], "Token": tokens["RefreshToken"]}
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("which_token", "which_client", "error_type"),
    [
        ("unknown", "client_id", "UnauthorizedException"),
        ("RefreshToken", "other_client_id", "UnauthorizedException"),
        ("AccessToken", "client_id", "UnsupportedTokenTypeException"),
    ],
)
def test_revoke_token_refuses_what_cognito_refuses_with_a_readable_error(
    aws_url: str, cognito: Any, pool: dict[str, str], which_token: str, which_client: str, error_type: str
) -> None:
    # given a token the client may not revoke
    tokens = sign_in(cognito, pool)
    token = tokens.get(which_token, "not-a-token")

    # when the dashboard asks to revoke it
    response = call_from_the_dashboard(aws_url, "RevokeToken", {"ClientId": pool[which_client], "Token": token})

    # then it is refused with Cognito's error type, readable by the page, and the session still refreshes
    assert response.status_code == 400
    assert response.json()["__type"] == error_type
    assert response.headers["Access-Control-Allow-Origin"] == DASHBOARD_ORIGIN
    cognito.initiate_auth(
        ClientId=pool["client_id"],
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
    )


def test_every_other_call_still_reaches_moto(aws_url: str, cognito: Any, pool: dict[str, str]) -> None:
    # given a signed-in volunteer
    tokens = sign_in(cognito, pool)

    # when the dashboard's fallback sign-out goes through
    response = call_from_the_dashboard(aws_url, "GlobalSignOut", {"AccessToken": tokens["AccessToken"]})

    # then moto answered it: the session is over
    assert response.status_code == 200, response.text
    with pytest.raises(ClientError):
        cognito.get_user(AccessToken=tokens["AccessToken"])
