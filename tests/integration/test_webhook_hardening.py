"""The inbound webhook under abuse and failures, in-process against moto: oversized forgeries are refused before
they cost anything, and whatever fails before a genuine text is queued, the texter still gets the fallback reply."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from handler_kit import drain

from peerline.webhook_limits import MAX_WEBHOOK_BODY_BYTES, MAX_WEBHOOK_FORM_FIELDS
from peerline_local.sample_events import (
    SAMPLE_ACCOUNT_SID,
    SAMPLE_AUTH_TOKEN,
    signed_webhook_event,
    twilio_inbound_form,
)

ONE_MEGABYTE = 1024 * 1024


@pytest.fixture(scope="module")
def aws(stack: Any) -> dict[str, Any]:
    session = boto3.session.Session(region_name="us-east-1")
    clients = {name: session.client(name) for name in ("sqs", "kms", "secretsmanager")}
    clients["secretsmanager"].create_secret(
        Name=stack.functions["InboundWebhookFunction"].environment["TWILIO_SECRET_NAME"],
        SecretString=json.dumps({"account_sid": SAMPLE_ACCOUNT_SID, "auth_token": SAMPLE_AUTH_TOKEN}),
    )
    return clients


@pytest.fixture
def webhook(as_function: Callable[..., Any], lambda_context: Any, aws: Any) -> Callable[..., dict[str, Any]]:
    def call(event: dict[str, Any], **environment: str) -> dict[str, Any]:
        with as_function("InboundWebhookFunction", **environment) as handler:
            result: dict[str, Any] = handler.lambda_handler(event, lambda_context)
            return result

    return call


@pytest.fixture
def inbound_queue(stack: Any, aws: Any) -> Iterator[Callable[[], list[Any]]]:
    url = str(stack.resources["InboundQueue"].physical_id)
    drain(aws["sqs"], url)
    yield lambda: drain(aws["sqs"], url)


def forged_event(form_body: str, *, base64_encoded: bool = False) -> dict[str, Any]:
    event = signed_webhook_event("/sms/inbound", {}, signature="Zm9yZ2Vk")
    event["body"] = base64.b64encode(form_body.encode()).decode() if base64_encoded else form_body
    event["isBase64Encoded"] = base64_encoded
    return event


@pytest.mark.parametrize("base64_encoded", [False, True], ids=["plain", "base64"])
def test_a_one_megabyte_forgery_is_refused_before_its_signature_is_checked(
    webhook: Any, inbound_queue: Any, base64_encoded: bool
) -> None:
    # given a 1 MB forged form, and a Twilio secret that can't be read: had the signature check run, it would have
    # failed to read the secret and answered 200 with the fallback reply
    event = forged_event(urlencode({"From": "+15555550001", "Body": "x" * ONE_MEGABYTE}), base64_encoded=base64_encoded)

    # when it reaches the webhook
    response = webhook(event, TWILIO_SECRET_NAME="no-such-secret")

    # then it is refused for its size alone: 413, nothing checked, nothing queued
    assert response["statusCode"] == 413
    assert inbound_queue() == []


def test_a_declared_length_over_the_limit_is_refused_whatever_the_body(webhook: Any, inbound_queue: Any) -> None:
    # given a small body whose Content-Length says it is larger than any Twilio webhook
    event = forged_event("From=%2B15555550001")
    event["headers"]["content-length"] = str(MAX_WEBHOOK_BODY_BYTES + 1)

    # when / then
    assert webhook(event, TWILIO_SECRET_NAME="no-such-secret")["statusCode"] == 413


def test_a_form_with_more_fields_than_twilio_sends_is_refused(webhook: Any, inbound_queue: Any) -> None:
    # given a small form with one field too many, correctly signed
    form = {**twilio_inbound_form("hi", message_sid="SM" + "6" * 32)}
    form.update({f"X{index}": "" for index in range(MAX_WEBHOOK_FORM_FIELDS - len(form) + 1)})

    # when / then
    assert webhook(signed_webhook_event("/sms/inbound", form))["statusCode"] == 413
    assert inbound_queue() == []


def test_a_genuine_text_of_twilio_s_largest_size_is_still_taken_in(webhook: Any, inbound_queue: Any) -> None:
    # given an MMS with ten pictures and a 1,600-character body of 3-byte characters (Twilio's worst case)
    form = twilio_inbound_form("語" * 1600, message_sid="SM" + "7" * 32)
    form["NumMedia"] = "10"
    for index in range(10):
        form[f"MediaUrl{index}"] = (
            f"https://api.twilio.com/2010-04-01/Accounts/{SAMPLE_ACCOUNT_SID}/Messages/MM{'1' * 32}/Media/ME{index:032d}"
        )
        form[f"MediaContentType{index}"] = "image/jpeg"

    # when / then it is queued like any other text
    assert webhook(signed_webhook_event("/sms/inbound", form))["statusCode"] == 200
    assert len(inbound_queue()) == 1


@pytest.mark.parametrize(
    ("variable", "broken"),
    [
        ("TWILIO_SECRET_NAME", "no-such-secret"),
        ("PEPPER_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:no-such-pepper-AbCdEf"),
        ("PHONE_KEY_ID", "00000000-0000-0000-0000-000000000000"),
        ("IDEMPOTENCY_TABLE", "no-such-table"),
        ("INBOUND_QUEUE_URL", "http://127.0.0.1:9/000000000000/missing.fifo"),
    ],
    ids=["twilio-secret", "pepper", "kms", "idempotency-table", "queue"],
)
def test_every_failure_before_queueing_answers_the_texter_with_the_fallback_reply(
    webhook: Any, inbound_queue: Any, variable: str, broken: str
) -> None:
    # given a genuine text, and one of the services it needs before it is queued failing
    event = signed_webhook_event("/sms/inbound", twilio_inbound_form("help", message_sid="SM" + "5" * 32))

    # when it reaches the webhook
    response = webhook(event, **{variable: broken})

    # then Twilio is told to text the emergency fallback reply (200 + TwiML <Message>), never a 5xx or silence
    assert response["statusCode"] == 200
    assert "<Message>" in response["body"] and "988" in response["body"]
    assert inbound_queue() == []


def test_a_forged_signature_stays_forbidden(webhook: Any, inbound_queue: Any) -> None:
    # given a small form with a forged signature (the secret is readable)
    event = forged_event(urlencode(twilio_inbound_form("hi", message_sid="SM" + "4" * 32)))

    # when / then
    assert webhook(event)["statusCode"] == 403


@pytest.fixture
def fallback(as_function: Callable[..., Any], lambda_context: Any, stack: Any) -> Callable[..., dict[str, Any]]:
    def call(event: dict[str, Any]) -> dict[str, Any]:
        with as_function("InboundFallbackFunction") as handler:
            result: dict[str, Any] = handler.lambda_handler(event, lambda_context)
            return result

    return call


def test_twilio_s_fallback_url_answers_the_emergency_fallback_reply(fallback: Any) -> None:
    # given what Twilio posts to the fallback URL after the webhook failed (the same form, plus the error)
    form = {**twilio_inbound_form("help", message_sid="SM" + "3" * 32), "ErrorCode": "11200"}

    # when it reaches the fallback function
    response = fallback(signed_webhook_event("/sms/fallback", form))

    # then Twilio is told to text the texter the emergency fallback reply
    assert response["statusCode"] == 200
    assert "<Message>" in response["body"] and "988" in response["body"]


def test_twilio_s_fallback_url_refuses_a_one_megabyte_forgery(fallback: Any) -> None:
    # given / when a 1 MB POST to the fallback URL
    event = signed_webhook_event("/sms/fallback", {}, signature="Zm9yZ2Vk")
    event["body"] = urlencode({"Body": "x" * ONE_MEGABYTE})
    event["isBase64Encoded"] = False

    # then it is refused on its size, like at the webhook
    assert fallback(event)["statusCode"] == 413


def test_a_one_megabyte_forgery_to_the_status_callback_is_refused_too(
    as_function: Callable[..., Any], lambda_context: Any, aws: Any
) -> None:
    # given a 1 MB forged status callback (the route is as open as the inbound webhook)
    event = signed_webhook_event("/sms/status", {}, signature="Zm9yZ2Vk")
    event["body"] = urlencode({"MessageSid": "SM" + "2" * 32, "MessageStatus": "delivered", "x": "x" * ONE_MEGABYTE})
    event["isBase64Encoded"] = False

    # when it reaches the status callback function
    with as_function("StatusCallbackFunction") as handler:
        response = handler.lambda_handler(event, lambda_context)

    # then it is refused on its size, not parsed (and not a 5xx)
    assert response["statusCode"] == 413
