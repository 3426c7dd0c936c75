"""What API Gateway and Lambda's SQS event sources do, emulated on loopback for the local line.

- ``HttpApiEmulator`` serves the HTTP API routes declared in ``template.yaml`` and invokes the function behind each
  route with a real API Gateway v2 (payload 2.0) event — form bodies base64-encoded, as HTTP APIs deliver them.
  Route templates match as API Gateway matches them (``/volunteer/{proxy+}``, ``/hooks/{id}``, ``ANY``); routes
  behind a JWT authorizer get what API Gateway does to them (``JwtVerifier``: signature against the issuer's JWKS,
  issuer, audience or ``client_id``, expiry; 401 without invoking the function; the claims in
  ``requestContext.authorizer.jwt``); CORS preflights are answered from the API's ``CorsConfiguration``.
- ``WebSocketApiEmulator`` serves a WebSocket API's routes (``$connect`` can refuse the upgrade, ``$disconnect``,
  messages by route selection) by invoking its function with real-shaped events, and the management API
  (``POST /@connections/{id}``, 410 Gone for unknown ids) the functions push through.
- ``SqsEventSourcePoller`` polls a queue declared as a function's SQS event source and invokes the function with
  real SQS events: batch size honoured, FIFO groups in order, partial batch failures (only the reported items
  stay on the queue, to come back after the visibility timeout and go to the DLQ by the redrive policy), message
  delays honoured by SQS itself.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote, urlsplit

import jwt
import requests
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from peerline_local.quiet_http import LocalThreadingHTTPServer
from peerline_local.stack import CorsConfiguration, JwtAuthorizer

log = logging.getLogger("peerline.local")

_TEXT_TYPES = ("application/json", "text/", "application/xml", "application/javascript")


class FunctionInvokeError(Exception):
    """The function raised (Lambda's "FunctionError"); the event counts as failed."""


@dataclass
class FunctionEndpoint:
    """A running function host: where to POST events."""

    logical_id: str
    url: str
    session: requests.Session

    def invoke(self, event: dict[str, Any], timeout: float = 120) -> Any:
        response = self.session.post(self.url, data=json.dumps(event), timeout=timeout)
        response.raise_for_status()
        payload = response.json()
        if "error" in payload:
            raise FunctionInvokeError(f"{self.logical_id}: {payload['error']['errorType']}")
        return payload["result"]


@dataclass(frozen=True)
class Route:
    """A route of the API: method ("ANY" matches every method), path template, function, and its JWT authorizer."""

    method: str
    path: str
    function: FunctionEndpoint
    authorizer: JwtAuthorizer | None = None
    authorization_scopes: tuple[str, ...] = ()

    @property
    def route_key(self) -> str:
        return self.path if self.path == "$default" else f"{self.method} {self.path}"


def api_gateway_v2_event(
    *,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    source_ip: str,
    domain: str,
    route_key: str | None = None,
    path_parameters: dict[str, str] | None = None,
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An HTTP API payload-2.0 event, as API Gateway builds it for a ``$default`` stage.

    ``route_key`` is the matched route's template ("ANY /volunteer/{proxy+}"; default "METHOD path");
    ``authorizer`` is what the route's authorizer hands on (``{"jwt": {"claims": ..., "scopes": ...}}``).
    """
    content_type = headers.get("content-type", "")
    is_text = any(content_type.startswith(kind) for kind in _TEXT_TYPES)
    text: str | None = None
    if is_text:
        # A "text" body that isn't UTF-8 is delivered base64-encoded, as API Gateway does with binary bodies.
        with contextlib.suppress(UnicodeDecodeError):
            text = body.decode()
    now = datetime.now(UTC)
    route_key = route_key or f"{method} {path}"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "cookies": [],
        "headers": headers,
        "queryStringParameters": _query_params(query),
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex[:16],
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "body": text if text is not None else base64.b64encode(body).decode(),
        "isBase64Encoded": text is None,
    }
    if path_parameters:  # API Gateway leaves the key out when the route has no parameters
        event["pathParameters"] = path_parameters
    if authorizer is not None:
        event["requestContext"]["authorizer"] = authorizer
    return event


def _query_params(query: str) -> dict[str, str] | None:
    if not query:
        return None
    params: dict[str, str] = {}
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        # API Gateway joins repeated parameters with commas.
        params[key] = f"{params[key]},{value}" if key in params else value
    return params


class HttpApiEmulator:
    """The template's HTTP API on a loopback port: route matching, JWT authorizers and CORS as API Gateway does them."""

    def __init__(
        self,
        routes: list[Route],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        cors: CorsConfiguration | None = None,
        verifier: JwtVerifier | None = None,
    ) -> None:
        self._routes = [(route, _PathTemplate.parse(route.path)) for route in routes]
        self._cors = cors
        needs_verifier = any(route.authorizer is not None for route in routes)
        if needs_verifier and verifier is None:
            raise ValueError("routes behind a JWT authorizer need a JwtVerifier (where to fetch the issuer's JWKS)")
        self._verifier = verifier
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                emulator._serve(self)

            def do_POST(self) -> None:
                emulator._serve(self)

            def do_PUT(self) -> None:
                emulator._serve(self)

            def do_DELETE(self) -> None:
                emulator._serve(self)

            def do_PATCH(self) -> None:
                emulator._serve(self)

            def do_OPTIONS(self) -> None:
                emulator._serve(self)

            def do_HEAD(self) -> None:
                emulator._serve(self)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = LocalThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="http-api", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route API Gateway would pick for ``method path``, with its path parameters (None: 404)."""
        candidates: list[tuple[tuple[int, int, int, int], Route, dict[str, str]]] = []
        for route, template in self._routes:
            if route.method not in ("ANY", method):
                continue
            parameters = template.match(path)
            if parameters is not None:
                # The most specific route wins: literal paths, then more literal segments, then single-segment
                # parameters over greedy ones, then a route for the method over ANY; $default comes last.
                rank = (template.is_default, template.greedy, -template.literals, route.method == "ANY")
                candidates.append((rank, route, parameters))
        if not candidates:
            return None
        _, route, parameters = min(candidates, key=lambda candidate: candidate[0])
        return route, parameters

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        split = urlsplit(request.path)
        length = int(request.headers.get("content-length") or 0)
        body = request.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in request.headers.items()}
        cors_headers = _cors_headers(self._cors, headers)
        if request.command == "OPTIONS" and self._cors is not None:
            # API Gateway answers preflights itself, for any path, before routes and authorizers.
            self._respond(request, 204, _preflight_headers(self._cors, headers), b"")
            return
        matched = self.match(request.command, split.path)
        if matched is None:
            self._respond(
                request, 404, {"Content-Type": "application/json", **cors_headers}, b'{"message":"Not Found"}'
            )
            return
        route, path_parameters = matched
        authorizer_context: dict[str, Any] | None = None
        if route.authorizer is not None:
            assert self._verifier is not None
            try:
                authorizer_context = self._verifier.authorize(
                    route.authorizer, _identity(route.authorizer, headers, split.query), route.authorization_scopes
                )
            except JwtRejectedError as rejection:
                log.info("route %s: token refused (%s)", route.route_key, rejection.reason)
                self._respond(
                    request,
                    rejection.status,
                    {"Content-Type": "application/json", **rejection.headers, **cors_headers},
                    json.dumps({"message": rejection.message}, separators=(",", ":")).encode(),
                )
                return
        event = api_gateway_v2_event(
            method=request.command,
            path=split.path,
            query=split.query,
            headers=headers,
            body=body,
            source_ip=request.client_address[0],
            domain=headers.get("host", "127.0.0.1"),
            route_key=route.route_key,
            path_parameters=path_parameters,
            authorizer=authorizer_context,
        )
        try:
            result = route.function.invoke(event, timeout=30)
        except Exception as error:  # what API Gateway answers when the integration fails
            log.error("route %s failed: %s", route.route_key, type(error).__name__)
            self._respond(
                request,
                500,
                {"Content-Type": "application/json", **cors_headers},
                b'{"message":"Internal Server Error"}',
            )
            return
        status, response_headers, response_body = _http_response_of(result)
        if self._cors is not None:
            # With a CorsConfiguration, API Gateway replaces whatever CORS headers the integration returned.
            response_headers = {
                name: value
                for name, value in response_headers.items()
                if not name.lower().startswith("access-control-")
            }
        self._respond(request, status, {**response_headers, **cors_headers}, response_body)

    @staticmethod
    def _respond(request: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes) -> None:
        request.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "connection"):
                request.send_header(name, value)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(body)


@dataclass(frozen=True)
class _PathTemplate:
    """A route path as API Gateway reads it: literal segments, ``{name}`` (one segment), ``{name+}`` (the rest)."""

    segments: tuple[str, ...]
    is_default: bool
    greedy: bool
    literals: int

    @classmethod
    def parse(cls, path: str) -> _PathTemplate:
        if path == "$default":
            return cls((), True, True, 0)
        segments = tuple(path.strip("/").split("/")) if path.strip("/") else ()
        for index, segment in enumerate(segments):
            if segment.endswith("+}") and index != len(segments) - 1:
                raise ValueError(f"{path}: a greedy path variable must be the last segment")
        greedy = bool(segments) and segments[-1].endswith("+}")
        literals = sum(1 for segment in segments if not segment.startswith("{"))
        return cls(segments, False, greedy, literals)

    def match(self, path: str) -> dict[str, str] | None:
        if self.is_default:
            return {}
        parts = path.strip("/").split("/") if path.strip("/") else []
        parameters: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            if segment.startswith("{") and segment.endswith("+}"):
                rest = parts[index:]
                if not rest or not all(rest):  # a greedy variable takes one or more non-empty segments
                    return None
                parameters[segment[1:-2]] = unquote("/".join(rest))
                return parameters
            if index >= len(parts):
                return None
            if segment.startswith("{") and segment.endswith("}"):
                if not parts[index]:
                    return None
                parameters[segment[1:-1]] = unquote(parts[index])
            elif segment != parts[index]:
                return None
        return parameters if len(parts) == len(self.segments) else None


# ---------------------------------------------------------------------------------------------------- CORS


def _allowed_origin(cors: CorsConfiguration, origin: str | None) -> str | None:
    if not origin:
        return None
    if "*" in cors.allow_origins and not cors.allow_credentials:
        return "*"
    return origin if origin in cors.allow_origins or "*" in cors.allow_origins else None


def _cors_headers(cors: CorsConfiguration | None, request_headers: dict[str, str]) -> dict[str, str]:
    """The CORS headers API Gateway adds to an actual response (only for a request with an allowed Origin)."""
    if cors is None:
        return {}
    origin = _allowed_origin(cors, request_headers.get("origin"))
    if origin is None:
        return {}
    headers = {"Access-Control-Allow-Origin": origin}
    if origin != "*":
        headers["Vary"] = "Origin"
    if cors.expose_headers:
        headers["Access-Control-Expose-Headers"] = ",".join(cors.expose_headers)
    if cors.allow_credentials:
        headers["Access-Control-Allow-Credentials"] = "true"
    return headers


def _preflight_headers(cors: CorsConfiguration, request_headers: dict[str, str]) -> dict[str, str]:
    """API Gateway's answer to a preflight: the allowed origin, methods and headers (nothing for other origins)."""
    headers = _cors_headers(cors, request_headers)
    if not headers:
        return {}
    requested_method = request_headers.get("access-control-request-method", "")
    requested_headers = request_headers.get("access-control-request-headers", "")
    methods = ",".join(cors.allow_methods)
    headers["Access-Control-Allow-Methods"] = requested_method if "*" in cors.allow_methods else methods
    if cors.allow_headers:
        allowed = ",".join(cors.allow_headers)
        headers["Access-Control-Allow-Headers"] = requested_headers if "*" in cors.allow_headers else allowed
    if cors.max_age is not None:
        headers["Access-Control-Max-Age"] = str(cors.max_age)
    return headers


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


def _identity(authorizer: JwtAuthorizer, headers: dict[str, str], query: str) -> str | None:
    """The token from the authorizer's identity source (``$request.header.X`` or ``$request.querystring.X``)."""
    source = authorizer.identity_source.split(",")[0].strip()
    if source.startswith("$request.header."):
        value = headers.get(source.removeprefix("$request.header.").lower())
    elif source.startswith("$request.querystring."):
        value = (_query_params(query) or {}).get(source.removeprefix("$request.querystring."))
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


def _http_response_of(result: Any) -> tuple[int, dict[str, str], bytes]:
    """Turn a handler's return value into an HTTP response the way HTTP APIs (payload 2.0) do."""
    if isinstance(result, dict) and "statusCode" in result:
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
        return int(result["statusCode"]), {str(k): str(v) for k, v in (result.get("headers") or {}).items()}, raw
    # A bare value is JSON with 200 (API Gateway's inferred format).
    return 200, {"Content-Type": "application/json"}, json.dumps(result).encode()


class SqsEventSourcePoller:
    """One SQS event source mapping: receive, invoke with an SQS event, delete what succeeded."""

    def __init__(
        self,
        *,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        region: str,
        batch_size: int,
        report_batch_item_failures: bool,
        function: FunctionEndpoint,
        wait_seconds: int = 1,
        on_batch: Callable[[int, int], None] | None = None,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._queue_arn = queue_arn
        self._region = region
        # A single ReceiveMessage returns at most 10; Lambda batches beyond 10 only with a batching window.
        self._batch_size = max(1, min(batch_size, 10))
        self._report_failures = report_batch_item_failures
        self._function = function
        self._wait_seconds = wait_seconds
        self._on_batch = on_batch
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sqs-{function.logical_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._wait_seconds + 5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._poll_once()
            except Exception as error:  # keep polling: a moto hiccup must not stop the line
                log.warning("poller %s: %s", self._function.logical_id, type(error).__name__)
                self._stop.wait(0.5)

    def _poll_once(self) -> None:
        messages = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=self._wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return
        event = {"Records": [self._record(message) for message in messages]}
        try:
            result = self._function.invoke(event)
        except Exception as error:
            # The whole batch failed: nothing is deleted, every message comes back after its visibility timeout.
            log.warning("function %s failed a batch of %d: %s", self._function.logical_id, len(messages), error)
            self._report(len(messages), len(messages))
            return
        failed_ids: set[str] = set()
        if self._report_failures and isinstance(result, dict):
            failed_ids = {item["itemIdentifier"] for item in result.get("batchItemFailures") or []}
        done = [message for message in messages if message["MessageId"] not in failed_ids]
        for start in range(0, len(done), 10):
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                    for index, message in enumerate(done[start : start + 10])
                ],
            )
        self._report(len(messages), len(failed_ids))

    def _report(self, received: int, failed: int) -> None:
        if self._on_batch:
            self._on_batch(received, failed)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        body = message["Body"]
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": body,
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": self._queue_arn,
            "awsRegion": self._region,
        }


def wait_until(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


# ---------------------------------------------------------------------------------------------------- WebSocket


def websocket_event(
    *,
    route_key: str,
    connection_id: str,
    domain: str,
    stage: str,
    api_id: str,
    connected_at_ms: int,
    source_ip: str = "127.0.0.1",
    user_agent: str = "",
    headers: dict[str, str] | None = None,
    query: str = "",
    body: str | None = None,
    disconnect_status_code: int | None = None,
    disconnect_reason: str = "",
) -> dict[str, Any]:
    """A WebSocket API event as API Gateway builds it for a Lambda proxy integration.

    ``$connect`` carries the upgrade request's headers and query string; ``$disconnect`` a status code and reason;
    any other route (a message) its ``body``, with no headers.
    """
    now = datetime.now(UTC)
    event_type = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route_key, "MESSAGE")
    context: dict[str, Any] = {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": uuid.uuid4().hex[:16] + "=",
        "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "messageDirection": "IN",
        "stage": stage,
        "connectedAt": connected_at_ms,
        "requestTimeEpoch": int(now.timestamp() * 1000),
        "identity": {"sourceIp": source_ip, **({"userAgent": user_agent} if user_agent else {})},
        "requestId": uuid.uuid4().hex[:16] + "=",
        "domainName": domain,
        "connectionId": connection_id,
        "apiId": api_id,
    }
    event: dict[str, Any] = {"requestContext": context, "isBase64Encoded": False}
    if event_type == "CONNECT":
        params = _query_params(query)
        event["headers"] = dict(headers or {})
        event["multiValueHeaders"] = {name: [value] for name, value in (headers or {}).items()}
        if params:  # API Gateway leaves both keys out when there is no query string
            event["queryStringParameters"] = params
            event["multiValueQueryStringParameters"] = {name: value.split(",") for name, value in params.items()}
    elif event_type == "DISCONNECT":
        event["headers"] = dict(headers or {})
        event["multiValueHeaders"] = {name: [value] for name, value in (headers or {}).items()}
        context["disconnectStatusCode"] = disconnect_status_code if disconnect_status_code is not None else 1005
        context["disconnectReason"] = disconnect_reason
    else:
        context["messageId"] = uuid.uuid4().hex[:16] + "="
        event["body"] = body or ""
    return event


def _new_connection_id() -> str:
    # API Gateway's look: 12 base64 characters and "=", nothing that needs quoting beyond "=".
    return base64.b64encode(os.urandom(11)).decode().replace("+", "A").replace("/", "B")


@dataclass
class _Socket:
    connection: ServerConnection
    connection_id: str
    connected_at_ms: int
    source_ip: str
    user_agent: str


class WebSocketApiEmulator:
    """A template's WebSocket API on loopback, and the management API its functions post to.

    - ``ws://127.0.0.1:PORT`` (``.url``): an upgrade invokes the ``$connect`` route's function with a real-shaped
      event and is refused with the function's status if that isn't 2xx; each message goes to the route the
      API's selection expression (``$request.body.<field>``) picks, else ``$default``; a close invokes
      ``$disconnect``.
    - ``http://127.0.0.1:PORT2/{stage}`` (``.callback_url``): ``POST /@connections/{id}`` sends the raw body to that
      socket (a text frame when it is UTF-8), ``GET`` describes it, ``DELETE`` closes it; an unknown or closed id
      answers 410 ``GoneException`` as API Gateway does.
    """

    def __init__(
        self,
        routes: dict[str, FunctionEndpoint],
        *,
        stage: str,
        api_id: str = "local",
        route_selection_expression: str = "$request.body.action",
        host: str = "127.0.0.1",
        port: int = 0,
        management_port: int = 0,
    ) -> None:
        self._routes = routes
        self._stage = stage
        self._api_id = api_id
        self._selection_field = route_selection_expression.removeprefix("$request.body.")
        self._host = host
        self._port = port
        self._sockets: dict[str, _Socket] = {}
        self._admitted: dict[ServerConnection, tuple[str, int]] = {}
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._startup_error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="websocket-api", daemon=True)
        self._management = LocalThreadingHTTPServer((host, management_port), self._management_handler())
        self._management_thread = threading.Thread(
            target=self._management.serve_forever, name="websocket-management", daemon=True
        )

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        return f"ws://{self._host}:{self._port}"

    @property
    def callback_url(self) -> str:
        return f"http://{self._host}:{self._management.server_address[1]}/{self._stage}"

    @property
    def connection_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._sockets)

    def start(self) -> None:
        self._management_thread.start()
        self._thread.start()
        self._ready.wait(10)
        if self._startup_error is not None:
            raise self._startup_error

    def stop(self) -> None:
        if self._stopping is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join(timeout=10)
        self._management.shutdown()
        self._management.server_close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as error:
            self._startup_error = error
            self._ready.set()
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        async with serve(self._session, self._host, self._port, process_request=self._admit) as server:
            self._port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stopping.wait()

    # ------------------------------------------------------------------ the routes
    async def _admit(self, connection: ServerConnection, request: Request) -> Response | None:
        """$connect: the function decides whether the upgrade goes ahead."""
        connection_id = _new_connection_id()
        connected_at_ms = int(time.time() * 1000)
        query = urlsplit(request.path).query
        headers = dict(request.headers.raw_items())
        source_ip = str(connection.remote_address[0]) if connection.remote_address else "127.0.0.1"
        event = self._event(
            "$connect",
            connection_id,
            connected_at_ms,
            source_ip=source_ip,
            user_agent=request.headers.get("User-Agent", ""),
            headers={**headers, "X-Forwarded-For": source_ip, "X-Forwarded-Port": "443", "X-Forwarded-Proto": "https"},
            query=query,
        )
        status = await self._invoke_for_status("$connect", event)
        if not 200 <= status < 300:
            return connection.respond(status, "Unauthorized" if status == 401 else "Forbidden")
        self._admitted[connection] = (connection_id, connected_at_ms)
        return None

    async def _session(self, connection: ServerConnection) -> None:
        connection_id, connected_at_ms = self._admitted.pop(connection)
        request = connection.request
        socket = _Socket(
            connection=connection,
            connection_id=connection_id,
            connected_at_ms=connected_at_ms,
            source_ip=str(connection.remote_address[0]) if connection.remote_address else "127.0.0.1",
            user_agent=(request.headers.get("User-Agent", "") if request else ""),
        )
        with self._lock:
            self._sockets[connection_id] = socket
        try:
            async for message in connection:
                body = message if isinstance(message, str) else message.decode(errors="replace")
                route_key = self._route_for(body)
                if route_key is None:
                    continue
                event = self._event(route_key, connection_id, connected_at_ms, body=body)
                await self._invoke_for_status(route_key, event)
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self._sockets.pop(connection_id, None)
            event = self._event(
                "$disconnect",
                connection_id,
                connected_at_ms,
                headers={"Host": f"{self._host}:{self._port}", "X-Forwarded-For": socket.source_ip},
                disconnect_status_code=connection.close_code if connection.close_code is not None else 1006,
                disconnect_reason=connection.close_reason or "",
            )
            await self._invoke_for_status("$disconnect", event)

    def _route_for(self, body: str) -> str | None:
        """The route API Gateway's selection expression picks for a message, else ``$default`` (None: no route)."""
        with contextlib.suppress(ValueError):
            parsed = json.loads(body)
            selected = parsed.get(self._selection_field) if isinstance(parsed, dict) else None
            if isinstance(selected, str) and selected in self._routes and not selected.startswith("$"):
                return selected
        return "$default" if "$default" in self._routes else None

    def _event(self, route_key: str, connection_id: str, connected_at_ms: int, **details: Any) -> dict[str, Any]:
        return websocket_event(
            route_key=route_key,
            connection_id=connection_id,
            domain=f"{self._host}:{self._port}",
            stage=self._stage,
            api_id=self._api_id,
            connected_at_ms=connected_at_ms,
            **details,
        )

    async def _invoke_for_status(self, route_key: str, event: dict[str, Any]) -> int:
        """Invoke the route's function; its statusCode (a bare or empty answer counts as 200, an error as 500)."""
        function = self._routes.get(route_key)
        if function is None:
            return 200 if route_key == "$disconnect" else 403
        try:
            result = await asyncio.to_thread(function.invoke, event, 30)
        except Exception as error:
            log.warning("websocket route %s failed: %s", route_key, type(error).__name__)
            return 500
        if isinstance(result, dict) and "statusCode" in result:
            return int(result["statusCode"])
        return 200

    # ------------------------------------------------------------------ the management API
    def _send(self, connection_id: str, data: bytes) -> bool:
        with self._lock:
            socket = self._sockets.get(connection_id)
        if socket is None:
            return False
        try:
            text = data.decode()
        except UnicodeDecodeError:
            frame: str | bytes = data
        else:
            frame = text
        future = asyncio.run_coroutine_threadsafe(socket.connection.send(frame), self._loop)
        try:
            future.result(timeout=5)
        except Exception:
            return False
        return True

    def _close(self, connection_id: str) -> bool:
        with self._lock:
            socket = self._sockets.get(connection_id)
        if socket is None:
            return False
        asyncio.run_coroutine_threadsafe(socket.connection.close(1000, "closed by the line"), self._loop)
        return True

    def _describe(self, connection_id: str) -> dict[str, Any] | None:
        with self._lock:
            socket = self._sockets.get(connection_id)
        if socket is None:
            return None
        connected = datetime.fromtimestamp(socket.connected_at_ms / 1000, UTC).isoformat().replace("+00:00", "Z")
        return {
            "ConnectedAt": connected,
            "Identity": {"SourceIp": socket.source_ip, "UserAgent": socket.user_agent},
            "LastActiveAt": connected,
        }

    def _management_handler(self) -> type[BaseHTTPRequestHandler]:
        emulator = self
        path_pattern = re.compile(r"^(?:/(?P<stage>[^/@]+))?/@connections/(?P<id>[^/?]+)$")

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _connection_id(self) -> str | None:
                found = path_pattern.match(urlsplit(self.path).path)
                return unquote(found["id"]) if found else None

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                data = self.rfile.read(length) if length else b""
                connection_id = self._connection_id()
                if connection_id is None:
                    self._answer(404, {"message": "Not Found"})
                elif emulator._send(connection_id, data):
                    self._answer(200, None)
                else:
                    self._gone()

            def do_GET(self) -> None:
                connection_id = self._connection_id()
                described = emulator._describe(connection_id) if connection_id else None
                if described is None:
                    self._gone()
                else:
                    self._answer(200, described)

            def do_DELETE(self) -> None:
                connection_id = self._connection_id()
                if connection_id and emulator._close(connection_id):
                    self._answer(204, None)
                else:
                    self._gone()

            def _gone(self) -> None:
                self._answer(410, {"message": None}, error_type="GoneException")

            def _answer(self, status: int, payload: Any, error_type: str | None = None) -> None:
                body = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if error_type:
                    self.send_header("x-amzn-ErrorType", error_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
