"""The Twilio fake forgets messages as Twilio does: DELETE a message (204; 404 once gone; 20009 while it is still in
flight), list and delete its media — driven over real HTTP by the real twilio client."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from peerline_local.twilio_fake import TwilioFake

ACCOUNT_SID = "AC" + "0" * 31 + "2"
AUTH_TOKEN = "fake-auth-token-for-deletion-tests"
LINE_NUMBER = "+15555550199"
TEXTER_NUMBER = "+15555550001"


@pytest.fixture
def webhook_url() -> Iterator[str]:
    """A webhook endpoint that answers every POST with empty TwiML (the fake needs one to receive texts)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Length", "11")
            self.end_headers()
            self.wfile.write(b"<Response/>")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/sms/inbound"
    server.shutdown()
    server.server_close()


@pytest.fixture
def fake(webhook_url: str) -> Iterator[TwilioFake]:
    # Deliveries advance only when a test says so (finish_deliveries): "in flight" is a state, not a race.
    twilio_fake = TwilioFake(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        line_number=LINE_NUMBER,
        inbound_webhook_url=webhook_url,
        status_delay_seconds=3600,
    )
    twilio_fake.start()
    yield twilio_fake
    twilio_fake.stop()


@pytest.fixture
def client(fake: TwilioFake) -> Client:
    client = Client(ACCOUNT_SID, AUTH_TOKEN)
    client.api.base_url = fake.url
    return client


def test_a_delivered_message_is_deleted_and_then_unknown(fake: TwilioFake, client: Client) -> None:
    # given a text the carrier has delivered
    sid = client.messages.create(to=TEXTER_NUMBER, from_=LINE_NUMBER, body="Hi").sid
    fake.finish_deliveries()

    # when the real client deletes it
    deleted = client.messages(sid).delete()

    # then Twilio answered 204 (the client's True), and the account no longer knows it
    assert deleted is True
    assert client.messages.list(to=TEXTER_NUMBER) == []
    with pytest.raises(TwilioRestException) as fetched:
        client.messages(sid).fetch()
    assert fetched.value.status == 404
    assert fake.held_messages() == []
    # while the texter's phone (the simulator) still shows what it received
    assert [message["sid"] for message in fake.messages(to=TEXTER_NUMBER)] == [sid]


def test_deleting_a_message_twice_or_an_unknown_one_is_404(fake: TwilioFake, client: Client) -> None:
    # given a delivered text, deleted once
    sid = client.messages.create(to=TEXTER_NUMBER, from_=LINE_NUMBER, body="Hi").sid
    fake.finish_deliveries()
    client.messages(sid).delete()

    # when it is deleted again, and a sid the account never had is deleted
    # then both are Twilio's 404 (20404)
    for unknown in (sid, "SM" + "f" * 32):
        with pytest.raises(TwilioRestException) as refused:
            client.messages(unknown).delete()
        assert (refused.value.status, refused.value.code) == (404, 20404)


def test_a_message_still_in_flight_is_refused_with_20009(fake: TwilioFake, client: Client) -> None:
    # given a text Twilio has queued but not yet delivered
    sid = client.messages.create(to=TEXTER_NUMBER, from_=LINE_NUMBER, body="Hi").sid

    # when the real client deletes it
    with pytest.raises(TwilioRestException) as refused:
        client.messages(sid).delete()

    # then Twilio's "Cannot delete this resource before it is complete", and the message stays
    assert refused.value.code == 20009
    assert [message.sid for message in client.messages.list(to=TEXTER_NUMBER)] == [sid]


def test_delete_needs_the_accounts_credentials(fake: TwilioFake, client: Client) -> None:
    # given a delivered text
    sid = client.messages.create(to=TEXTER_NUMBER, from_=LINE_NUMBER, body="Hi").sid
    fake.finish_deliveries()

    # when someone without the auth token deletes it
    response = requests.delete(f"{fake.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json", timeout=5)

    # then 401, and the message stays
    assert response.status_code == 401
    assert [message.sid for message in client.messages.list(to=TEXTER_NUMBER)] == [sid]


def test_an_mms_media_is_listed_and_deleted_like_twilios(fake: TwilioFake, client: Client) -> None:
    # given an MMS a texter sent with a picture (the webhook carried its URL and content type)
    fake.send_inbound(TEXTER_NUMBER, "look", media_content_types=["image/jpeg"])
    [inbound] = client.messages.list(from_=TEXTER_NUMBER)
    assert inbound.num_media == "1"

    # when the real client lists the message's media and deletes each, then the message
    media = client.messages(inbound.sid).media.list()
    assert [(item.content_type, item.parent_sid) for item in media] == [("image/jpeg", inbound.sid)]
    assert all(client.messages(inbound.sid).media(item.sid).delete() for item in media)
    client.messages(inbound.sid).delete()

    # then the account holds neither the picture nor the message
    assert fake.media_count() == 0
    assert fake.held_messages() == []


def test_deleting_a_message_leaves_its_media_until_they_are_deleted_too(fake: TwilioFake, client: Client) -> None:
    # given an MMS whose message is deleted first (Twilio keeps the media of a deleted message)
    fake.send_inbound(TEXTER_NUMBER, "look", media_content_types=["image/png", "image/gif"])
    [inbound] = client.messages.list(from_=TEXTER_NUMBER)
    media = client.messages(inbound.sid).media.list()
    client.messages(inbound.sid).delete()

    # then the pictures are still held, and can still be deleted by their own URL
    assert fake.media_count() == 2
    for item in media:
        client.messages(inbound.sid).media(item.sid).delete()
    assert fake.media_count() == 0
