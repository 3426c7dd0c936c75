"""The Twilio fake, driven over real HTTP on 127.0.0.1 by the real twilio client and by plain requests."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from peerline_local.twilio_fake import TwilioFake

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "fake-auth-token-for-tests"
LINE_NUMBER = "+15555550199"
TEXTER_NUMBER = "+15555550001"
OTHER_NUMBER = "+15555550002"


@dataclass
class ReceivedRequest:
    path: str
    signature: str
    form: dict[str, str]


@dataclass
class Receiver:
    """A tiny webhook endpoint that records every form POSTed to it."""

    url: str
    requests: list[ReceivedRequest] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)
    status_to_answer: int = 200

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedRequest]:
        """Block until ``count`` requests have arrived (or fail after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.requests) < count:
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"only {len(self.requests)} of {count} requests arrived"
                self.arrived.wait(remaining)
            return list(self.requests)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            form = {key: values[0] for key, values in parse_qs(raw, keep_blank_values=True).items()}
            body = b"<Response/>"
            self.send_response(state.status_to_answer)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            with state.arrived:
                state.requests.append(ReceivedRequest(self.path, self.headers.get("X-Twilio-Signature", ""), form))
                state.arrived.notify_all()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def fake() -> Iterator[TwilioFake]:
    twilio_fake = TwilioFake(
        account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, line_number=LINE_NUMBER, status_delay_seconds=0.01
    )
    twilio_fake.start()
    yield twilio_fake
    twilio_fake.stop()


def client_for(fake: TwilioFake, auth_token: str = AUTH_TOKEN) -> Client:
    client = Client(ACCOUNT_SID, auth_token)
    client.api.base_url = fake.url
    return client


@pytest.fixture
def client(fake: TwilioFake) -> Client:
    return client_for(fake)


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


# ---------------------------------------------------------------------- REST API through the real twilio client
def test_real_client_creates_lists_and_fetches_a_message(fake: TwilioFake, client: Client) -> None:
    # given the real twilio client pointed at the fake
    # when it sends a text
    created = client.messages.create(to=TEXTER_NUMBER, from_=LINE_NUMBER, body="Hi, this is Peerline.")

    # then the response is a queued outbound message in Twilio's shape
    assert created.sid.startswith("SM") and len(created.sid) == 34
    assert created.status == "queued"
    assert created.direction == "outbound-api"
    assert created.to == TEXTER_NUMBER and created.from_ == LINE_NUMBER
    assert created.num_segments == "1"
    assert created.date_created is not None and created.date_created.tzinfo is not None
    # and listing by recipient finds it, and fetching by sid returns it
    assert [message.sid for message in client.messages.list(to=TEXTER_NUMBER)] == [created.sid]
    assert client.messages.list(to=OTHER_NUMBER) == []
    assert client.messages(created.sid).fetch().body == "Hi, this is Peerline."


def test_list_pages_newest_first_through_the_real_client(fake: TwilioFake, client: Client) -> None:
    # given five texts to the same texter
    sids = [client.messages.create(to=TEXTER_NUMBER, from_=LINE_NUMBER, body=f"text {n}").sid for n in range(5)]

    # when the client lists them two per page
    listed = client.messages.list(to=TEXTER_NUMBER, page_size=2)

    # then it follows next_page_uri through every page, newest first
    assert [message.sid for message in listed] == list(reversed(sids))
    assert [message["sid"] for message in fake.messages(to=TEXTER_NUMBER)] == list(reversed(sids))


def test_wrong_token_is_rejected_with_401(fake: TwilioFake) -> None:
    # given a client with the wrong auth token
    client = client_for(fake, auth_token="not-the-token")

    # when it tries to send, then Twilio's 401 comes back
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to=TEXTER_NUMBER, from_=LINE_NUMBER, body="hello")
    assert raised.value.status == 401
    assert raised.value.code == 20003
    assert fake.messages() == []


def test_invalid_to_number_is_21211(client: Client) -> None:
    # when the client sends to something that is not an E.164 number
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to="5555550001", from_=LINE_NUMBER, body="hello")

    # then Twilio's "not a valid phone number" error comes back
    assert raised.value.status == 400
    assert raised.value.code == 21211


def test_unknown_message_sid_is_404(client: Client) -> None:
    with pytest.raises(TwilioRestException) as raised:
        client.messages("SM" + "f" * 32).fetch()
    assert raised.value.status == 404
    assert raised.value.code == 20404


def test_injected_500_fails_once_then_the_retry_succeeds(fake: TwilioFake, client: Client) -> None:
    # given one injected server error
    fake.inject_fault(status=500, code=20500, message="Internal Server Error")

    # when the client sends, then the first attempt fails
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to=TEXTER_NUMBER, from_=LINE_NUMBER, body="hello")
    assert raised.value.status == 500

    # and the retry goes through
    assert client.messages.create(to=TEXTER_NUMBER, from_=LINE_NUMBER, body="hello").status == "queued"


def test_injected_21610_applies_only_to_its_recipient(fake: TwilioFake, client: Client) -> None:
    # given the texter has unsubscribed (an injected 21610 aimed at their number)
    fake.inject_fault(status=400, code=21610, message="Attempt to send to unsubscribed recipient", to=TEXTER_NUMBER)

    # when the line texts someone else, then that works and leaves the fault in place
    client.messages.create(to=OTHER_NUMBER, from_=LINE_NUMBER, body="hello")

    # and when it texts the unsubscribed texter, then Twilio's 21610 comes back
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to=TEXTER_NUMBER, from_=LINE_NUMBER, body="hello")
    assert raised.value.status == 400
    assert raised.value.code == 21610
    assert "unsubscribed" in raised.value.msg


def test_faults_can_be_driven_over_http(fake: TwilioFake, client: Client) -> None:
    # given a fault injected from "another process" and then cleared
    assert requests.post(f"{fake.url}/_fake/faults", json={"status": 429, "code": 20429}, timeout=5).status_code == 201
    assert requests.delete(f"{fake.url}/_fake/faults", timeout=5).status_code == 200

    # when the client sends, then nothing fails
    assert client.messages.create(to=TEXTER_NUMBER, from_=LINE_NUMBER, body="hello").status == "queued"


def test_raw_api_errors_are_twilio_shaped_json(fake: TwilioFake) -> None:
    messages_url = f"{fake.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    auth = (ACCOUNT_SID, AUTH_TOKEN)

    # when required fields are missing, or the account in the path is not ours
    missing_to = requests.post(messages_url, data={"From": LINE_NUMBER, "Body": "x"}, auth=auth, timeout=5)
    missing_body = requests.post(messages_url, data={"From": LINE_NUMBER, "To": TEXTER_NUMBER}, auth=auth, timeout=5)
    other_account = requests.post(
        messages_url.replace(ACCOUNT_SID, "AC" + "9" * 32), data={"To": TEXTER_NUMBER}, auth=auth, timeout=5
    )
    unknown_route = requests.get(f"{fake.url}/nothing/here", timeout=5)

    # then each answer is Twilio's error JSON with the right code
    assert (missing_to.status_code, missing_to.json()["code"]) == (400, 21604)
    assert (missing_body.status_code, missing_body.json()["code"]) == (400, 21602)
    assert (other_account.status_code, other_account.json()["code"]) == (404, 20404)
    assert unknown_route.status_code == 404
    assert missing_to.json()["more_info"] == "https://www.twilio.com/docs/errors/21604"


# ---------------------------------------------------------------------- status callbacks
def test_status_callbacks_arrive_signed_and_in_order(fake: TwilioFake, client: Client, receiver: Receiver) -> None:
    # given a callback URL with a query string (Twilio signs the exact URL it calls)
    callback_url = f"{receiver.url}/sms/status?line=local"

    # when a message is created with it
    created = client.messages.create(to=TEXTER_NUMBER, from_=LINE_NUMBER, body="hello", status_callback=callback_url)

    # then queued, sent and delivered arrive in that order, each one signed over the URL and its form
    received = receiver.wait_for(3)
    assert [request.form["MessageStatus"] for request in received] == ["queued", "sent", "delivered"]
    validator = RequestValidator(AUTH_TOKEN)
    for request in received:
        assert request.path == "/sms/status?line=local"
        assert request.form["MessageSid"] == created.sid == request.form["SmsSid"]
        assert request.form["To"] == TEXTER_NUMBER and request.form["From"] == LINE_NUMBER
        assert request.form["AccountSid"] == ACCOUNT_SID
        assert validator.validate(callback_url, request.form, request.signature)
    # and the stored message has advanced with them
    wait_until(lambda: client.messages(created.sid).fetch().status == "delivered")


def test_a_failing_callback_receiver_does_not_break_the_fake(
    fake: TwilioFake, client: Client, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    # given one receiver that answers 500 and one URL nobody listens on
    receiver.status_to_answer = 500
    closed_url = "http://127.0.0.1:9/unreachable"

    # when messages are created with each
    with caplog.at_level(logging.WARNING, logger="peerline_local.twilio_fake"):
        broken = client.messages.create(to=TEXTER_NUMBER, from_=LINE_NUMBER, body="a", status_callback=receiver.url)
        unreachable = client.messages.create(to=OTHER_NUMBER, from_=LINE_NUMBER, body="b", status_callback=closed_url)

        # then each callback is attempted once, dropped, and the messages are still delivered
        assert len(receiver.wait_for(3)) == 3
        wait_until(lambda: {m["status"] for m in fake.messages()} == {"delivered"})
    assert {broken.sid, unreachable.sid} == {m["sid"] for m in fake.messages()}
    # and no log line carries a full phone number
    assert caplog.records, "failed callbacks should be logged"
    assert all(TEXTER_NUMBER not in r.getMessage() and OTHER_NUMBER not in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------------- inbound webhooks
def test_send_inbound_posts_a_signed_twilio_webhook(fake: TwilioFake, receiver: Receiver) -> None:
    # given the line's inbound webhook, known only after the fake started
    fake.inbound_webhook_url = f"{receiver.url}/sms/inbound"

    # when a texter texts the line
    response = fake.send_inbound(TEXTER_NUMBER, "I need to talk", message_sid="SM" + "a" * 32)

    # then the line receives Twilio's signed form, blank location fields included
    assert response.status_code == 200
    [request] = receiver.wait_for(1)
    assert request.form["MessageSid"] == "SM" + "a" * 32
    assert request.form["From"] == TEXTER_NUMBER
    assert request.form["To"] == LINE_NUMBER
    assert request.form["Body"] == "I need to talk"
    assert request.form["FromCity"] == ""
    assert RequestValidator(AUTH_TOKEN).validate(fake.inbound_webhook_url, request.form, request.signature)
    # and the fake remembers the text as inbound
    [stored] = fake.messages(from_=TEXTER_NUMBER)
    assert stored["direction"] == "inbound" and stored["to"] == LINE_NUMBER


# ---------------------------------------------------------------------- simulator
def test_simulator_page_is_served(fake: TwilioFake) -> None:
    # when a developer opens the simulator
    page = requests.get(fake.simulator_url, timeout=5)

    # then they get an HTML page with labelled inputs
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert '<label for="message-body">' in page.text and 'id="message-body"' in page.text
    assert '<label for="texter-number">' in page.text
    assert requests.get(f"{fake.url}/simulator/api/line", timeout=5).json()["line_number"] == LINE_NUMBER


def test_simulator_send_and_thread_round_trip(fake: TwilioFake, client: Client, receiver: Receiver) -> None:
    # given the line is listening, and has already texted this texter once
    fake.inbound_webhook_url = f"{receiver.url}/sms/inbound"
    client.messages.create(to=TEXTER_NUMBER, from_=LINE_NUMBER, body="Welcome back")

    # when the texter sends from the simulator page
    sent = requests.post(f"{fake.url}/simulator/api/send", json={"from": TEXTER_NUMBER, "body": "Thanks"}, timeout=5)

    # then the line got the webhook, and the thread shows both texts oldest first
    assert sent.status_code == 200
    assert sent.json() == {"ok": True, "webhook_status": 200}
    assert receiver.wait_for(1)[0].form["Body"] == "Thanks"
    thread = requests.get(f"{fake.url}/simulator/api/messages", params={"number": TEXTER_NUMBER}, timeout=5).json()
    assert [(m["direction"], m["body"]) for m in thread] == [("outbound", "Welcome back"), ("inbound", "Thanks")]
    assert all(m["at"] and m["status"] for m in thread)


def test_simulator_send_without_a_line_is_a_readable_502(fake: TwilioFake) -> None:
    # given no webhook URL, then an unreachable one
    unset = requests.post(f"{fake.url}/simulator/api/send", json={"from": TEXTER_NUMBER, "body": "hi"}, timeout=5)
    fake.inbound_webhook_url = "http://127.0.0.1:9/sms/inbound"
    unreachable = requests.post(f"{fake.url}/simulator/api/send", json={"from": TEXTER_NUMBER, "body": "hi"}, timeout=5)

    # then both are 502 JSON with an error a person can read
    for response in (unset, unreachable):
        assert response.status_code == 502
        assert response.json()["ok"] is False and response.json()["error"]


def test_stop_is_idempotent() -> None:
    twilio_fake = TwilioFake(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, line_number=LINE_NUMBER)
    twilio_fake.start()
    twilio_fake.stop()
    twilio_fake.stop()
