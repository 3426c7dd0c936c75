"""The Twilio fake does what Twilio does with a webhook's answer: texts its TwiML <Message> replies to the texter,
and posts the text to the fallback URL when the webhook fails."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from peerline_local.twilio_fake import TwilioFake

ACCOUNT_SID = "AC" + "0" * 31 + "7"
AUTH_TOKEN = "fake-auth-token-for-reply-tests"
LINE_NUMBER = "+15555550177"
TEXTER_NUMBER = "+15555550007"


@dataclass
class Webhooks:
    """A tiny server for /sms/inbound and /sms/fallback: what each answers, and what each received (signed)."""

    url: str = ""
    answers: dict[str, tuple[int, str]] = field(default_factory=dict)
    received: list[tuple[str, dict[str, str], bool]] = field(default_factory=list)


@pytest.fixture
def webhooks() -> Iterator[Webhooks]:
    state = Webhooks()
    validator = RequestValidator(AUTH_TOKEN)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            form = {key: values[0] for key, values in parse_qs(raw, keep_blank_values=True).items()}
            signed = validator.validate(state.url + self.path, form, self.headers.get("X-Twilio-Signature", ""))
            state.received.append((self.path, form, signed))
            status, body = state.answers.get(self.path, (404, ""))
            self.send_response(status)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(body.encode())))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield state
    server.shutdown()
    server.server_close()


def started_fake(webhooks: Webhooks, *, with_fallback: bool) -> TwilioFake:
    fake = TwilioFake(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        line_number=LINE_NUMBER,
        inbound_webhook_url=f"{webhooks.url}/sms/inbound",
        inbound_fallback_url=f"{webhooks.url}/sms/fallback" if with_fallback else None,
    )
    fake.start()
    return fake


@pytest.fixture
def client() -> Iterator[Client]:
    yield Client(ACCOUNT_SID, AUTH_TOKEN)


def texts_to_texter(fake: TwilioFake, client: Client) -> list[tuple[str, str]]:
    client.api.base_url = fake.url
    return [(message.direction, message.body) for message in client.messages.list(to=TEXTER_NUMBER)]


def test_a_twiml_message_reply_is_texted_to_the_texter(webhooks: Webhooks, client: Client) -> None:
    # given a webhook that answers with a TwiML reply
    webhooks.answers["/sms/inbound"] = (200, "<Response><Message>we got you</Message></Response>")
    fake = started_fake(webhooks, with_fallback=True)
    try:
        # when a texter texts the line
        fake.send_inbound(TEXTER_NUMBER, "hi")

        # then Twilio texts the reply back, from the line (and the fallback URL was not called)
        assert texts_to_texter(fake, client) == [("outbound-reply", "we got you")]
        assert [path for path, _, _ in webhooks.received] == ["/sms/inbound"]
    finally:
        fake.stop()


def test_a_failing_webhook_sends_the_text_to_the_fallback_url(webhooks: Webhooks, client: Client) -> None:
    # given a webhook that fails, and a fallback URL that answers a reply
    webhooks.answers["/sms/inbound"] = (500, "")
    webhooks.answers["/sms/fallback"] = (200, "<Response><Message>call 988</Message></Response>")
    fake = started_fake(webhooks, with_fallback=True)
    try:
        # when a texter texts the line
        response = fake.send_inbound(TEXTER_NUMBER, "help")

        # then the same text is posted, signed, to the fallback URL with the error, and its reply is texted
        assert response.status_code == 200
        [(_, first, _), (path, form, signed)] = webhooks.received
        assert path == "/sms/fallback" and signed
        assert form["MessageSid"] == first["MessageSid"] and form["ErrorCode"] == "11200"
        assert form["ErrorUrl"] == f"{webhooks.url}/sms/inbound"
        assert texts_to_texter(fake, client) == [("outbound-reply", "call 988")]
    finally:
        fake.stop()


def test_without_a_fallback_url_a_failing_webhook_leaves_the_texter_unanswered(
    webhooks: Webhooks, client: Client
) -> None:
    # given a webhook that fails and no fallback URL (as on a number where none is set)
    webhooks.answers["/sms/inbound"] = (500, "<Response><Message>never sent</Message></Response>")
    fake = started_fake(webhooks, with_fallback=False)
    try:
        # when / then the error is what the caller sees, and nothing is texted
        assert fake.send_inbound(TEXTER_NUMBER, "help").status_code == 500
        assert texts_to_texter(fake, client) == []
    finally:
        fake.stop()
