"""A local stand-in for Twilio's Programmable Messaging: the REST API, signed webhooks and a phone simulator.

The local line points the real ``twilio`` client at this fake (``client.api.base_url = fake.url``), so the sender
function runs the same code it runs in production. The fake answers ``Messages.json`` like Twilio does (same JSON,
same error codes, HTTP basic auth), posts signed status callbacks (queued → sent → delivered), posts signed inbound
webhooks for simulated texters, and serves ``/simulator``: a page where a developer plays the texter.

Stdlib HTTP only, so it starts in milliseconds and needs nothing but the packages the line already uses. It never
logs a message body and masks every phone number in its log lines.
"""

from __future__ import annotations

import heapq
import hmac
import http
import itertools
import logging
import threading
import time
import traceback
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree

import requests
from twilio.request_validator import RequestValidator

from peerline.phone import is_e164, mask_phone_numbers
from peerline_local.loopback import bind_preferring
from peerline_local.twilio_http import FakeHttpServer, FakeRequestHandler
from peerline_local.twilio_messages import (
    API_VERSION,
    DEFAULT_SIMULATED_TEXTER,
    FINAL_STATUSES,
    Fault,
    InboundWebhookNotConfiguredError,
    StatusStep,
    StoredMedia,
    StoredMessage,
    TwilioApiError,
    basic_credentials,
    count_segments,
    new_media_sid,
    new_message_sid,
    not_found,
)

_DEFAULT_PAGE_SIZE = 50
_MAX_PAGE_SIZE = 1000
# Twilio gives up on a webhook after 15 s; a local receiver that takes longer is broken, not slow.
_WEBHOOK_TIMEOUT_SECONDS = 15.0
_CALLBACK_STATUSES = ("queued", "sent", "delivered")

# What callers import from here: the fake, and the constants and helpers its users need.
__all__ = [
    "API_VERSION",
    "DEFAULT_SIMULATED_TEXTER",
    "InboundWebhookNotConfiguredError",
    "TwilioFake",
    "count_segments",
]


def twiml_replies(twiml: str) -> list[str]:
    """The bodies of the ``<Message>`` verbs of a webhook's TwiML answer (none for an empty or non-TwiML answer)."""
    try:
        root = ElementTree.fromstring(twiml)  # the line's own answer, on loopback
    except ElementTree.ParseError:
        return []
    if root.tag != "Response":
        return []
    replies = []
    for message in root.findall("Message"):
        body = message.find("Body")
        text = (body.text if body is not None else message.text) or ""
        if text.strip():
            replies.append(text.strip())
    return replies


class TwilioFake:
    """A Twilio-compatible messaging API, webhook sender and phone simulator on one local HTTP server.

    Args:
        account_sid: the account the fake answers for; requests for any other account get 404.
        auth_token: the token clients must present (basic auth) and that signs every webhook the fake sends.
        line_number: the line's number: the ``To`` of inbound texts, the only ``From`` outbound texts may use.
        host: interface to bind; keep it on loopback.
        port: port to bind; 0 picks a free one (read it back from ``url``).
        inbound_webhook_url: where simulated texts are posted; may be set later, once the line is up.
        inbound_fallback_url: where Twilio posts a text again when the webhook fails (an error status or no answer),
            as set on a real number's "primary handler fails"; None to have no fallback.
        status_delay_seconds: time between the queued → sent → delivered steps of every outbound message.
        log: where to log; a module logger by default.
    """

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        line_number: str,
        host: str = "127.0.0.1",
        port: int = 0,
        inbound_webhook_url: str | None = None,
        inbound_fallback_url: str | None = None,
        status_delay_seconds: float = 0.05,
        log: logging.Logger | None = None,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.line_number = line_number
        self.inbound_webhook_url = inbound_webhook_url
        self.inbound_fallback_url = inbound_fallback_url
        self.status_delay_seconds = status_delay_seconds
        self._host = host
        self._requested_port = port
        self._log = log or logging.getLogger(__name__)
        self._validator = RequestValidator(auth_token)

        self._lock = threading.Lock()
        self._messages: dict[str, StoredMessage] = {}
        self._faults: list[Fault] = []
        self._sequence = itertools.count()

        self._steps_changed = threading.Condition()
        self._steps: list[StatusStep] = []
        self._stopping = False

        self._server: FakeHttpServer | None = None
        self._server_thread: threading.Thread | None = None
        self._status_thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Bind the server and serve it (and the status-callback worker) in daemon threads."""
        if self._server is not None or self._stopping:
            raise RuntimeError("this TwilioFake has already been started; create a new one")
        self._server = bind_preferring(
            lambda port: FakeHttpServer((self._host, port), FakeRequestHandler, self), self._requested_port
        )
        self._server_thread = threading.Thread(
            target=self._server.serve_forever, name="twilio-fake-http", kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._status_thread = threading.Thread(target=self._run_status_steps, name="twilio-fake-status", daemon=True)
        self._server_thread.start()
        self._status_thread.start()
        self._info("Twilio fake listening on %s (line %s)", self.url, self.line_number)

    def stop(self) -> None:
        """Stop serving and drop any status callbacks not yet sent. Safe to call more than once."""
        with self._steps_changed:
            self._stopping = True
            self._steps.clear()
            self._steps_changed.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in (self._server_thread, self._status_thread):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=5)
        self._server_thread = self._status_thread = None

    def __enter__(self) -> TwilioFake:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL the ``/2010-04-01/...`` API hangs off, e.g. ``http://127.0.0.1:54321``."""
        if self._server is None:
            raise RuntimeError("the Twilio fake is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def simulator_url(self) -> str:
        """The phone-simulator page."""
        return f"{self.url}/simulator"

    # ------------------------------------------------------------------ driving it from tests
    def send_inbound(
        self,
        from_number: str,
        body: str,
        *,
        message_sid: str | None = None,
        extra: dict[str, str] | None = None,
        media_content_types: Sequence[str] = (),
    ) -> requests.Response:
        """Text the line as ``from_number``: post Twilio's signed inbound webhook and return the line's response.

        The text is stored first (as Twilio would have received it even if the webhook then fails), so the
        simulator shows it. Raises ``InboundWebhookNotConfiguredError`` when there is no webhook URL, and
        ``requests.RequestException`` when the webhook cannot be reached.
        """
        webhook_url = self.inbound_webhook_url
        if not webhook_url:
            raise InboundWebhookNotConfiguredError("the fake has no inbound_webhook_url to post texts to")
        sid = message_sid or new_message_sid()
        now = datetime.now(UTC)
        media = [StoredMedia(new_media_sid(), content_type, now) for content_type in media_content_types]
        self._record(
            sid=sid,
            to=self.line_number,
            from_=from_number,
            body=body,
            direction="inbound",
            status="received",
            created_at=now,
            media=media,
        )
        # An MMS: Twilio adds each item's URL and content type, numbered from 0.
        media_fields = {
            field: value
            for index, item in enumerate(media)
            for field, value in (
                (
                    f"MediaUrl{index}",
                    f"{self.url}/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}/Media/{item.sid}",
                ),
                (f"MediaContentType{index}", item.content_type),
            )
        }
        # The field set of a real Twilio messaging webhook. Location fields are blank for most numbers, and Twilio
        # signs the blank ones too, so they are sent (and signed) rather than left out.
        params = {
            "ToCountry": "US",
            "ToState": "",
            "SmsMessageSid": sid,
            "NumMedia": str(len(media)),
            "ToCity": "",
            "FromZip": "",
            "SmsSid": sid,
            "FromState": "",
            "SmsStatus": "received",
            "FromCity": "",
            "Body": body,
            "FromCountry": "US",
            "To": self.line_number,
            "ToZip": "",
            "NumSegments": str(count_segments(body)),
            "MessageSid": sid,
            "AccountSid": self.account_sid,
            "From": from_number,
            "ApiVersion": API_VERSION,
            **media_fields,
            **(extra or {}),
        }
        response = self._post_to_webhook_or_fallback(webhook_url, params)
        self._info("inbound text %s from %s → webhook answered %s", sid, from_number, response.status_code)
        if response.ok:
            for reply in twiml_replies(response.text):
                self._store_reply(to=from_number, body=reply)
        return response

    def messages(self, *, to: str | None = None, from_: str | None = None) -> list[dict[str, Any]]:
        """Every message the fake knows (outbound and inbound), newest first, in Twilio's JSON shape: what the phones
        sent and received, including messages since deleted from the account (see ``held_messages``)."""
        return [
            message.as_twilio_json()
            for message in self._matching(to=to, from_=from_, newest_first=True, held_only=False)
        ]

    def inject_fault(
        self, *, status: int, code: int | None = None, message: str = "", count: int = 1, to: str | None = None
    ) -> None:
        """Make the next ``count`` message creations (only those to ``to``, if given) fail with a Twilio error."""
        if count < 1:
            raise ValueError("count must be at least 1")
        http.HTTPStatus(status)  # rejects a status no client could understand, here rather than mid-response
        with self._lock:
            self._faults.append(Fault(status=status, code=code, message=message, remaining=count, to=to))
        self._info("fault injected: next %d create(s) → %d (code %s)", count, status, code)

    def clear_faults(self) -> None:
        """Forget every injected fault not yet used."""
        with self._lock:
            self._faults.clear()

    # ------------------------------------------------------------------ the REST API
    def create_message(self, account_sid: str, form: dict[str, str]) -> StoredMessage:
        """Handle ``POST Messages.json`` after auth: validate like Twilio does, apply faults, store, schedule status."""
        self._require_account(account_sid, f"/{API_VERSION}/Accounts/{account_sid}/Messages.json")
        to = form.get("To", "")
        fault = self._take_fault(to)
        if fault is not None:
            raise TwilioApiError(fault.status, fault.code, fault.message)
        if not to:
            raise TwilioApiError(400, 21604, "A 'To' phone number is required.")
        body = form.get("Body", "")
        if not body:
            raise TwilioApiError(400, 21602, "Message body is required.")
        if not is_e164(to):
            raise TwilioApiError(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        messaging_service_sid = form.get("MessagingServiceSid") or None
        from_number = form.get("From", "") or (self.line_number if messaging_service_sid else "")
        if not from_number:
            raise TwilioApiError(400, 21603, "A 'From' phone number is required.")
        if from_number != self.line_number:
            # Twilio only sends from numbers the account owns; a wrong From here is a configuration bug in the line.
            raise TwilioApiError(
                400,
                21606,
                f"The From phone number {from_number} is not a valid, SMS-capable inbound phone number or short code "
                "for your account.",
            )
        message = self._record(
            to=to,
            from_=from_number,
            body=body,
            direction="outbound-api",
            status="queued",
            messaging_service_sid=messaging_service_sid,
        )
        self._schedule_delivery(message.sid, form.get("StatusCallback") or None)
        self._info("message %s created to %s", message.sid, to)
        return message

    def list_messages(self, account_sid: str, query: dict[str, str]) -> dict[str, Any]:
        """Handle ``GET Messages.json``: filter by To/From, page with Page/PageSize, in Twilio's list shape."""
        base_path = f"/{API_VERSION}/Accounts/{account_sid}/Messages.json"
        self._require_account(account_sid, base_path)
        try:
            page_size = min(max(int(query.get("PageSize", _DEFAULT_PAGE_SIZE)), 1), _MAX_PAGE_SIZE)
            page = max(int(query.get("Page", 0)), 0)
        except ValueError as error:
            raise TwilioApiError(400, 20001, "PageSize and Page must be integers.") from error
        matching = self._matching(
            to=query.get("To") or None, from_=query.get("From") or None, newest_first=True, held_only=True
        )
        start = page * page_size
        on_page = matching[start : start + page_size]
        filters = {key: query[key] for key in ("To", "From", "DateSent") if query.get(key)}

        def page_uri(number: int) -> str:
            return f"{base_path}?{urlencode({**filters, 'PageSize': page_size, 'Page': number})}"

        return {
            "messages": [message.as_twilio_json() for message in on_page],
            "end": start + max(len(on_page) - 1, 0),
            "first_page_uri": page_uri(0),
            "next_page_uri": page_uri(page + 1) if start + page_size < len(matching) else None,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": page_uri(page - 1) if page > 0 else None,
            "start": start,
            "uri": page_uri(page),
        }

    def fetch_message(self, account_sid: str, message_sid: str) -> dict[str, Any]:
        """Handle ``GET Messages/{Sid}.json``."""
        path = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{message_sid}.json"
        self._require_account(account_sid, path)
        with self._lock:
            message = self._messages.get(message_sid)
            if message is None or message.deleted:
                raise not_found(path)
            return message.as_twilio_json()

    def delete_message(self, account_sid: str, message_sid: str) -> None:
        """Handle ``DELETE Messages/{Sid}.json``: gone for good (its media stay, as at Twilio); Twilio's 20009 while
        the message is still in flight."""
        path = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{message_sid}.json"
        self._require_account(account_sid, path)
        with self._lock:
            message = self._messages.get(message_sid)
            if message is None or message.deleted:
                raise not_found(path)
            if message.status not in FINAL_STATUSES:
                raise TwilioApiError(400, 20009, "Cannot delete this resource before it is complete")
            message.deleted = True
        self._info("message %s deleted", message_sid)

    def list_media(self, account_sid: str, message_sid: str, query: dict[str, str]) -> dict[str, Any]:
        """Handle ``GET Messages/{Sid}/Media.json`` in Twilio's list shape (one page: a message has at most 10)."""
        base_path = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{message_sid}/Media.json"
        self._require_account(account_sid, base_path)
        with self._lock:
            message = self._messages.get(message_sid)
        if message is None or message.deleted:
            raise not_found(base_path)
        page_size = int(query.get("PageSize", _DEFAULT_PAGE_SIZE))
        page_uri = f"{base_path}?{urlencode({'PageSize': page_size, 'Page': 0})}"
        return {
            "media_list": [item.as_twilio_json(account_sid, message_sid) for item in message.media],
            "end": max(len(message.media) - 1, 0),
            "first_page_uri": page_uri,
            "next_page_uri": None,
            "page": 0,
            "page_size": page_size,
            "previous_page_uri": None,
            "start": 0,
            "uri": page_uri,
        }

    def delete_media(self, account_sid: str, message_sid: str, media_sid: str) -> None:
        """Handle ``DELETE Messages/{Sid}/Media/{MediaSid}.json``."""
        path = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{message_sid}/Media/{media_sid}.json"
        self._require_account(account_sid, path)
        with self._lock:
            # A deleted message's media stay until deleted themselves (as at Twilio), by their own URL.
            message = self._messages.get(message_sid)
            if message is None or all(item.sid != media_sid for item in message.media):
                raise not_found(path)
            message.media = [item for item in message.media if item.sid != media_sid]

    def held_messages(self) -> list[dict[str, Any]]:
        """What the account still holds (not deleted), newest first, in Twilio's JSON shape (for tests)."""
        return [
            message.as_twilio_json()
            for message in self._matching(to=None, from_=None, newest_first=True, held_only=True)
        ]

    def media_count(self) -> int:
        """How many media items the account still holds, of messages deleted or not (for tests)."""
        with self._lock:
            return sum(len(message.media) for message in self._messages.values())

    def finish_deliveries(self) -> None:
        """Apply every pending status step now, in order, as if the carriers had answered (for tests)."""
        while True:
            with self._steps_changed:
                if not self._steps:
                    return
                step = heapq.heappop(self._steps)
            self._apply_status_step(step)

    def check_basic_auth(self, authorization: str | None) -> None:
        """Raise Twilio's 401 unless ``authorization`` carries this account's sid and token."""
        username, password = basic_credentials(authorization)
        valid = hmac.compare_digest(username.encode(), self.account_sid.encode()) and hmac.compare_digest(
            password.encode(), self.auth_token.encode()
        )
        if not valid:
            raise TwilioApiError(
                401,
                20003,
                "Authenticate",
                headers={"WWW-Authenticate": 'Basic realm="Twilio API"'},
            )

    # ------------------------------------------------------------------ the simulator
    def simulator_thread(self, number: str) -> list[dict[str, Any]]:
        """Messages to or from ``number``, oldest first, as the simulator page renders them."""
        with self._lock:
            involved = [message for message in self._messages.values() if number in (message.to, message.from_)]
        involved.sort(key=lambda message: message.sequence)
        return [message.as_simulator_json() for message in involved]

    def phone_numbers(self) -> list[str]:
        """Every number that texted or was texted, sorted: messages deleted from the account count too (the phones
        still hold them, and the line may still know their texter)."""
        with self._lock:
            return sorted({number for message in self._messages.values() for number in (message.to, message.from_)})

    # ------------------------------------------------------------------ internals
    def _require_account(self, account_sid: str, path: str) -> None:
        if account_sid != self.account_sid:
            raise not_found(path)

    def _store(self, message: StoredMessage) -> None:
        with self._lock:
            self._messages[message.sid] = message

    def _matching(
        self, *, to: str | None, from_: str | None, newest_first: bool, held_only: bool
    ) -> list[StoredMessage]:
        with self._lock:
            found = [
                message
                for message in self._messages.values()
                if (to is None or message.to == to)
                and (from_ is None or message.from_ == from_)
                and not (held_only and message.deleted)
            ]
        found.sort(key=lambda message: message.sequence, reverse=newest_first)
        return found

    def _take_fault(self, to: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.to is None or fault.to == to:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _schedule_delivery(self, message_sid: str, callback_url: str | None) -> None:
        """Queue the message's queued → sent → delivered steps; the status advances with or without a callback."""
        now = time.monotonic()
        with self._steps_changed:
            if self._stopping:
                return
            for index, status in enumerate(_CALLBACK_STATUSES):
                heapq.heappush(
                    self._steps,
                    StatusStep(
                        due=now + index * self.status_delay_seconds,
                        order=next(self._sequence),
                        message_sid=message_sid,
                        status=status,
                        callback_url=callback_url,
                    ),
                )
            self._steps_changed.notify_all()

    def _run_status_steps(self) -> None:
        """Worker: apply each due status step in order and post its callback; never let one failure stop it."""
        while True:
            with self._steps_changed:
                while not self._stopping and (not self._steps or self._steps[0].due > time.monotonic()):
                    timeout = self._steps[0].due - time.monotonic() if self._steps else None
                    self._steps_changed.wait(timeout)
                if self._stopping:
                    return
                step = heapq.heappop(self._steps)
            try:
                self._apply_status_step(step)
            except Exception:
                self._error("status step %s for %s failed:\n%s", step.status, step.message_sid, traceback.format_exc())

    def _apply_status_step(self, step: StatusStep) -> None:
        now = datetime.now(UTC)
        with self._lock:
            message = self._messages.get(step.message_sid)
            if message is None:
                return
            message.status = step.status
            message.updated_at = now
            if step.status == "sent":
                message.sent_at = now
            params = {
                "SmsSid": message.sid,
                "SmsStatus": step.status,
                "MessageStatus": step.status,
                "To": message.to,
                "MessageSid": message.sid,
                "AccountSid": message.account_sid,
                "From": message.from_,
                "ApiVersion": API_VERSION,
            }
        if step.callback_url is None:
            return
        try:
            response = self._post_signed(step.callback_url, params)
        except requests.RequestException as error:
            # Twilio does not retry status callbacks either: log, drop, carry on.
            self._warning("status callback %s for %s not delivered: %s", step.status, step.message_sid, error)
            return
        if not response.ok:
            self._warning(
                "status callback %s for %s answered %s; dropped", step.status, step.message_sid, response.status_code
            )

    def _post_to_webhook_or_fallback(self, webhook_url: str, params: dict[str, str]) -> requests.Response:
        """Post to the webhook; on an error status or no answer, post again to the fallback URL, as Twilio does."""
        fallback_url = self.inbound_fallback_url
        try:
            response = self._post_signed(webhook_url, params)
        except requests.RequestException:
            if not fallback_url:
                raise
            self._warning("inbound webhook unreachable; posting to the fallback URL")
            return self._post_signed(fallback_url, {**params, "ErrorCode": "11200", "ErrorUrl": webhook_url})
        if response.status_code >= 400 and fallback_url:
            self._warning("inbound webhook answered %s; posting to the fallback URL", response.status_code)
            return self._post_signed(fallback_url, {**params, "ErrorCode": "11200", "ErrorUrl": webhook_url})
        return response

    def _record(self, *, sid: str | None = None, created_at: datetime | None = None, **fields: Any) -> StoredMessage:
        """A message of this account, stored in arrival order (a new SID and now unless given)."""
        message = StoredMessage(
            sid=sid or new_message_sid(),
            account_sid=self.account_sid,
            created_at=created_at or datetime.now(UTC),
            sequence=next(self._sequence),
            **fields,
        )
        self._store(message)
        return message

    def _store_reply(self, *, to: str, body: str) -> None:
        """A TwiML <Message> reply: Twilio texts it to the texter from the line's number (no status callback)."""
        message = self._record(to=to, from_=self.line_number, body=body, direction="outbound-reply", status="sent")
        self._info("TwiML reply %s texted to %s", message.sid, to)

    def _post_signed(self, url: str, params: dict[str, str]) -> requests.Response:
        """POST ``params`` form-encoded to ``url`` with the X-Twilio-Signature Twilio would compute."""
        signature = self._validator.compute_signature(url, params)
        # One request per call, no shared Session: the HTTP threads and the status worker post concurrently.
        return requests.post(
            url,
            data=params,
            headers={
                "X-Twilio-Signature": signature,
                "User-Agent": "TwilioProxy/1.1",
                "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
            },
            timeout=_WEBHOOK_TIMEOUT_SECONDS,
        )

    # Every log line goes through these so no phone number reaches the log in full.
    def _info(self, template: str, *args: object) -> None:
        self._emit(logging.INFO, template, args)

    def _warning(self, template: str, *args: object) -> None:
        self._emit(logging.WARNING, template, args)

    def _error(self, template: str, *args: object) -> None:
        self._emit(logging.ERROR, template, args)

    def _debug(self, template: str, *args: object) -> None:
        self._emit(logging.DEBUG, template, args)

    def _emit(self, level: int, template: str, args: tuple[object, ...]) -> None:
        if self._log.isEnabledFor(level):
            self._log.log(level, "%s", mask_phone_numbers(template % args if args else template))
