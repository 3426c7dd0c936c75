"""Cognito's TOTP two-step sign-in on the local line, as Cognito does it where moto (5.x) falls short.

moto gives every user the same secret (``asdfasdfasdf``), accepts any code unless a process-wide environment
variable is set, and signs in whichever ``USERNAME`` a ``SOFTWARE_TOKEN_MFA`` answer names, whatever session it
carries. ``CognitoTotpMiddleware`` answers ``AssociateSoftwareToken`` and ``VerifySoftwareToken`` itself (a random
secret per user; a code must match it, ±30 s, as Cognito allows) and checks a ``SOFTWARE_TOKEN_MFA`` answer's code
and user before moto signs the user in; everything else goes to moto untouched (moto keeps each user's MFA
settings, so ``AdminGetUser``, ``SetUserMFAPreference`` and the challenge at sign-in are moto's).

The local-only skip: users named with ``skip_totp_for`` (the demo users, unless ``peerline dev --mfa``) have TOTP on
like anyone else — so the volunteer API's check is the real one — but their ``SOFTWARE_TOKEN_MFA`` challenge is
answered here with their own code, so they sign in with a password. Nothing of this is deployed: on AWS the pool is
Cognito itself.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from io import BytesIO
from typing import Any

import pyotp
from moto.cognitoidp.models import CognitoIdpBackend, CognitoIdpUser, CognitoIdpUserPool, cognitoidp_backends

log = logging.getLogger("peerline.local.aws")

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_TARGET_PREFIX = "AWSCognitoIdentityProviderService."
_HANDLED = {"AssociateSoftwareToken", "VerifySoftwareToken", "RespondToAuthChallenge", "InitiateAuth"}


class CognitoRefusedError(Exception):
    """An error answer as Cognito gives it: its ``__type`` and message."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def _backends() -> Iterator[CognitoIdpBackend]:
    for account_backends in list(cognitoidp_backends.values()):
        for region, backend in list(account_backends.items()):
            if region != "global":
                yield backend


class TotpSecrets:
    """Each user's TOTP secret (pending until a code proves the app has it), and who may skip the challenge."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], str] = {}
        self._active: dict[tuple[str, str], str] = {}
        self._skipping: set[tuple[str, str]] = set()

    def skip_totp_for(self, user_pool_id: str, username: str) -> None:
        """Local only: this user's sign-in challenge is answered for them (the demo users of ``make dev``)."""
        with self._lock:
            self._skipping.add((user_pool_id, username.lower()))

    def associate(self, pool: CognitoIdpUserPool, user: CognitoIdpUser) -> str:
        secret = pyotp.random_base32()
        with self._lock:
            self._pending[(pool.id, user.username.lower())] = secret
        return secret

    def verify_new(self, pool: CognitoIdpUserPool, user: CognitoIdpUser, code: str) -> None:
        key = (pool.id, user.username.lower())
        with self._lock:
            secret = self._pending.get(key)
        if secret is None:
            raise CognitoRefusedError("InvalidParameterException", "No software token has been associated.")
        if not _matches(secret, code):
            raise CognitoRefusedError("EnableSoftwareTokenMFAException", "Code mismatch")
        with self._lock:
            self._active[key] = self._pending.pop(key)
        # moto lets SetUserMFAPreference turn TOTP on only for a user whose token was verified.
        user.token_verified = True

    def check_sign_in(self, pool: CognitoIdpUserPool, user: CognitoIdpUser, code: str) -> None:
        with self._lock:
            secret = self._active.get((pool.id, user.username.lower()))
        if secret is None or not _matches(secret, code):
            raise CognitoRefusedError("CodeMismatchException", "Invalid code received for user")

    def code_for_skipping_user(self, pool: CognitoIdpUserPool, user: CognitoIdpUser) -> str | None:
        key = (pool.id, user.username.lower())
        with self._lock:
            secret = self._active.get(key) if key in self._skipping else None
        return pyotp.TOTP(secret).now() if secret else None


def _matches(secret: str, code: str) -> bool:
    # Cognito accepts the code of the current 30-second step and of the steps either side (clock drift).
    return bool(code) and pyotp.TOTP(secret).verify(code.strip(), valid_window=1)


class CognitoTotpMiddleware:
    """WSGI: Cognito's TOTP calls answered as Cognito does (``TotpSecrets``), the rest handed to moto."""

    def __init__(self, moto_app: WsgiApp, secrets: TotpSecrets | None = None) -> None:
        self._moto_app = moto_app
        self.secrets = secrets or TotpSecrets()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        target = str(environ.get("HTTP_X_AMZ_TARGET") or "")
        action = target.removeprefix(_TARGET_PREFIX) if target.startswith(_TARGET_PREFIX) else ""
        if environ.get("REQUEST_METHOD") != "POST" or action not in _HANDLED:
            return self._moto_app(environ, start_response)
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        # What is read is put back, so moto can read the request itself when it is handed on.
        environ["wsgi.input"] = BytesIO(raw)
        if action == "InitiateAuth":
            return self._initiate_auth(environ, start_response, raw)
        try:
            request = json.loads(raw or b"{}")
            if not isinstance(request, dict):
                raise ValueError("not an object")
            answer = self._answer(action, request)
        except CognitoRefusedError as refused:
            log.info("cognito %s refused (%s)", action, refused.error_type)
            return _json(
                start_response, environ, "400 Bad Request", {"__type": refused.error_type, "message": refused.message}
            )
        except ValueError:
            return self._moto_app(environ, start_response)
        if answer is None:
            return self._moto_app(environ, start_response)
        return _json(start_response, environ, "200 OK", answer)

    def _answer(self, action: str, request: dict[str, Any]) -> dict[str, Any] | None:
        """Cognito's answer, or None for moto to answer."""
        if action == "AssociateSoftwareToken":
            pool, user, session = _caller(request)
            answer = {"SecretCode": self.secrets.associate(pool, user)}
            return {**answer, "Session": session} if session else answer
        if action == "VerifySoftwareToken":
            pool, user, session = _caller(request)
            self.secrets.verify_new(pool, user, str(request.get("UserCode") or ""))
            if session:
                backend = _backend_with_session(session)
                fresh = str(uuid.uuid4())
                backend.sessions[fresh] = (user.username, pool)
                return {"Status": "SUCCESS", "Session": fresh}
            return {"Status": "SUCCESS"}
        if action == "RespondToAuthChallenge" and request.get("ChallengeName") == "SOFTWARE_TOKEN_MFA":
            responses = request.get("ChallengeResponses") or {}
            pool, user = _session_user(str(request.get("Session") or ""))
            named = pool._get_user(str(responses.get("USERNAME") or ""))
            if named is not user:
                raise CognitoRefusedError("NotAuthorizedException", "Invalid session for the user.")
            self.secrets.check_sign_in(pool, user, str(responses.get("SOFTWARE_TOKEN_MFA_CODE") or ""))
            return None  # the code is right: moto signs them in
        return None

    def _initiate_auth(self, environ: dict[str, Any], start_response: StartResponse, raw: bytes) -> Iterable[bytes]:
        """moto's answer, but a skipping user's ``SOFTWARE_TOKEN_MFA`` challenge answered with their own code."""
        status, headers, body = _call(self._moto_app, environ)
        try:
            challenge = json.loads(body or b"{}") if status.startswith("200") else {}
            signed_in = self._answer_for_skipping_user(challenge, str(json.loads(raw or b"{}").get("ClientId")))
        except (ValueError, AttributeError, CognitoRefusedError):
            signed_in = None
        if signed_in is None:
            start_response(status, headers)
            return [body]
        log.debug("cognito totp challenge answered for a local demo user")
        return _json(start_response, environ, "200 OK", signed_in)

    def _answer_for_skipping_user(self, challenge: dict[str, Any], client_id: str) -> dict[str, Any] | None:
        if challenge.get("ChallengeName") != "SOFTWARE_TOKEN_MFA":
            return None
        session = str(challenge.get("Session") or "")
        pool, user = _session_user(session)
        code = self.secrets.code_for_skipping_user(pool, user)
        if code is None:
            return None
        responses = {"USERNAME": user.username, "SOFTWARE_TOKEN_MFA_CODE": code}
        answer = _backend_with_session(session).respond_to_auth_challenge(
            session, client_id, "SOFTWARE_TOKEN_MFA", responses
        )
        return dict(answer)


def _caller(request: dict[str, Any]) -> tuple[CognitoIdpUserPool, CognitoIdpUser, str]:
    """The user an ``AccessToken`` or a sign-in ``Session`` belongs to."""
    session = str(request.get("Session") or "")
    if session:
        pool, user = _session_user(session)
        return pool, user, session
    token = str(request.get("AccessToken") or "")
    for backend in _backends():
        for pool in list(backend.user_pools.values()):
            if token and token in pool.access_tokens:
                _, username = pool.access_tokens[token]
                return pool, pool._get_user(username), ""
    raise CognitoRefusedError("NotAuthorizedException", "Invalid Access Token")


def _backend_with_session(session: str) -> CognitoIdpBackend:
    for backend in _backends():
        if session in backend.sessions:
            return backend
    raise CognitoRefusedError("NotAuthorizedException", "Invalid session for the user.")


def _session_user(session: str) -> tuple[CognitoIdpUserPool, CognitoIdpUser]:
    username, pool = _backend_with_session(session).sessions[session]
    user = pool._get_user(username)
    if user is None:
        raise CognitoRefusedError("NotAuthorizedException", "Invalid session for the user.")
    return pool, user


def _call(app: WsgiApp, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """moto's whole answer (status, headers, body), to be passed on or replaced."""
    captured: dict[str, Any] = {"status": "500 Internal Server Error", "headers": []}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        captured.update(status=status, headers=headers)
        return lambda _chunk: None

    body = b"".join(app(environ, start_response))
    return captured["status"], captured["headers"], body


def _json(
    start_response: StartResponse, environ: dict[str, Any], status: str, payload: dict[str, Any]
) -> Iterable[bytes]:
    body = json.dumps(payload).encode()
    headers = [
        ("Content-Type", "application/x-amz-json-1.1"),
        ("Content-Length", str(len(body))),
        ("x-amzn-RequestId", str(uuid.uuid4())),
    ]
    if "__type" in payload:
        headers.append(("x-amzn-ErrorType", str(payload["__type"])))
    # The same CORS answer moto (flask-cors) gives every other call, so a browser may read this one too.
    origin = environ.get("HTTP_ORIGIN")
    if origin:
        headers += [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
    start_response(status, headers)
    return [body]


def set_up_totp(cognito: Any, client_id: str, username: str, password: str) -> str:
    """Turn TOTP on for a user as the dashboard does (sign in, associate, verify a code, enable and prefer it);
    the secret, for whoever must compute codes later (the local line's demo supervisors, tests)."""
    signed_in = cognito.initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": username, "PASSWORD": password}
    )
    token = signed_in["AuthenticationResult"]["AccessToken"]
    secret = str(cognito.associate_software_token(AccessToken=token)["SecretCode"])
    cognito.verify_software_token(AccessToken=token, UserCode=pyotp.TOTP(secret).now())
    cognito.set_user_mfa_preference(AccessToken=token, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    return secret
