"""The HTTP API emulator guards JWT routes as API Gateway does, with tokens issued by moto's Cognito over HTTP."""

from __future__ import annotations

import gzip
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import jwt
import moto.cognitoidp
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from peerline_local.emulators import FunctionEndpoint, HttpApiEmulator, JwtVerifier, Route, cognito_jwks_url
from peerline_local.stack import CorsConfiguration, JwtAuthorizer, LocalStack

PASSWORD = "Jwt-Emulation-Passw0rd"
ORIGIN = "http://127.0.0.1:5173"


class RecordingFunction:
    """A function host stand-in: records every event it is invoked with and answers 200."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                event = json.loads(self.rfile.read(int(self.headers["content-length"])))
                recorder.events.append(event)
                result = {
                    "statusCode": 200,
                    "headers": {"Content-Type": "application/json", "Access-Control-Allow-Origin": "https://evil"},
                    "body": json.dumps({"ok": True}),
                }
                payload = json.dumps({"result": result}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.endpoint = FunctionEndpoint(
            "RecordingFunction", f"http://127.0.0.1:{self._server.server_address[1]}/invoke", requests.Session()
        )

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class CountingSession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def get(self, url: str | bytes, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.urls.append(str(url))
        return super().get(url, **kwargs)


@pytest.fixture(scope="module")
def cognito(moto_endpoint: str) -> Any:
    return boto3.client("cognito-idp", endpoint_url=moto_endpoint, region_name="us-east-1")


@pytest.fixture(scope="module")
def pool(stack: LocalStack) -> dict[str, str]:
    return {
        "id": stack.physical_id("VolunteerUserPool"),
        "client_id": stack.physical_id("DashboardUserPoolClient"),
    }


@pytest.fixture(scope="module")
def authorizer(stack: LocalStack) -> JwtAuthorizer:
    return stack.http_authorizers["VolunteerJwt"]


def _sign_up(cognito: Any, pool_id: str, username: str, groups: tuple[str, ...] = ()) -> None:
    cognito.admin_create_user(
        UserPoolId=pool_id,
        Username=username,
        UserAttributes=[
            {"Name": "email", "Value": f"{username}@example.org"},
            {"Name": "email_verified", "Value": "true"},
        ],
        MessageAction="SUPPRESS",
    )
    cognito.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=PASSWORD, Permanent=True)
    for group in groups:
        cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=group)


def _tokens(cognito: Any, client_id: str, username: str) -> dict[str, str]:
    result: dict[str, str] = cognito.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    return result


@pytest.fixture(scope="module")
def user(cognito: Any, pool: dict[str, str]) -> dict[str, str]:
    username = f"jwt-{uuid.uuid4().hex[:8]}"
    _sign_up(cognito, pool["id"], username, groups=("volunteer", "supervisor"))
    return {"username": username, **_tokens(cognito, pool["client_id"], username)}


@pytest.fixture(scope="module")
def function() -> Iterator[RecordingFunction]:
    recorder = RecordingFunction()
    yield recorder
    recorder.stop()


@pytest.fixture(scope="module")
def jwks_session() -> CountingSession:
    return CountingSession()


@pytest.fixture(scope="module")
def api(
    function: RecordingFunction, authorizer: JwtAuthorizer, moto_endpoint: str, jwks_session: CountingSession
) -> Iterator[str]:
    routes = [
        Route("ANY", "/volunteer/{proxy+}", function.endpoint, authorizer=authorizer),
        Route("GET", "/volunteer/me", function.endpoint, authorizer=authorizer),
        Route("GET", "/open/{item}/status", function.endpoint),
    ]
    cors = CorsConfiguration(
        allow_origins=("*",), allow_headers=("Authorization", "Content-Type"), allow_methods=("GET", "POST", "PUT")
    )
    verifier = JwtVerifier(cognito_jwks_url(moto_endpoint), session=jwks_session)
    emulator = HttpApiEmulator(routes, cors=cors, verifier=verifier)
    emulator.start()
    yield emulator.url
    emulator.stop()


@pytest.fixture
def calls(function: RecordingFunction) -> list[dict[str, Any]]:
    function.events.clear()
    return function.events


def _moto_private_key() -> jwt.PyJWK:
    """The key moto's Cognito signs with: lets a test make a correctly signed token with chosen claims."""
    path = Path(moto.cognitoidp.__file__).parent / "resources" / "jwks-private.json.gz"
    return jwt.PyJWK.from_dict(json.loads(gzip.decompress(path.read_bytes())))


def _claims(authorizer: JwtAuthorizer, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": authorizer.issuer,
        "sub": str(uuid.uuid4()),
        "aud": authorizer.audience[0],
        "token_use": "id",
        "iat": now - 60,
        "exp": now + 3600,
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def _moto_signed(claims: dict[str, Any]) -> str:
    key = _moto_private_key()
    return jwt.encode(claims, key.key, algorithm="RS256", headers={"kid": key.key_id})


def _get(api: str, path: str, token: str | None = None, **headers: str) -> requests.Response:
    if token is not None:
        headers["Authorization"] = token
    return requests.get(f"{api}{path}", headers=headers, timeout=10)


# ---------------------------------------------------------------------------------------------------- refusals


def test_no_token_is_unauthorized_and_the_function_is_not_called(api: str, calls: list[dict[str, Any]]) -> None:
    # when
    response = _get(api, "/volunteer/me")

    # then
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
    assert calls == []


def test_a_token_signed_by_another_key_is_unauthorized(
    api: str, calls: list[dict[str, Any]], authorizer: JwtAuthorizer
) -> None:
    # given a token with every claim right, signed by a key that is not the pool's (same kid as moto's)
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(_claims(authorizer), forger, algorithm="RS256", headers={"kid": _moto_private_key().key_id})

    # when
    response = _get(api, "/volunteer/me", f"Bearer {token}")

    # then
    assert response.status_code == 401
    assert calls == []


def test_a_tampered_moto_token_is_unauthorized(api: str, calls: list[dict[str, Any]], user: dict[str, str]) -> None:
    # given a real token whose payload was changed to another subject
    header, payload, signature = user["IdToken"].split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["sub"] = "someone-else"
    forged_payload = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()

    # when
    response = _get(api, "/volunteer/me", f"Bearer {header}.{forged_payload}.{signature}")

    # then
    assert response.status_code == 401
    assert calls == []


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c", ""])
def test_garbage_is_unauthorized(api: str, calls: list[dict[str, Any]], token: str) -> None:
    assert _get(api, "/volunteer/me", f"Bearer {token}").status_code == 401
    assert calls == []


def test_an_unsigned_token_is_unauthorized(api: str, calls: list[dict[str, Any]], authorizer: JwtAuthorizer) -> None:
    token = jwt.encode(_claims(authorizer), None, algorithm="none")
    assert _get(api, "/volunteer/me", token).status_code == 401
    assert calls == []


def test_an_expired_token_is_unauthorized(api: str, calls: list[dict[str, Any]], authorizer: JwtAuthorizer) -> None:
    # given a token signed by the pool's own key, valid in every way but expiry
    now = int(time.time())
    valid = _moto_signed(_claims(authorizer))
    expired = _moto_signed(_claims(authorizer, iat=now - 7200, exp=now - 60))

    # when
    refused = _get(api, "/volunteer/me", f"Bearer {expired}")

    # then
    assert refused.status_code == 401
    assert calls == []
    # and the same token unexpired passes, so expiry is what was refused
    assert _get(api, "/volunteer/me", f"Bearer {valid}").status_code == 200


def test_a_token_without_expiry_is_unauthorized(
    api: str, calls: list[dict[str, Any]], authorizer: JwtAuthorizer
) -> None:
    assert _get(api, "/volunteer/me", _moto_signed(_claims(authorizer, exp=None))).status_code == 401
    assert calls == []


def test_a_token_from_another_user_pool_is_unauthorized(api: str, calls: list[dict[str, Any]], cognito: Any) -> None:
    # given a user of another pool on the same moto (moto signs every pool with the same key: only `iss` differs)
    other_pool = cognito.create_user_pool(PoolName=f"other-{uuid.uuid4().hex[:6]}")["UserPool"]["Id"]
    other_client = cognito.create_user_pool_client(
        UserPoolId=other_pool, ClientName="other", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    _sign_up(cognito, other_pool, "outsider")
    tokens = _tokens(cognito, other_client, "outsider")

    # when / then
    for token in (tokens["IdToken"], tokens["AccessToken"]):
        assert _get(api, "/volunteer/me", f"Bearer {token}").status_code == 401
    assert calls == []


def test_a_token_for_another_app_client_is_unauthorized(
    api: str, calls: list[dict[str, Any]], cognito: Any, pool: dict[str, str], user: dict[str, str]
) -> None:
    # given the same user signed in through another app client of the right pool
    other_client = cognito.create_user_pool_client(
        UserPoolId=pool["id"],
        ClientName=f"other-{uuid.uuid4().hex[:6]}",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],
    )["UserPoolClient"]["ClientId"]
    tokens = _tokens(cognito, other_client, user["username"])

    # when / then: the id token's `aud` and the access token's `client_id` are checked
    assert _get(api, "/volunteer/me", f"Bearer {tokens['IdToken']}").status_code == 401
    assert _get(api, "/volunteer/me", f"Bearer {tokens['AccessToken']}").status_code == 401
    assert calls == []


def test_an_unknown_path_is_not_found(api: str, calls: list[dict[str, Any]], user: dict[str, str]) -> None:
    assert _get(api, "/nowhere", f"Bearer {user['AccessToken']}").status_code == 404
    # a greedy variable needs at least one segment
    assert _get(api, "/volunteer/", f"Bearer {user['AccessToken']}").status_code == 404
    assert calls == []


# ---------------------------------------------------------------------------------------------------- valid tokens


def test_an_access_token_passes_with_its_claims_as_api_gateway_hands_them_on(
    api: str, calls: list[dict[str, Any]], user: dict[str, str]
) -> None:
    # when
    response = _get(api, "/volunteer/me", f"Bearer {user['AccessToken']}")

    # then
    assert response.status_code == 200
    (event,) = calls
    authorizer = event["requestContext"]["authorizer"]["jwt"]
    expected = jwt.decode(user["AccessToken"], options={"verify_signature": False})
    assert authorizer["claims"]["sub"] == expected["sub"]
    assert authorizer["claims"]["client_id"] == expected["client_id"]
    assert authorizer["claims"]["username"] == user["username"]
    # every claim is a string; lists the way API Gateway writes them
    assert authorizer["claims"]["exp"] == str(expected["exp"])
    assert authorizer["claims"]["cognito:groups"] == "[" + " ".join(expected["cognito:groups"]) + "]"
    assert set(expected["cognito:groups"]) == {"volunteer", "supervisor"}
    assert all(isinstance(value, str) for value in authorizer["claims"].values())
    assert authorizer["scopes"] == ["aws.cognito.signin.user.admin"]


def test_an_id_token_passes_without_the_bearer_scheme(
    api: str, calls: list[dict[str, Any]], user: dict[str, str]
) -> None:
    # when the header holds the bare token
    response = _get(api, "/volunteer/me", user["IdToken"])

    # then
    assert response.status_code == 200
    (event,) = calls
    jwt_context = event["requestContext"]["authorizer"]["jwt"]
    assert jwt_context["claims"]["aud"] == jwt.decode(user["IdToken"], options={"verify_signature": False})["aud"]
    assert jwt_context["claims"]["cognito:username"] == user["username"]
    assert jwt_context["scopes"] is None


def test_the_jwks_is_fetched_once_and_cached(
    api: str, user: dict[str, str], jwks_session: CountingSession, pool: dict[str, str]
) -> None:
    # when
    for _ in range(3):
        assert _get(api, "/volunteer/me", f"Bearer {user['AccessToken']}").status_code == 200

    # then from moto, where a Cognito issuer's keys are served locally
    assert jwks_session.urls.count(jwks_session.urls[0]) == 1
    assert jwks_session.urls[0].endswith(f"/{pool['id']}/.well-known/jwks.json")


# ---------------------------------------------------------------------------------------------------- routes


def test_greedy_path_parameters_and_the_route_template_reach_the_function(
    api: str, calls: list[dict[str, Any]], user: dict[str, str]
) -> None:
    # when
    response = requests.post(
        f"{api}/volunteer/conversations/c-42/accept?x=1",
        headers={"Authorization": f"Bearer {user['AccessToken']}", "Content-Type": "application/json"},
        json={"a": 1},
        timeout=10,
    )

    # then
    assert response.status_code == 200
    (event,) = calls
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "ANY /volunteer/{proxy+}"
    assert event["pathParameters"] == {"proxy": "conversations/c-42/accept"}
    assert event["rawPath"] == "/volunteer/conversations/c-42/accept"
    assert event["requestContext"]["http"]["method"] == "POST"
    assert json.loads(event["body"]) == {"a": 1}


def test_the_most_specific_route_wins(api: str, calls: list[dict[str, Any]], user: dict[str, str]) -> None:
    # when
    assert _get(api, "/volunteer/me", f"Bearer {user['AccessToken']}").status_code == 200
    assert requests.put(
        f"{api}/volunteer/me", headers={"Authorization": f"Bearer {user['AccessToken']}"}, timeout=10
    ).ok

    # then GET hits the literal route, PUT (no literal PUT route) the greedy ANY route
    assert [event["routeKey"] for event in calls] == ["GET /volunteer/me", "ANY /volunteer/{proxy+}"]
    assert "pathParameters" not in calls[0]


def test_single_segment_parameters_on_an_open_route(api: str, calls: list[dict[str, Any]]) -> None:
    # when
    response = _get(api, "/open/item%2D7/status")

    # then
    assert response.status_code == 200
    (event,) = calls
    assert event["routeKey"] == "GET /open/{item}/status"
    assert event["pathParameters"] == {"item": "item-7"}
    assert "authorizer" not in event["requestContext"]
    # and a parameter matches exactly one segment
    assert _get(api, "/open/a/b/status").status_code == 404


# ---------------------------------------------------------------------------------------------------- CORS


def test_preflight_is_answered_for_any_path_without_a_token(api: str, calls: list[dict[str, Any]]) -> None:
    for path in ("/volunteer/conversations/c-1/messages", "/anything"):
        # when
        response = requests.options(
            f"{api}{path}",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
            timeout=10,
        )

        # then
        assert response.status_code == 204
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert response.headers["Access-Control-Allow-Methods"] == "GET,POST,PUT"
        assert response.headers["Access-Control-Allow-Headers"] == "Authorization,Content-Type"
    assert calls == []


def test_responses_to_a_cross_origin_request_carry_the_allowed_origin(api: str, user: dict[str, str]) -> None:
    # when
    allowed = _get(api, "/volunteer/me", f"Bearer {user['AccessToken']}", Origin=ORIGIN)
    refused = _get(api, "/volunteer/me", Origin=ORIGIN)

    # then the API's CORS headers replace the function's own, and a 401 carries them too (or the browser hides it)
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == "*"
    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == "*"
