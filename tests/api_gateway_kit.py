"""Calling the template's HTTP API in-process as API Gateway would: the route (and so the function) it picks, the
JWT claims its authorizer passes on, and the handler's answer (importable from any test folder)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import requests

from peerline_local.emulators import FunctionEndpoint, HttpApiEmulator, JwtVerifier, Route, api_gateway_v2_event


def template_routes(stack: Any) -> HttpApiEmulator:
    """The template's HTTP API routes, to pick the function API Gateway would (never started: nothing is served)."""
    routes = [
        Route(
            route.method,
            route.path,
            FunctionEndpoint(route.function_logical_id, "http://unused", requests.Session()),
            authorizer=stack.http_authorizers[route.authorizer] if route.authorizer else None,
        )
        for route in stack.http_routes
    ]
    return HttpApiEmulator(routes, verifier=JwtVerifier(lambda issuer: "http://unused"))


def call_api(
    routes: HttpApiEmulator,
    as_function: Callable[..., Any],
    lambda_context: Any,
    method: str,
    path: str,
    *,
    sub: str | None,
    body: Any = None,
    **environment: str,
) -> tuple[int, Any]:
    """(status, parsed body) of ``method path`` as the caller ``sub`` (no claims when None), through the function
    API Gateway routes it to, under its template environment (plus ``environment``)."""
    raw = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    path, _, query = path.partition("?")
    event = api_gateway_v2_event(
        method=method,
        path=path,
        query=query,
        headers={"content-type": "application/json", "host": "api.example.org"},
        body=raw,
        source_ip="127.0.0.1",
        domain="api.example.org",
    )
    matched = routes.match(method, path)
    assert matched is not None, f"no route for {method} {path}"
    route, event["pathParameters"] = matched
    event["routeKey"] = event["requestContext"]["routeKey"] = route.route_key
    if sub is not None:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": {"sub": sub}, "scopes": None}}
    with as_function(route.function.logical_id, **environment) as handler:
        response = handler.lambda_handler(event, lambda_context)
    payload = response.get("body") or ""
    return int(response["statusCode"]), json.loads(payload) if payload else None
