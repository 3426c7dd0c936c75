"""``peerline text``: texts the local line from a number new to it (so the first text is welcomed), says which."""

from __future__ import annotations

import json
import random
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from twilio.rest import Client

from peerline_local.twilio_fake import DEFAULT_SIMULATED_TEXTER, TwilioFake
from peerline_ops import cli

ACCOUNT_SID = "AC" + "0" * 31 + "7"
AUTH_TOKEN = "cli-text-token"
LINE_NUMBER = "+15555550000"
ON_CALL_NUMBER = "+15555550911"
TEST_NUMBER = re.compile(r"^\+1555555\d{4}$")


@pytest.fixture
def line(tmp_path: Path) -> Iterator[tuple[TwilioFake, Path]]:
    """A Twilio fake whose inbound webhook welcomes every text, and the local.json ``peerline text`` reads."""
    fake = TwilioFake(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, line_number=LINE_NUMBER)

    class Webhook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            form = parse_qs(self.rfile.read(int(self.headers["content-length"])).decode())
            # Answered before the webhook returns, so the reply is there before `peerline text` starts waiting.
            fake.create_message(ACCOUNT_SID, {"To": form["From"][0], "From": LINE_NUMBER, "Body": "welcome"})
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    webhook = ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    threading.Thread(target=webhook.serve_forever, daemon=True).start()
    fake.inbound_webhook_url = f"http://127.0.0.1:{webhook.server_address[1]}/sms/inbound"
    fake.start()
    info = {
        "twilio_api_url": fake.url,
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
        "simulator_url": fake.simulator_url,
        "line_number": LINE_NUMBER,
        "on_call_number": ON_CALL_NUMBER,
    }
    (tmp_path / "local.json").write_text(json.dumps(info))
    try:
        yield fake, tmp_path
    finally:
        fake.stop()
        webhook.shutdown()
        webhook.server_close()


def test_fresh_test_number_is_a_555_number_not_yet_taken() -> None:
    # given every +1555555xxxx number but one taken
    every = [f"+1555555{suffix:04d}" for suffix in range(10_000)]
    taken = set(every) - {"+15555554242"}

    # when a fresh one is picked / then it is the one left
    assert cli.fresh_test_number(taken, random.Random(1)) == "+15555554242"


def test_fresh_test_number_gives_up_when_none_is_left() -> None:
    with pytest.raises(SystemExit, match="--from"):
        cli.fresh_test_number({f"+1555555{suffix:04d}" for suffix in range(10_000)})


def test_numbers_in_use_are_every_number_the_line_texted_with_and_its_own(line: tuple[TwilioFake, Path]) -> None:
    # given a line that has texted 60 numbers (more than one page of Twilio's list)
    fake, state_dir = line
    texted = {f"+1555555{suffix:04d}" for suffix in range(200, 260)}
    for number in texted:
        fake.create_message(ACCOUNT_SID, {"To": number, "From": LINE_NUMBER, "Body": "hello"})
    info = json.loads((state_dir / "local.json").read_text())
    client = Client(ACCOUNT_SID, AUTH_TOKEN)
    client.api.base_url = fake.url

    # when the numbers in use are gathered
    used = cli._numbers_in_use(client, info)

    # then they hold every one of them, the line's, the on-call phone's and the phone simulator's texter
    assert texted | {LINE_NUMBER, ON_CALL_NUMBER, DEFAULT_SIMULATED_TEXTER} <= used


def test_a_number_whose_messages_the_account_deleted_stays_in_use(line: tuple[TwilioFake, Path]) -> None:
    # given a texter whose conversation closed, and whose messages were deleted from the account
    fake, state_dir = line
    fake.create_message(ACCOUNT_SID, {"To": "+15555550300", "From": LINE_NUMBER, "Body": "goodbye"})
    fake.finish_deliveries()
    client = Client(ACCOUNT_SID, AUTH_TOKEN)
    client.api.base_url = fake.url
    for message in client.messages.list(to="+15555550300"):
        message.delete()
    assert client.messages.list(to="+15555550300") == []

    # when the numbers in use are gathered
    used = cli._numbers_in_use(client, json.loads((state_dir / "local.json").read_text()))

    # then theirs is among them (the line still knows the texter: a "fresh" number must not be theirs)
    assert "+15555550300" in used


def test_peerline_text_uses_a_new_number_says_which_and_prints_the_welcome(
    line: tuple[TwilioFake, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # given a line where the phone simulator's texter is already mid-conversation
    fake, state_dir = line
    fake.send_inbound(DEFAULT_SIMULATED_TEXTER, "hi")

    # when a newcomer texts it from the command line without choosing a number
    assert cli.main(["text", "hi", "--state-dir", str(state_dir), "--wait", "0.3"]) == 0

    # then it says, in full, which fictional number it used: one the line had not heard from
    output = capsys.readouterr().out
    used = re.search(r"texting the line as (\S+)", output)
    assert used, output
    number = used.group(1)
    assert TEST_NUMBER.match(number)
    assert number not in (DEFAULT_SIMULATED_TEXTER, LINE_NUMBER, ON_CALL_NUMBER)
    assert f"--from {number}" in output
    # and the line's answer to that number is printed
    assert "line › welcome" in output
    assert [message["from"] for message in fake.messages(to=LINE_NUMBER)].count(number) == 1


def test_peerline_text_from_a_chosen_number(line: tuple[TwilioFake, Path], capsys: pytest.CaptureFixture[str]) -> None:
    # given / when the texter's number is chosen
    _, state_dir = line
    assert cli.main(["text", "hi", "--from", "+15555550123", "--state-dir", str(state_dir), "--wait", "0.3"]) == 0

    # then that number texts the line
    output = capsys.readouterr().out
    assert "texting the line as +15555550123" in output
    assert "line › welcome" in output
