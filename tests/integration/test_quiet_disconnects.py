"""The local line's HTTP servers, over real sockets: a client that goes away is one debug line, not a traceback,
while a request that really fails still logs its (masked) traceback."""

from __future__ import annotations

import logging
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from handler_kit import ROOT

from peerline_local.dashboard_server import DashboardServer
from peerline_local.emulators import HttpApiEmulator, WebSocketApiEmulator, wait_until
from peerline_local.quiet_http import LocalHTTPServer, LocalThreadingHTTPServer
from peerline_local.twilio_fake import TwilioFake

HTTP_LOG = "peerline_local.http"
# A request cut off by the client: headers announce a body that never comes, so the server is still reading when
# the reset arrives (deterministic, unlike a reset racing the server's answer).
CUT_OFF_POST = b"POST /local/@connections/abc HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{"
# The Twilio fake reads the body of a fault injection inside its own error handling (which used to log a traceback).
CUT_OFF_FAULT = b"POST /_fake/faults HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{"
# The dashboard reads no bodies: cut its request off in the middle of the headers instead.
CUT_OFF_HEADERS = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"


@contextmanager
def http_api() -> Iterator[str]:
    api = HttpApiEmulator([])
    api.start()
    try:
        yield api.url
    finally:
        api.stop()


@contextmanager
def twilio_fake() -> Iterator[str]:
    with TwilioFake(account_sid="AC" + "0" * 32, auth_token="token", line_number="+15555550000") as fake:
        yield fake.url


@contextmanager
def dashboard() -> Iterator[str]:
    with DashboardServer(ROOT / "dashboard", {"region": "us-east-1"}) as server:
        yield server.url


@contextmanager
def websocket_management_api() -> Iterator[str]:
    emulator = WebSocketApiEmulator({}, stage="local")
    emulator.start()
    try:
        yield emulator.callback_url
    finally:
        emulator.stop()


@contextmanager
def function_host_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))

    server = LocalHTTPServer(("127.0.0.1", 0), Handler)
    with _serving(server) as url:
        yield url


@contextmanager
def _serving(server: Any) -> Iterator[str]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _send_then_reset(url: str, request: bytes) -> None:
    """Send ``request`` and drop the connection with a TCP reset, as a closed browser tab can."""
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    with socket.create_connection((host, int(port))) as client:
        client.sendall(request)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@pytest.mark.parametrize(
    ("start_server", "request_bytes"),
    [
        (http_api, CUT_OFF_POST),
        (twilio_fake, CUT_OFF_FAULT),
        (dashboard, CUT_OFF_HEADERS),
        (websocket_management_api, CUT_OFF_POST),
        (function_host_server, CUT_OFF_POST),
    ],
    ids=["http-api", "twilio-fake", "dashboard", "websocket-management", "single-threaded-function-host"],
)
def test_a_client_that_goes_away_is_one_debug_line_without_a_traceback(
    start_server: Callable[[], AbstractContextManager[str]],
    request_bytes: bytes,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    with start_server() as url:
        # given a client that sends part of a request
        # when it resets the connection
        _send_then_reset(url, request_bytes)

        # then the server notes it in one debug line
        noted = wait_until(lambda: any("went away" in r.getMessage() for r in caplog.records), timeout=10)
    assert noted, [record.getMessage() for record in caplog.records]
    went_away = [record for record in caplog.records if "went away" in record.getMessage()]
    assert [record.levelno for record in went_away] == [logging.DEBUG]
    assert "ConnectionResetError" in went_away[0].getMessage()
    assert "\n" not in went_away[0].getMessage()
    # and nothing else: no traceback on stderr or in the log, no error
    assert "Traceback" not in capfd.readouterr().err
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert not [record for record in caplog.records if "Traceback" in record.getMessage()]


def test_a_request_that_really_fails_still_logs_its_traceback_with_numbers_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given a server whose handler fails for a reason of its own
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            raise RuntimeError("could not text +15555550001")

    caplog.set_level(logging.DEBUG, logger=HTTP_LOG)
    with _serving(LocalThreadingHTTPServer(("127.0.0.1", 0), Handler)) as url:
        # when a client asks it something and waits for the server to hang up (it logs the failure before that)
        host, port = url.split("//", 1)[1].split(":")
        with socket.create_connection((host, int(port))) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert client.recv(1024) == b""

    # then the failure is logged as an error with its traceback, and the number in it masked
    assert [record.levelno for record in caplog.records] == [logging.ERROR]
    error = next(record for record in caplog.records if record.levelno == logging.ERROR)
    message = error.getMessage()
    assert "Traceback" in message and "RuntimeError: could not text +1•••••0001" in message
    assert "5555550001" not in message
