"""The Twilio fake's HTTP face: Twilio's REST paths, the phone simulator's page and its JSON endpoints."""

from __future__ import annotations

import json
import re
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import requests

from peerline.phone import is_e164

if TYPE_CHECKING:
    from peerline_local.twilio_fake import TwilioFake
from peerline_local.quiet_http import BENIGN_DISCONNECTS, LocalThreadingHTTPServer
from peerline_local.twilio_messages import (
    DEFAULT_SIMULATED_TEXTER,
    InboundWebhookNotConfiguredError,
    TwilioApiError,
    twilio_error_json,
)

_MESSAGES_LIST_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account_sid>[^/]+)/Messages\.json$")
_MESSAGE_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account_sid>[^/]+)/Messages/(?P<message_sid>[^/]+)\.json$")
_MEDIA_LIST_PATH = re.compile(
    r"^/2010-04-01/Accounts/(?P<account_sid>[^/]+)/Messages/(?P<message_sid>[^/]+)/Media\.json$"
)
_MEDIA_PATH = re.compile(
    r"^/2010-04-01/Accounts/(?P<account_sid>[^/]+)/Messages/(?P<message_sid>[^/]+)/Media/(?P<media_sid>[^/]+)\.json$"
)


def first_values(encoded: str) -> dict[str, str]:
    """A query string or form body as a flat dict; blank values kept, as Twilio keeps (and signs) them."""
    return {key: values[0] for key, values in parse_qs(encoded, keep_blank_values=True).items()}


class FakeHttpServer(LocalThreadingHTTPServer):
    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], fake: TwilioFake) -> None:
        self.fake = fake
        super().__init__(address, handler)


class FakeRequestHandler(BaseHTTPRequestHandler):
    """Routes each request to one small method; answers every failure as JSON, never as a traceback."""

    server: FakeHttpServer
    server_version = "TwilioFake/1.0"

    @property
    def fake(self) -> TwilioFake:
        return self.server.fake

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        # Request lines carry numbers in query strings (To=%2B1555…, number=…); route them through the masking log.
        self.fake._debug("%s %s", self.address_string(), format % args)

    # ------------------------------------------------------------------ routing
    def _dispatch(self, method: str) -> None:
        split = urlsplit(self.path)
        self._query = first_values(split.query)
        try:
            route = self._route(method, split.path)
            if route is None:
                raise TwilioApiError(404, 20404, f"The requested resource {split.path} was not found")
            route()
        except BENIGN_DISCONNECTS:
            raise  # the client went away mid-answer: the server logs that as one line, not as a failure
        except TwilioApiError as error:
            self._send_json(error.status, error.as_json(), headers=error.headers)
        except Exception:
            self.fake._error("%s %s failed:\n%s", method, split.path, traceback.format_exc())
            self._send_json(500, twilio_error_json(500, None, "The Twilio fake failed; see its log."))

    def _route(self, method: str, path: str) -> Callable[[], None] | None:
        if match := _MESSAGES_LIST_PATH.match(path):
            account_sid = match["account_sid"]
            routes = {
                "POST": lambda: self._create_message(account_sid),
                "GET": lambda: self._list_messages(account_sid),
            }
            return routes.get(method)
        if match := _MESSAGE_PATH.match(path):
            account_sid, message_sid = match["account_sid"], match["message_sid"]
            routes = {
                "GET": lambda: self._fetch_message(account_sid, message_sid),
                "DELETE": lambda: self._delete_message(account_sid, message_sid),
            }
            return routes.get(method)
        if (match := _MEDIA_LIST_PATH.match(path)) and method == "GET":
            account_sid, message_sid = match["account_sid"], match["message_sid"]
            return lambda: self._list_media(account_sid, message_sid)
        if (match := _MEDIA_PATH.match(path)) and method == "DELETE":
            account_sid, message_sid, media_sid = match["account_sid"], match["message_sid"], match["media_sid"]
            return lambda: self._delete_media(account_sid, message_sid, media_sid)
        fixed_routes: dict[tuple[str, str], Callable[[], None]] = {
            ("GET", "/simulator"): self._simulator_page,
            ("GET", "/simulator/"): self._simulator_page,
            ("GET", "/simulator/api/line"): self._simulator_line,
            ("GET", "/simulator/api/messages"): self._simulator_messages,
            ("GET", "/simulator/api/numbers"): self._simulator_numbers,
            ("POST", "/simulator/api/send"): self._simulator_send,
            ("POST", "/_fake/faults"): self._inject_fault,
            ("DELETE", "/_fake/faults"): self._clear_faults,
        }
        return fixed_routes.get((method, path))

    # ------------------------------------------------------------------ REST API routes
    def _create_message(self, account_sid: str) -> None:
        self.fake.check_basic_auth(self.headers.get("Authorization"))
        form = first_values(self._read_body().decode("utf-8", errors="replace"))
        message = self.fake.create_message(account_sid, form)
        self._send_json(201, message.as_twilio_json())

    def _list_messages(self, account_sid: str) -> None:
        self.fake.check_basic_auth(self.headers.get("Authorization"))
        self._send_json(200, self.fake.list_messages(account_sid, self._query))

    def _fetch_message(self, account_sid: str, message_sid: str) -> None:
        self.fake.check_basic_auth(self.headers.get("Authorization"))
        self._send_json(200, self.fake.fetch_message(account_sid, message_sid))

    def _delete_message(self, account_sid: str, message_sid: str) -> None:
        self.fake.check_basic_auth(self.headers.get("Authorization"))
        self.fake.delete_message(account_sid, message_sid)
        self._send_no_content()

    def _list_media(self, account_sid: str, message_sid: str) -> None:
        self.fake.check_basic_auth(self.headers.get("Authorization"))
        self._send_json(200, self.fake.list_media(account_sid, message_sid, self._query))

    def _delete_media(self, account_sid: str, message_sid: str, media_sid: str) -> None:
        self.fake.check_basic_auth(self.headers.get("Authorization"))
        self.fake.delete_media(account_sid, message_sid, media_sid)
        self._send_no_content()

    # ------------------------------------------------------------------ simulator routes
    def _simulator_page(self) -> None:
        # Read on every request, so editing the page needs a browser refresh, not a restart.
        page = resources.files("peerline_local").joinpath("static/simulator.html").read_bytes()
        self._send(200, page, "text/html; charset=utf-8")

    def _simulator_line(self) -> None:
        self._send_json(200, {"line_number": self.fake.line_number, "default_number": DEFAULT_SIMULATED_TEXTER})

    def _simulator_messages(self) -> None:
        number = self._query.get("number", "")
        if not is_e164(number):
            self._send_json(400, {"error": "number must be an E.164 phone number, like +15555550100"})
            return
        self._send_json(200, self.fake.simulator_thread(number))

    def _simulator_numbers(self) -> None:
        self._send_json(200, {"numbers": self.fake.phone_numbers()})

    def _simulator_send(self) -> None:
        payload = self._read_json()
        from_number = str(payload.get("from", "")).strip()
        body = str(payload.get("body", ""))
        if not is_e164(from_number):
            self._send_json(400, {"ok": False, "error": "Your number must be in E.164 form, like +15555550100."})
            return
        if not body.strip():
            self._send_json(400, {"ok": False, "error": "Type a message first."})
            return
        try:
            response = self.fake.send_inbound(from_number, body)
        except InboundWebhookNotConfiguredError:
            self._send_json(502, {"ok": False, "error": "The line's inbound webhook URL is not set yet."})
            return
        except requests.RequestException as error:
            self.fake._warning("inbound webhook unreachable: %s", error)
            self._send_json(502, {"ok": False, "error": "The line did not answer its inbound webhook. Is it running?"})
            return
        self._send_json(200, {"ok": response.ok, "webhook_status": response.status_code})

    # ------------------------------------------------------------------ fault routes
    def _inject_fault(self) -> None:
        payload = self._read_json()
        try:
            self.fake.inject_fault(
                status=int(payload["status"]),
                code=int(payload["code"]) if payload.get("code") is not None else None,
                message=str(payload.get("message", "")),
                count=int(payload.get("count", 1)),
                to=payload.get("to") or None,
            )
        except (KeyError, TypeError, ValueError) as error:
            self._send_json(400, {"ok": False, "error": f"invalid fault: {error!r}"})
            return
        self._send_json(201, {"ok": True})

    def _clear_faults(self) -> None:
        self.fake.clear_faults()
        self._send_json(200, {"ok": True})

    # ------------------------------------------------------------------ plumbing
    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_json(self) -> dict[str, Any]:
        try:
            payload = json.loads(self._read_body() or b"{}")
        except json.JSONDecodeError as error:
            raise TwilioApiError(400, None, "The request body is not valid JSON.") from error
        if not isinstance(payload, dict):
            raise TwilioApiError(400, None, "The request body must be a JSON object.")
        return payload

    def _send_json(self, status: int, payload: Any, *, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", headers=headers)

    def _send_no_content(self) -> None:
        """Twilio's answer to a successful DELETE: 204 and no body."""
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, status: int, body: bytes, content_type: str, *, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
