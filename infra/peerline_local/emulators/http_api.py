"""The template's HTTP API on loopback: API Gateway's route matching, JWT authorizers and CORS."""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote, urlsplit

from peerline_local.emulators.endpoint import FunctionEndpoint
from peerline_local.emulators.events import api_gateway_v2_event
from peerline_local.emulators.jwt_auth import JwtRejectedError, JwtVerifier, identity_token
from peerline_local.loopback import LoopbackServer
from peerline_local.quiet_http import LocalThreadingHTTPServer
from peerline_local.stack import CorsConfiguration, JwtAuthorizer

log = logging.getLogger("peerline.local")


# The methods an HTTP API route can have (besides ANY, which stands for all of them).
ROUTE_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


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




class HttpApiEmulator(LoopbackServer):
    """The template's HTTP API on a loopback port: route matching, JWT authorizers and CORS as API Gateway does them."""

    thread_name = "http-api"

    def __init__(
        self,
        routes: list[Route],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        cors: CorsConfiguration | None = None,
        verifier: JwtVerifier | None = None,
    ) -> None:
        super().__init__(host, port)
        self.route(routes, cors=cors, verifier=verifier)

    def route(
        self, routes: list[Route], *, cors: CorsConfiguration | None = None, verifier: JwtVerifier | None = None
    ) -> None:
        """Serve ``routes`` from now on (the local line binds its API first: the template needs its URL)."""
        needs_verifier = any(route.authorizer is not None for route in routes)
        if needs_verifier and verifier is None:
            raise ValueError("routes behind a JWT authorizer need a JwtVerifier (where to fetch the issuer's JWKS)")
        self._cors = cors
        self._verifier = verifier
        self._routes = [(route, _PathTemplate.parse(route.path)) for route in routes]

    def _bind(self, port: int) -> LocalThreadingHTTPServer:
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

            def __getattr__(self, name: str) -> Any:
                # Any other method (TRACE, CONNECT, PROPFIND…) is answered as API Gateway does, not with a 501.
                if name.startswith("do_"):
                    return lambda: emulator._serve(self)
                raise AttributeError(name)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return LocalThreadingHTTPServer((self._host, port), Handler)

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
        # No route can have a method outside API Gateway's (TRACE, CONNECT…): answered like any unmatched route.
        matched = self.match(request.command, split.path) if request.command in ROUTE_METHODS else None
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
                    route.authorizer, identity_token(route.authorizer, headers, split.query), route.authorization_scopes
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




def _http_response_of(result: Any) -> tuple[int, dict[str, str], bytes]:
    """Turn a handler's return value into an HTTP response the way HTTP APIs (payload 2.0) do."""
    if isinstance(result, dict) and "statusCode" in result:
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
        return int(result["statusCode"]), {str(k): str(v) for k, v in (result.get("headers") or {}).items()}, raw
    # A bare value is JSON with 200 (API Gateway's inferred format).
    return 200, {"Content-Type": "application/json"}, json.dumps(result).encode()
