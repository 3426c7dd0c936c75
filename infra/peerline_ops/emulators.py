"""What API Gateway and Lambda's SQS event sources do, emulated on loopback for the local line.

- ``HttpApiEmulator`` serves the HTTP API routes declared in ``template.yaml`` and invokes the function behind each
  route with a real API Gateway v2 (payload 2.0) event — form bodies base64-encoded, as HTTP APIs deliver them.
- ``SqsEventSourcePoller`` polls a queue declared as a function's SQS event source and invokes the function with
  real SQS events: batch size honoured, FIFO groups in order, partial batch failures (only the reported items
  stay on the queue, to come back after the visibility timeout and go to the DLQ by the redrive policy), message
  delays honoured by SQS itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import requests

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
    method: str
    path: str
    function: FunctionEndpoint


def api_gateway_v2_event(
    *, method: str, path: str, query: str, headers: dict[str, str], body: bytes, source_ip: str, domain: str
) -> dict[str, Any]:
    """An HTTP API payload-2.0 event, as API Gateway builds it for a ``$default`` stage."""
    content_type = headers.get("content-type", "")
    is_text = any(content_type.startswith(kind) for kind in _TEXT_TYPES)
    now = datetime.now(UTC)
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
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
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "body": body.decode() if is_text else base64.b64encode(body).decode(),
        "isBase64Encoded": not is_text,
    }


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
    """The template's HTTP API on a loopback port."""

    def __init__(self, routes: list[Route], *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._routes = {(route.method, route.path): route for route in routes}
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

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="http-api", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        split = urlsplit(request.path)
        route = self._routes.get((request.command, split.path))
        length = int(request.headers.get("content-length") or 0)
        body = request.rfile.read(length) if length else b""
        if route is None:
            self._respond(request, 404, {"Content-Type": "application/json"}, b'{"message":"Not Found"}')
            return
        headers = {name.lower(): value for name, value in request.headers.items()}
        event = api_gateway_v2_event(
            method=request.command,
            path=split.path,
            query=split.query,
            headers=headers,
            body=body,
            source_ip=request.client_address[0],
            domain=headers.get("host", "127.0.0.1"),
        )
        try:
            result = route.function.invoke(event, timeout=30)
        except Exception as error:  # what API Gateway answers when the integration fails
            log.error("route %s %s failed: %s", route.method, route.path, type(error).__name__)
            self._respond(request, 500, {"Content-Type": "application/json"}, b'{"message":"Internal Server Error"}')
            return
        status, response_headers, response_body = _http_response_of(result)
        self._respond(request, status, response_headers, response_body)

    @staticmethod
    def _respond(request: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes) -> None:
        request.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "connection"):
                request.send_header(name, value)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)


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
