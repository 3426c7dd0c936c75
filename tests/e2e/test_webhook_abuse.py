"""End to end on the local line: the inbound webhook holds under abuse and failures.

A 1 MB forgery is refused for its size before anything reads it (the CPU it costs is measured by
bench/webhook_cost.py, not asserted here); a KMS fault still gets the texter the emergency fallback reply, texted by
Twilio from the webhook's TwiML; Twilio's fallback URL is served."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from line_kit import aws_client, eventually, running_line, text_line, texts_to, twilio_client

pytestmark = pytest.mark.e2e

ONE_MEGABYTE = 1024 * 1024
REFUSED = "inbound webhook refused before parsing"
ANSWERED = "inbound webhook answered"  # logged after every signature check, whatever its verdict


class FunctionLogs:
    """Every line the line's functions print, by function."""

    def __init__(self) -> None:
        self._lines: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def __call__(self, function: str, line: str) -> None:
        with self._lock:
            self._lines.append((function, line))

    def count(self, function: str, text: str) -> int:
        with self._lock:
            return sum(1 for name, line in self._lines if name == function and text in line)


@pytest.fixture(scope="module")
def logs() -> FunctionLogs:
    return FunctionLogs()


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory, logs: FunctionLogs) -> Iterator[dict[str, Any]]:
    with running_line(tmp_path_factory.mktemp("webhook-line"), "e2e-webhook", log_sink=logs) as info:
        yield info


def forged_post(line: dict[str, Any], body: str) -> requests.Response:
    return requests.post(
        line["inbound_sms_url"],
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "Zm9yZ2Vk"},
        timeout=30,
    )


def test_a_one_megabyte_forgery_is_refused_before_its_form_or_signature_is_read(
    line: dict[str, Any], logs: FunctionLogs
) -> None:
    # given a forged 1 MB form
    body = urlencode({"From": "+15555550101", "Body": "x" * ONE_MEGABYTE})
    answered_before = logs.count("InboundWebhookFunction", ANSWERED)

    # when it is posted to the webhook
    response = forged_post(line, body)

    # then it is refused for its size (413), and the webhook said so without ever reaching the signature check
    assert response.status_code == 413
    assert eventually(lambda: logs.count("InboundWebhookFunction", REFUSED) == 1)
    assert logs.count("InboundWebhookFunction", ANSWERED) == answered_before


def test_a_small_forgery_is_read_and_forbidden(line: dict[str, Any], logs: FunctionLogs) -> None:
    # given a forged form of a genuine text's size (for contrast: this one is parsed and signature-checked)
    answered_before = logs.count("InboundWebhookFunction", ANSWERED)

    # when / then
    assert forged_post(line, urlencode({"From": "+15555550102", "Body": "hi"})).status_code == 403
    assert eventually(lambda: logs.count("InboundWebhookFunction", ANSWERED) == answered_before + 1)


def test_twilio_s_fallback_url_answers_the_emergency_fallback_reply(line: dict[str, Any]) -> None:
    # given / when Twilio posts a text to the fallback URL (the webhook failed)
    sid = "SM" + uuid.uuid4().hex
    form = {"MessageSid": sid, "From": "+15555550103", "To": line["line_number"], "Body": "hi", "ErrorCode": "11200"}
    response = requests.post(line["inbound_fallback_url"], data=form, timeout=10)

    # then it answers TwiML that texts the emergency fallback reply
    assert response.status_code == 200
    assert "<Message>" in response.text and "988" in response.text


def test_a_kms_fault_still_gets_the_texter_the_fallback_reply(line: dict[str, Any]) -> None:
    # given the key that encrypts numbers is disabled
    kms = aws_client(line, "kms")
    [key_id] = [
        alias["TargetKeyId"]
        for alias in kms.list_aliases()["Aliases"]
        if alias["AliasName"] == f"alias/{line['stack_name']}-phone-numbers"
    ]
    kms.disable_key(KeyId=key_id)
    texter = "+15555550104"
    try:
        # when a texter texts the line through Twilio (the fake posts the signed webhook, as Twilio does)
        sent = requests.post(
            f"{line['twilio_api_url']}/simulator/api/send", json={"from": texter, "body": "please help"}, timeout=30
        )

        # then the webhook answered 200, and Twilio texted the texter the emergency fallback reply from its TwiML
        assert sent.json() == {"ok": True, "webhook_status": 200}
        replies = eventually(lambda: texts_to(twilio_client(line), texter))
        assert len(replies) == 1 and "988" in replies[0] and "text again" in replies[0]
    finally:
        kms.enable_key(KeyId=key_id)

    # and once the key is back, texts are taken in again
    assert text_line(line, texter, "hello again").status_code == 200
