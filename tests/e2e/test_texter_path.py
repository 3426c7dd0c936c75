"""End to end on the local line: signed webhooks over HTTP, replies read back with the real twilio client."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from line_kit import aws_client, eventually, running_line, text_line, texts_to, twilio_client
from twilio.request_validator import RequestValidator
from twilio.rest import Client

pytestmark = pytest.mark.e2e

STILL_WAITING_SECONDS = 3


class LogCapture:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, function: str, line: str) -> None:
        with self._lock:
            self.lines.append(f"[{function}] {line}")


@pytest.fixture(scope="module")
def logs() -> LogCapture:
    return LogCapture()


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory, logs: LogCapture) -> Iterator[dict[str, Any]]:
    with running_line(
        tmp_path_factory.mktemp("line"),
        "peerline-local",
        parameters={"StillWaitingSeconds": str(STILL_WAITING_SECONDS), "ConsentTimeoutSeconds": "600"},
        log_sink=logs,
    ) as info:
        yield info


@pytest.fixture(scope="module")
def twilio(line: dict[str, Any]) -> Client:
    return twilio_client(line)


_numbers = iter(range(200, 999))


@pytest.fixture
def texter() -> str:
    """A fresh fictional number per test, so tests don't share a conversation."""
    return f"+1555555{next(_numbers):04d}"


def wait_for_replies(twilio: Client, number: str, count: int, timeout: float = 5.0) -> list[str]:
    """The texts to ``number`` once there are at least ``count`` (or whatever there is after ``timeout``)."""
    eventually(lambda: len(texts_to(twilio, number)) >= count, timeout=timeout)
    return texts_to(twilio, number)


def assert_no_more_replies(twilio: Client, number: str, expected: int, settle: float = 1.5) -> None:
    time.sleep(settle)
    assert len(texts_to(twilio, number)) == expected


def test_first_text_is_welcomed(line: dict[str, Any], twilio: Client, texter: str) -> None:
    # given a texter who has never texted the line
    # when they text it
    response = text_line(line, texter, "hi, is anyone there?")

    # then Twilio gets empty TwiML at once, and the welcome is texted from the line's number (how fast is measured
    # by `make bench-surge`: a timed assert here would fail whenever the machine is busy)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/xml")
    assert "<Response" in response.text
    welcome = wait_for_replies(twilio, texter, 1, timeout=30.0)
    assert len(welcome) == 1, "no welcome"
    assert "988" in welcome[0] and "911" in welcome[0]
    assert "STOP" in welcome[0]
    assert "YES or NO" in welcome[0]
    message = twilio.messages.list(to=texter)[0]
    assert message.from_ == line["line_number"]


def test_consent_yes_is_thanked_and_the_texter_is_queued(line: dict[str, Any], twilio: Client, texter: str) -> None:
    text_line(line, texter, "hello")
    wait_for_replies(twilio, texter, 1)

    text_line(line, texter, "Yeah!")

    got = wait_for_replies(twilio, texter, 3)
    assert got[1].startswith("Thank you")
    assert "finding someone" in got[2]


def test_consent_no_still_queues_the_texter(line: dict[str, Any], twilio: Client, texter: str) -> None:
    text_line(line, texter, "hey")
    wait_for_replies(twilio, texter, 1)

    text_line(line, texter, "nope")

    got = wait_for_replies(twilio, texter, 3)
    assert "won't keep anything" in got[1]
    assert "finding someone" in got[2]


def test_spanish_first_text_is_answered_in_spanish(line: dict[str, Any], twilio: Client, texter: str) -> None:
    text_line(line, texter, "Hola, necesito ayuda")
    welcome = wait_for_replies(twilio, texter, 1)
    assert "Responde SÍ o NO" in welcome[0]

    text_line(line, texter, "Sí")
    got = wait_for_replies(twilio, texter, 3)
    assert got[1].startswith("Gracias")
    assert "Estamos buscando" in got[2]


def test_stop_confirms_once_and_then_the_line_stays_silent_until_start(
    line: dict[str, Any], twilio: Client, texter: str
) -> None:
    # given a texter in a conversation
    text_line(line, texter, "hi")
    wait_for_replies(twilio, texter, 1)

    # when they text STOP, then STOP again, then something else
    text_line(line, texter, "Stop")
    confirmation = wait_for_replies(twilio, texter, 2)
    text_line(line, texter, "STOP")
    text_line(line, texter, "are you there?")

    # then exactly one confirmation, nothing more
    assert "unsubscribed" in confirmation[1]
    assert_no_more_replies(twilio, texter, 2)

    # when they text START, they are back and answered
    text_line(line, texter, "start")
    got = wait_for_replies(twilio, texter, 4)
    assert got[2].startswith("Welcome back")
    assert "YES or NO" in got[3]


@pytest.mark.parametrize("keyword", ["STOPALL", "unsubscribe", "Cancel", "END", "quit"])
def test_every_opt_out_keyword_opts_out(line: dict[str, Any], twilio: Client, texter: str, keyword: str) -> None:
    text_line(line, texter, keyword)
    got = wait_for_replies(twilio, texter, 1)
    assert "unsubscribed" in got[0]
    text_line(line, texter, "hello?")
    assert_no_more_replies(twilio, texter, 1, settle=1.0)


def test_unstop_opts_back_in(line: dict[str, Any], twilio: Client, texter: str) -> None:
    text_line(line, texter, "STOP")
    wait_for_replies(twilio, texter, 1)
    text_line(line, texter, "UNSTOP")
    got = wait_for_replies(twilio, texter, 3)
    assert got[1].startswith("Welcome back")


@pytest.mark.parametrize("keyword", ["HELP", "info"])
def test_help_says_what_the_line_is_and_how_to_reach_emergency_help(
    line: dict[str, Any], twilio: Client, texter: str, keyword: str
) -> None:
    text_line(line, texter, keyword)
    got = wait_for_replies(twilio, texter, 1)
    assert "peer support" in got[0]
    assert "911" in got[0] and "988" in got[0]


def test_forged_signature_is_refused_and_never_answered(line: dict[str, Any], twilio: Client, texter: str) -> None:
    response = text_line(line, texter, "hi", token="not-the-auth-token", expect=None)
    assert response.status_code == 403
    assert_no_more_replies(twilio, texter, 0, settle=1.0)


def test_unsigned_request_is_refused(line: dict[str, Any], twilio: Client, texter: str) -> None:
    response = requests.post(
        line["inbound_sms_url"], data={"From": texter, "Body": "hi", "MessageSid": "SMx"}, timeout=5
    )
    assert response.status_code == 403


def test_retried_webhook_is_answered_once(line: dict[str, Any], twilio: Client, texter: str) -> None:
    # given the same webhook delivered three times (Twilio retry, replay)
    sid = "SM" + uuid.uuid4().hex
    statuses = [text_line(line, texter, "hello", sid=sid).status_code for _ in range(3)]

    # then every delivery is acknowledged and exactly one welcome is texted
    assert statuses == [200, 200, 200]
    wait_for_replies(twilio, texter, 1)
    assert_no_more_replies(twilio, texter, 1)


def test_malformed_webhook_is_a_bad_request(line: dict[str, Any], twilio: Client) -> None:
    url = line["inbound_sms_url"]
    form = {"Body": "no sender", "MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": line["twilio_account_sid"]}
    signature = RequestValidator(line["twilio_auth_token"]).compute_signature(url, form)
    response = requests.post(url, data=form, headers={"X-Twilio-Signature": signature}, timeout=5)
    assert response.status_code == 400


def test_waiting_texter_gets_crisis_resources_when_nobody_is_free(
    line: dict[str, Any], twilio: Client, texter: str
) -> None:
    # given a texter queued (consent answered) and no volunteer taking them
    text_line(line, texter, "hi")
    wait_for_replies(twilio, texter, 1)
    text_line(line, texter, "yes")
    wait_for_replies(twilio, texter, 3)

    # when the configured wait passes
    got = wait_for_replies(twilio, texter, 4, timeout=STILL_WAITING_SECONDS + 5)

    # then they get crisis resources, once, and stay queued
    assert "still in line" in got[3]
    assert "988" in got[3]
    assert_no_more_replies(twilio, texter, 4)


def test_delivery_status_callbacks_are_recorded(line: dict[str, Any], twilio: Client, texter: str) -> None:
    text_line(line, texter, "hi")
    wait_for_replies(twilio, texter, 1)
    sid = twilio.messages.list(to=texter)[0].sid
    dynamodb = aws_client(line, "dynamodb")
    table = line["resources"]["DeliveriesTable"]

    deadline = time.monotonic() + 5
    status = None
    while time.monotonic() < deadline and status != "delivered":
        item = dynamodb.get_item(TableName=table, Key={"message_sid": {"S": sid}}).get("Item")
        status = item["delivery_status"]["S"] if item else None
        time.sleep(0.1)
    assert status == "delivered"


def test_no_plaintext_number_in_dynamodb_or_in_the_logs(
    line: dict[str, Any], twilio: Client, texter: str, logs: LogCapture
) -> None:
    # given a texter who went through welcome, consent and STOP
    text_line(line, texter, "hello there")
    wait_for_replies(twilio, texter, 1)
    text_line(line, texter, "yes")
    wait_for_replies(twilio, texter, 3)
    text_line(line, texter, "stop")
    wait_for_replies(twilio, texter, 4)

    # then no table holds the number in any spelling
    digits = texter[1:]
    spellings = [texter, digits, digits[1:], f"{digits[1:4]}-{digits[4:7]}-{digits[7:]}"]
    dynamodb = aws_client(line, "dynamodb")
    for table in dynamodb.list_tables()["TableNames"]:
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            dumped = json.dumps(page["Items"])
            assert not any(spelling in dumped for spelling in spellings), f"number found in {table}"
    # and no log line of any function does, while the logs did record the traffic (masked)
    assert logs.lines, "the functions logged nothing: the check below would prove nothing"
    assert not [entry for entry in logs.lines if any(spelling in entry for spelling in spellings)]
    assert not [entry for entry in logs.lines if re.search(r"\+1\d{10}", entry)]


def test_local_json_describes_the_line(line: dict[str, Any]) -> None:
    for key in (
        "api_url",
        "inbound_sms_url",
        "aws_endpoint_url",
        "region",
        "twilio_api_url",
        "twilio_account_sid",
        "twilio_auth_token",
        "line_number",
        "simulator_url",
    ):
        assert line[key], key
    assert requests.get(line["simulator_url"], timeout=5).status_code == 200


def test_the_line_starts_again_after_a_stop(tmp_path: Path) -> None:
    # given a line that was started and stopped
    with running_line(tmp_path, "restart-first"):
        pass

    # when it is started again, it answers again
    with running_line(tmp_path, "restart-second") as info:
        number = "+15555550999"
        text_line(info, number, "hi")
        assert len(wait_for_replies(twilio_client(info), number, 1)) == 1
