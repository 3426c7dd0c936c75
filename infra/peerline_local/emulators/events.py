"""Real-shaped API Gateway events: HTTP API (payload 2.0) requests and WebSocket API route events."""

from __future__ import annotations

import base64
import contextlib
import os
import uuid
from datetime import UTC, datetime
from typing import Any

_TEXT_TYPES = ("application/json", "text/", "application/xml", "application/javascript")

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
        "queryStringParameters": query_params(query),
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


def query_params(query: str) -> dict[str, str] | None:
    if not query:
        return None
    params: dict[str, str] = {}
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        # API Gateway joins repeated parameters with commas.
        params[key] = f"{params[key]},{value}" if key in params else value
    return params



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
        params = query_params(query)
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
