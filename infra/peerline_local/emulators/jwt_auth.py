"""What an HTTP API's JWT authorizer does: signature against the issuer's JWKS, issuer, audience, expiry, scopes."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import jwt
import requests

from peerline_local.emulators.events import query_params
from peerline_local.stack import JwtAuthorizer

log = logging.getLogger("peerline.local")


# ---------------------------------------------------------------------------------------------------- JWT


class JwtRejectedError(Exception):
    """API Gateway refuses the request before the function runs (401 Unauthorized, 403 Forbidden for scopes)."""

    def __init__(self, reason: str, *, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status

    @property
    def message(self) -> str:
        return "Unauthorized" if self.status == 401 else "Forbidden"

    @property
    def headers(self) -> dict[str, str]:
        if self.status != 401:
            return {}
        return {"WWW-Authenticate": f'Bearer error="invalid_token" error_description="{self.reason}"'}


def identity_token(authorizer: JwtAuthorizer, headers: dict[str, str], query: str) -> str | None:
    """The token from the authorizer's identity source (``$request.header.X`` or ``$request.querystring.X``)."""
    source = authorizer.identity_source.split(",")[0].strip()
    if source.startswith("$request.header."):
        value = headers.get(source.removeprefix("$request.header.").lower())
    elif source.startswith("$request.querystring."):
        value = (query_params(query) or {}).get(source.removeprefix("$request.querystring."))
    else:
        raise ValueError(f"identity source {source!r} is not emulated")
    if value is None:
        return None
    value = value.strip()
    # API Gateway takes the token with or without the "Bearer " scheme.
    return value[7:].strip() if value[:7].lower() == "bearer " else value


def cognito_jwks_url(aws_endpoint_url: str | None) -> Callable[[str], str]:
    """Where an issuer's keys are: a Cognito issuer's on the AWS emulator when one is given, else the issuer's own."""
    cognito = re.compile(r"https://cognito-idp\.[a-z0-9-]+\.amazonaws\.com/(?P<pool>[\w-]+)")

    def url(issuer: str) -> str:
        found = cognito.fullmatch(issuer)
        if found and aws_endpoint_url:
            return f"{aws_endpoint_url.rstrip('/')}/{found['pool']}/.well-known/jwks.json"
        return f"{issuer.rstrip('/')}/.well-known/jwks.json"

    return url


class JwtVerifier:
    """Validates a token as an HTTP API JWT authorizer does, with each issuer's JWKS fetched once and cached.

    A token passes when it is an RS256 JWT signed by a key of the issuer's JWKS (matched by ``kid``), its ``iss`` is
    the authorizer's issuer, its ``aud`` — or, without ``aud``, its ``client_id`` (Cognito access tokens) — is one
    of the audience entries, ``exp`` is in the future and ``nbf``/``iat`` not, and it holds one of the route's
    scopes if the route has any.
    """

    def __init__(
        self,
        jwks_url: Callable[[str], str],
        *,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        refetch_after_seconds: float = 300.0,
    ) -> None:
        self._jwks_url = jwks_url
        self._session = session or requests.Session()
        self._clock = clock
        self._refetch_after = refetch_after_seconds
        self._keys: dict[str, tuple[float, dict[str, jwt.PyJWK]]] = {}
        self._lock = threading.Lock()

    def authorize(self, authorizer: JwtAuthorizer, token: str | None, scopes: tuple[str, ...] = ()) -> dict[str, Any]:
        """``requestContext.authorizer`` for a valid token; ``JwtRejectedError`` otherwise."""
        claims = self.verify(authorizer, token)
        granted = _token_scopes(claims)
        if scopes and not set(scopes) & set(granted or []):
            raise JwtRejectedError("the token has none of the route's scopes", status=403)
        return {"jwt": {"claims": {name: _claim_text(value) for name, value in claims.items()}, "scopes": granted}}

    def verify(self, authorizer: JwtAuthorizer, token: str | None) -> dict[str, Any]:
        """The token's claims if it is valid for ``authorizer``; ``JwtRejectedError`` (with the reason) if not."""
        if not token:
            raise JwtRejectedError("no token in " + authorizer.identity_source)
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            raise JwtRejectedError("not a JWT") from None
        if header.get("alg") != "RS256":
            raise JwtRejectedError(f"signing algorithm {header.get('alg')!r} is not accepted")
        if unverified.get("iss") != authorizer.issuer:
            raise JwtRejectedError("the token's issuer is not the authorizer's")
        key = self._key(authorizer.issuer, str(header.get("kid", "")))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=["RS256"],
                issuer=authorizer.issuer,
                options={"require": ["exp", "iss"], "verify_aud": False},
                leeway=0,
            )
        except jwt.ExpiredSignatureError:
            raise JwtRejectedError("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise JwtRejectedError("the token is not valid yet") from None
        except jwt.InvalidTokenError as error:
            raise JwtRejectedError(f"invalid token: {type(error).__name__}") from None
        # API Gateway checks `aud`, and `client_id` only when the token has no `aud`.
        audience = claims.get("aud") if "aud" in claims else claims.get("client_id")
        presented = audience if isinstance(audience, list) else [audience]
        if not set(map(str, presented)) & set(authorizer.audience):
            raise JwtRejectedError("the token's audience is not the authorizer's")
        return claims

    def _key(self, issuer: str, kid: str) -> jwt.PyJWK:
        with self._lock:
            fetched_at, keys = self._keys.get(issuer, (0.0, {}))
            stale = self._clock() - fetched_at > self._refetch_after
            if kid not in keys and (stale or not keys):
                keys = self._fetch(issuer)
                self._keys[issuer] = (self._clock(), keys)
        if kid not in keys:
            raise JwtRejectedError("the token's key is not in the issuer's JWKS")
        return keys[kid]

    def _fetch(self, issuer: str) -> dict[str, jwt.PyJWK]:
        url = self._jwks_url(issuer)
        try:
            response = self._session.get(url, timeout=5)
            response.raise_for_status()
            key_set = jwt.PyJWKSet.from_dict(response.json())
        except (requests.RequestException, ValueError, jwt.PyJWTError) as error:
            log.warning("cannot read the JWKS of %s at %s: %s", issuer, url, type(error).__name__)
            raise JwtRejectedError("the issuer's JWKS cannot be read") from None
        return {str(key.key_id): key for key in key_set.keys}


def _token_scopes(claims: dict[str, Any]) -> list[str] | None:
    if isinstance(claims.get("scope"), str):
        return claims["scope"].split()
    if isinstance(claims.get("scp"), list):
        return [str(scope) for scope in claims["scp"]]
    return None


def _claim_text(value: Any) -> str:
    """A claim as API Gateway hands it on: every value a string, lists and maps written the way Go prints them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_claim_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{key}:{_claim_text(item)}" for key, item in sorted(value.items())) + "]"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
