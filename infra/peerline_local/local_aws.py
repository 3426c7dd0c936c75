"""moto in server mode, as the local line's AWS, with the Cognito calls the dashboard makes that moto lacks or fakes.

The dashboard signs out with Cognito's ``RevokeToken`` (``auth.js``). moto (5.x) answers it with an HTML 500 (its
``NotImplementedError``) and no CORS headers, so every sign-out on the local line logged a server traceback and put
a CORS error in the browser console. ``LocalAwsServer`` serves moto's own WSGI application behind a small
middleware that answers ``RevokeToken`` as Cognito does, against moto's own user pools, with the CORS headers moto
gives every other answer. TOTP two-step sign-in is checked as Cognito does it (``cognito_totp.py``); everything
else goes to moto untouched.
"""

from __future__ import annotations

import errno
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import jwt
from moto.cognitoidp.models import CognitoIdpUserPool, cognitoidp_backends
from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from peerline_local.cognito_totp import CognitoTotpMiddleware, TotpSecrets
from peerline_local.loopback import LoopbackServer

log = logging.getLogger("peerline.local.aws")

REVOKE_TOKEN_TARGET = "AWSCognitoIdentityProviderService.RevokeToken"

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class RevokeTokenRefusedError(Exception):
    """Cognito's error answer to ``RevokeToken``: its ``__type`` and message."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def _user_pools() -> Iterator[CognitoIdpUserPool]:
    """Every user pool moto holds, in every account and region (as moto itself looks up tokens)."""
    for account_backends in list(cognitoidp_backends.values()):
        for region, backend in list(account_backends.items()):
            if region != "global":
                yield from list(backend.user_pools.values())


def revoke_refresh_token(client_id: str, token: str) -> None:
    """Revoke a refresh token, and the access tokens issued with it, as Cognito's ``RevokeToken`` does.

    A token already revoked (or signed out) is revoked again without complaint. Raises ``RevokeTokenRefusedError``
    (Cognito's error types) for an unknown token, a token of another app client, an access or ID token, or a client
    with token revocation turned off.
    """
    if not client_id or not token:
        raise RevokeTokenRefusedError("InvalidParameterException", "ClientId and Token are required.")
    for pool in _user_pools():
        if token in pool.access_tokens or token in pool.id_tokens:
            raise RevokeTokenRefusedError("UnsupportedTokenTypeException", "Only refresh tokens can be revoked.")
        if token not in pool.refresh_tokens:
            continue
        client = pool.clients.get(client_id)
        if client is None:
            raise RevokeTokenRefusedError("UnauthorizedException", "The token was not issued to this client.")
        if not client.extended_config.get("EnableTokenRevocation", True):
            raise RevokeTokenRefusedError(
                "UnsupportedOperationException", "Token revocation is not enabled for this client."
            )
        issued = pool.refresh_tokens[token]
        if issued is None:
            return  # already revoked, or signed out globally
        issued_to, _username, origin_jti = issued
        if issued_to != client_id:
            raise RevokeTokenRefusedError("UnauthorizedException", "The token was not issued to this client.")
        # None is how moto marks a refresh token signed out (REFRESH_TOKEN_AUTH then answers NotAuthorized).
        pool.refresh_tokens[token] = None
        for access_token in list(pool.access_tokens):
            if _origin_jti(access_token) == origin_jti:
                pool.access_tokens.pop(access_token, None)
        return
    raise RevokeTokenRefusedError("UnauthorizedException", "Invalid token.")


def _origin_jti(token: str) -> str | None:
    # moto signs its own tokens; only the claim linking an access token to its refresh token is wanted here.
    claims = jwt.decode(token, options={"verify_signature": False})
    origin = claims.get("origin_jti")
    return str(origin) if origin is not None else None


class CognitoRevokeTokenMiddleware:
    """WSGI: answers ``RevokeToken`` itself and hands every other request to moto."""

    def __init__(self, moto_app: WsgiApp) -> None:
        self._moto_app = moto_app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        is_revoke = environ.get("REQUEST_METHOD") == "POST" and environ.get("HTTP_X_AMZ_TARGET") == REVOKE_TOKEN_TARGET
        if not is_revoke:
            return self._moto_app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            request = json.loads(environ["wsgi.input"].read(length) or b"{}")
            if not isinstance(request, dict):
                raise ValueError("not an object")
            revoke_refresh_token(str(request.get("ClientId") or ""), str(request.get("Token") or ""))
        except RevokeTokenRefusedError as refused:
            log.info("cognito revoke token refused (%s)", refused.error_type)
            return self._answer(start_response, environ, "400 Bad Request", refused.error_type, refused.message)
        except ValueError:
            return self._answer(
                start_response, environ, "400 Bad Request", "SerializationException", "The body is not JSON."
            )
        log.debug("cognito refresh token revoked")
        return self._answer(start_response, environ, "200 OK")

    @staticmethod
    def _answer(
        start_response: StartResponse,
        environ: dict[str, Any],
        status: str,
        error_type: str | None = None,
        message: str = "",
    ) -> Iterable[bytes]:
        body = json.dumps({"__type": error_type, "message": message} if error_type else {}).encode()
        headers = [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("Content-Length", str(len(body))),
            ("x-amzn-RequestId", str(uuid.uuid4())),
        ]
        if error_type:
            headers.append(("x-amzn-ErrorType", error_type))
        # The same CORS answer moto (flask-cors) gives every other call, so a browser may read this one too.
        origin = environ.get("HTTP_ORIGIN")
        if origin:
            headers += [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
        start_response(status, headers)
        return [body]


class LocalAwsServer(LoopbackServer):
    """moto's server application behind ``CognitoRevokeTokenMiddleware`` on a loopback port (0: any free one)."""

    thread_name = "moto"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        # Each user's TOTP secret, and the local-only list of users whose TOTP challenge is answered for them.
        self.totp = TotpSecrets()

    def _bind(self, port: int) -> BaseWSGIServer:
        moto_app = DomainDispatcherApplication(create_backend_app)
        app = CognitoRevokeTokenMiddleware(CognitoTotpMiddleware(moto_app, self.totp))
        try:
            return make_server(self._host, port, app, threaded=True, request_handler=MotoRequestHandler)
        except SystemExit as exit_:  # werkzeug exits the process when the port is in use; say so instead
            raise OSError(errno.EADDRINUSE, f"port {port} is in use") from exit_
