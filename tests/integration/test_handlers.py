"""Each handler in-process, against moto server with every resource created from template.yaml."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any, cast

import boto3
import pytest
from handler_kit import ROOT, drain, load_event, load_handler, sqs_event
from twilio.request_validator import RequestValidator

from peerline.adapters.dynamo import from_item
from peerline.number_context import texter_number
from peerline.phone import texter_id_for
from peerline_local.sample_events import (
    SAMPLE_ACCOUNT_SID,
    SAMPLE_AUTH_TOKEN,
    SAMPLE_LINE_NUMBER,
    SAMPLE_TEXTER_NUMBER,
    signed_webhook_event,
    twilio_inbound_form,
)


@pytest.fixture(scope="module")
def aws(stack: Any) -> dict[str, Any]:
    session = boto3.session.Session(region_name="us-east-1")
    clients = {name: session.client(name) for name in ("sqs", "dynamodb", "secretsmanager", "kms")}
    clients["secretsmanager"].create_secret(
        Name=stack.functions["SendSmsFunction"].environment["TWILIO_SECRET_NAME"],
        SecretString=json.dumps({"account_sid": SAMPLE_ACCOUNT_SID, "auth_token": SAMPLE_AUTH_TOKEN}),
    )
    return clients


@pytest.fixture(scope="module")
def twilio_fake() -> Iterator[Any]:
    from peerline_local.twilio_fake import TwilioFake

    fake = TwilioFake(account_sid=SAMPLE_ACCOUNT_SID, auth_token=SAMPLE_AUTH_TOKEN, line_number=SAMPLE_LINE_NUMBER)
    fake.start()
    yield fake
    fake.stop()


def queue_url(stack: Any, logical_id: str) -> str:
    return str(stack.resources[logical_id].physical_id)


def text_event(body: str, *, from_number: str, sid: str) -> dict[str, Any]:
    return signed_webhook_event("/sms/inbound", twilio_inbound_form(body, from_number=from_number, message_sid=sid))


@pytest.fixture
def webhook(
    as_function: Callable[..., Any], lambda_context: Any, stack: Any, aws: dict[str, Any]
) -> Callable[..., Any]:
    def call(event: dict[str, Any]) -> dict[str, Any]:
        with as_function("InboundWebhookFunction") as handler:
            result: dict[str, Any] = handler.lambda_handler(event, lambda_context)
            return result

    return call


@pytest.fixture
def engine(as_function: Callable[..., Any], lambda_context: Any, stack: Any, aws: dict[str, Any]) -> Callable[..., Any]:
    def run() -> dict[str, Any]:
        """Feed everything on the inbound queue to the engine (as Lambda's event source would)."""
        messages = drain(aws["sqs"], queue_url(stack, "InboundQueue"))
        with as_function("ConversationEngineFunction") as handler:
            result: dict[str, Any] = handler.lambda_handler(sqs_event(messages), lambda_context)
            return result

    return run


def test_signed_text_is_queued_once_per_texter_without_its_number(webhook: Any, aws: Any, stack: Any) -> None:
    # given a genuine Twilio webhook (the sample event, signed for the configured public URL)
    event = load_event("inbound_webhook/signed_text.json")

    # when it arrives
    response = webhook(event)

    # then Twilio gets empty TwiML, and the text is queued in the texter's FIFO group, number encrypted
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "text/xml"
    assert response["body"].endswith("<Response/>")
    queued = drain(aws["sqs"], queue_url(stack, "InboundQueue"))
    assert len(queued) == 1
    assert SAMPLE_TEXTER_NUMBER not in queued[0]["Body"]
    text = json.loads(queued[0]["Body"])
    pepper = aws["secretsmanager"].get_secret_value(SecretId=stack.resources["TexterIdPepperSecret"].physical_id)
    assert text["texter_id"] == texter_id_for(SAMPLE_TEXTER_NUMBER, pepper["SecretString"])
    assert queued[0]["Attributes"]["MessageGroupId"] == text["texter_id"]
    assert queued[0]["Attributes"]["MessageDeduplicationId"] == text["message_sid"]


def test_replayed_webhook_is_processed_once(webhook: Any, aws: Any, stack: Any) -> None:
    # given a text that was already accepted
    event = text_event("replay me", from_number="+15555550111", sid="SM" + "1" * 32)
    assert webhook(event)["statusCode"] == 200

    # when Twilio (or an attacker) sends exactly the same request again
    replay = webhook(event)

    # then it is answered, but only one text is ever queued
    assert replay["statusCode"] == 200
    assert len(drain(aws["sqs"], queue_url(stack, "InboundQueue"))) == 1


@pytest.mark.parametrize(
    "signature",
    [None, "bm90IGEgcmVhbCBzaWduYXR1cmU=", RequestValidator("wrong-token").compute_signature("https://x", {})],
)
def test_missing_or_forged_signature_is_forbidden_and_nothing_is_queued(
    webhook: Any, aws: Any, stack: Any, signature: str | None
) -> None:
    # given a webhook whose signature is missing or not made with our auth token
    event = load_event("inbound_webhook/signed_text.json")
    if signature is None:
        del event["headers"]["x-twilio-signature"]
    else:
        event["headers"]["x-twilio-signature"] = signature

    # when it arrives
    response = webhook(event)

    # then 403 and nothing queued
    assert response["statusCode"] == 403
    assert drain(aws["sqs"], queue_url(stack, "InboundQueue")) == []


def test_signature_over_a_different_url_is_forbidden(webhook: Any, aws: Any, stack: Any) -> None:
    # given a request signed for another URL (e.g. a captured request replayed to another path)
    form = twilio_inbound_form("hi", message_sid="SM" + "2" * 32)
    event = signed_webhook_event("/sms/inbound", form)
    event["headers"]["x-twilio-signature"] = RequestValidator(SAMPLE_AUTH_TOKEN).compute_signature(
        "https://evil.example.org/sms/inbound", form
    )

    # then it is refused
    assert webhook(event)["statusCode"] == 403
    assert drain(aws["sqs"], queue_url(stack, "InboundQueue")) == []


def test_signed_but_without_from_is_a_bad_request(webhook: Any, aws: Any, stack: Any) -> None:
    response = webhook(load_event("inbound_webhook/signed_without_from.json"))
    assert response["statusCode"] == 400
    assert drain(aws["sqs"], queue_url(stack, "InboundQueue")) == []


def test_signed_but_without_message_sid_is_a_bad_request(webhook: Any, aws: Any, stack: Any) -> None:
    form = {key: value for key, value in twilio_inbound_form("hi", message_sid="SMx").items() if key != "MessageSid"}
    assert webhook(signed_webhook_event("/sms/inbound", form))["statusCode"] == 400


@pytest.mark.parametrize("raw_body", ["%%%not=a&&form", "=", "a=1&=&b"])
def test_signed_but_unparsable_body_is_a_bad_request_never_a_5xx(webhook: Any, aws: Any, raw_body: str) -> None:
    # given a body that is not a form, signed the way Twilio signs a request with no form parameters
    event = load_event("inbound_webhook/signed_text.json")
    event["body"] = base64.b64encode(raw_body.encode()).decode()
    event["headers"]["x-twilio-signature"] = RequestValidator(SAMPLE_AUTH_TOKEN).compute_signature(
        "https://sms.example.org/sms/inbound", {}
    )

    # then 400 (or 403 if what was signed can't be matched), never a server error
    assert webhook(event)["statusCode"] in (400, 403)


def test_invalid_base64_body_is_refused_without_a_5xx(webhook: Any) -> None:
    event = load_event("inbound_webhook/signed_text.json")
    event["body"] = "***not base64***"
    assert webhook(event)["statusCode"] in (400, 403)


def test_first_text_becomes_a_welcome_on_the_outbound_queue(webhook: Any, engine: Any, aws: Any, stack: Any) -> None:
    # given a first text that went through the webhook
    assert (
        webhook(text_event("hola, necesito ayuda", from_number="+15555550122", sid="SM" + "3" * 32))["statusCode"]
        == 200
    )

    # when the engine handles the inbound queue
    result = engine()

    # then nothing failed, and one Spanish welcome waits on the outbound queue, in the texter's group
    assert result == {"batchItemFailures": []}
    outbound = drain(aws["sqs"], queue_url(stack, "OutboundQueue"))
    assert len(outbound) == 1
    welcome = json.loads(outbound[0]["Body"])
    assert welcome["purpose"] == "welcome"
    assert "SÍ o NO" in welcome["body"]
    assert "+15555550122" not in outbound[0]["Body"]


def test_no_plaintext_number_is_stored_in_any_table(webhook: Any, engine: Any, aws: Any, stack: Any) -> None:
    # given a texter who texted and answered the consent question
    number = "+15555550133"
    webhook(text_event("hello?", from_number=number, sid="SM" + "4" * 32))
    engine()
    webhook(text_event("yes", from_number=number, sid="SM" + "5" * 32))
    engine()
    drain(aws["sqs"], queue_url(stack, "OutboundQueue"))

    # then no item of any table contains the number, in any common spelling
    spellings = {number, number[1:], number[2:], "555-555-0133", "5555550133"}
    for logical_id, resource in stack.resources.items():
        if resource.resource_type != "AWS::DynamoDB::Table":
            continue
        for page in aws["dynamodb"].get_paginator("scan").paginate(TableName=resource.physical_id):
            dumped = json.dumps(page["Items"])
            assert not any(spelling in dumped for spelling in spellings), f"number found in {logical_id}"


def test_sender_texts_through_twilio_and_records_the_delivery(
    as_function: Any, lambda_context: Any, aws: Any, stack: Any, twilio_fake: Any
) -> None:
    # given a text on the outbound queue, its recipient's number encrypted under the line's key
    number = "+15555550144"
    key_id = stack.functions["SendSmsFunction"].environment["PHONE_KEY_ID"]
    from peerline.adapters.kms import KmsNumberVault

    outbound = {
        "outbound_id": "SMtest:welcome",
        "recipient_id": "t" * 64,
        "encrypted_to": KmsNumberVault(key_id, aws["kms"]).encrypt(number, texter_number("t" * 64)),
        "body": "Peerline: welcome",
        "purpose": "welcome",
        "conversation_id": None,
        "texter_id": "t" * 64,
    }
    message = {"MessageId": "m-1", "ReceiptHandle": "r-1", "Body": json.dumps(outbound), "MD5OfBody": ""}
    # when the sender handles it (twice: a redelivery must not text twice)
    with as_function("SendSmsFunction", TWILIO_API_BASE_URL=twilio_fake.url) as handler:
        first = handler.lambda_handler(sqs_event([message]), lambda_context)
        second = handler.lambda_handler(sqs_event([message]), lambda_context)

    # then exactly one text reached Twilio, from the line's number, and its delivery is recorded (by SID only)
    assert first == second == {"batchItemFailures": []}
    sent = twilio_fake.messages(to=number)
    assert [m["body"] for m in sent] == ["Peerline: welcome"]
    assert sent[0]["from"] == SAMPLE_LINE_NUMBER
    record = aws["dynamodb"].get_item(
        TableName=stack.resources["DeliveriesTable"].physical_id, Key={"message_sid": {"S": sent[0]["sid"]}}
    )["Item"]
    assert from_item(record)["delivery_status"] == "queued"


def test_sender_retries_twilio_5xx_then_reports_the_item_failed(
    as_function: Any, lambda_context: Any, aws: Any, stack: Any, twilio_fake: Any
) -> None:
    # given Twilio failing with 500 more often than the sender retries inline
    number = "+15555550155"
    key_id = stack.functions["SendSmsFunction"].environment["PHONE_KEY_ID"]
    from peerline.adapters.kms import KmsNumberVault

    twilio_fake.inject_fault(status=500, code=20500, message="Internal", count=5, to=number)
    outbound = {
        "outbound_id": "SMtest:retry",
        "recipient_id": "u" * 64,
        "encrypted_to": KmsNumberVault(key_id, aws["kms"]).encrypt(number, texter_number("u" * 64)),
        "body": "retry me",
        "purpose": "welcome",
        "texter_id": "u" * 64,
    }
    message = {"MessageId": "m-2", "ReceiptHandle": "r-2", "Body": json.dumps(outbound), "MD5OfBody": ""}
    # when the sender handles it (with a second, healthy text in the same batch)
    healthy = {**outbound, "outbound_id": "SMtest:healthy", "recipient_id": "v" * 64, "texter_id": "v" * 64,
               "encrypted_to": KmsNumberVault(key_id, aws["kms"]).encrypt("+15555550156", texter_number("v" * 64)), "body": "healthy"}  # fmt: skip
    other = {"MessageId": "m-3", "ReceiptHandle": "r-3", "Body": json.dumps(healthy), "MD5OfBody": ""}
    with as_function("SendSmsFunction", TWILIO_API_BASE_URL=twilio_fake.url, RETRY_BASE_DELAY_SECONDS="0") as handler:
        result = handler.lambda_handler(sqs_event([message, other]), lambda_context)
        # then only the failing item is reported (the queue retries it, then the DLQ keeps it); the other is sent
        assert result == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
        assert twilio_fake.messages(to=number) == []
        assert [m["body"] for m in twilio_fake.messages(to="+15555550156")] == ["healthy"]
        # and once Twilio recovers, the retry goes through exactly once
        twilio_fake.clear_faults()
        assert handler.lambda_handler(sqs_event([message]), lambda_context) == {"batchItemFailures": []}
    assert [m["body"] for m in twilio_fake.messages(to=number)] == ["retry me"]


def test_status_callback_records_delivery_and_ignores_regressions(
    as_function: Any, lambda_context: Any, aws: Any, stack: Any
) -> None:
    table = stack.resources["DeliveriesTable"].physical_id

    def callback(status: str) -> int:
        form = {"MessageSid": "SM" + "d" * 32, "MessageStatus": status, "AccountSid": SAMPLE_ACCOUNT_SID}
        with as_function("StatusCallbackFunction") as handler:
            response = handler.lambda_handler(signed_webhook_event("/sms/status", form), lambda_context)
        return int(response["statusCode"])

    # when delivered arrives before sent (Twilio guarantees no order)
    assert callback("delivered") == 200
    assert callback("sent") == 200

    # then the record stays delivered
    item = aws["dynamodb"].get_item(TableName=table, Key={"message_sid": {"S": "SM" + "d" * 32}})["Item"]
    assert from_item(item)["delivery_status"] == "delivered"


def test_status_callback_with_forged_signature_is_forbidden(as_function: Any, lambda_context: Any) -> None:
    event = load_event("status_callback/delivered.json")
    event["headers"]["x-twilio-signature"] = "forged"
    with as_function("StatusCallbackFunction"):
        assert load_handler("status_callback").lambda_handler(event, lambda_context)["statusCode"] == 403


def _outbound_message(aws: Any, stack: Any, *, number: str, outbound_id: str, texter_id: str) -> dict[str, Any]:
    from peerline.adapters.kms import KmsNumberVault

    key_id = stack.functions["SendSmsFunction"].environment["PHONE_KEY_ID"]
    body = {
        "outbound_id": outbound_id,
        "recipient_id": texter_id,
        "encrypted_to": KmsNumberVault(key_id, aws["kms"]).encrypt(number, texter_number(texter_id)),
        "body": "hello",
        "purpose": "welcome",
        "texter_id": texter_id,
    }
    return {"MessageId": outbound_id, "ReceiptHandle": "r", "Body": json.dumps(body), "MD5OfBody": ""}


def test_twilio_21610_marks_the_texter_opted_out_without_retrying(
    webhook: Any, engine: Any, as_function: Any, lambda_context: Any, aws: Any, stack: Any, twilio_fake: Any
) -> None:
    # given a texter known to the line
    number = "+15555550166"
    webhook(text_event("hi", from_number=number, sid="SM" + "6" * 32))
    engine()
    queued = drain(aws["sqs"], queue_url(stack, "OutboundQueue"))
    texter_id = json.loads(queued[0]["Body"])["texter_id"]
    # and Twilio answering that the number has unsubscribed (they texted STOP to the carrier)
    twilio_fake.inject_fault(status=400, code=21610, message="Attempt to send to unsubscribed recipient", to=number)

    # when the sender tries to text them
    with as_function("SendSmsFunction", TWILIO_API_BASE_URL=twilio_fake.url):
        result = load_handler("send_sms").lambda_handler(sqs_event(queued), lambda_context)

    # then the text is not retried, and the texter is marked opted out
    assert result == {"batchItemFailures": []}
    texter = aws["dynamodb"].get_item(
        TableName=stack.resources["TextersTable"].physical_id, Key={"texter_id": {"S": texter_id}}
    )["Item"]
    assert from_item(texter)["opted_out"] is True
    assert 21610 in _refusal_codes(aws, stack)


def test_twilio_21211_invalid_number_is_recorded_and_not_retried(
    as_function: Any, lambda_context: Any, aws: Any, stack: Any, twilio_fake: Any
) -> None:
    message = _outbound_message(aws, stack, number="+1555", outbound_id="SMbad:welcome", texter_id="w" * 64)
    with as_function("SendSmsFunction", TWILIO_API_BASE_URL=twilio_fake.url):
        result = load_handler("send_sms").lambda_handler(sqs_event([message]), lambda_context)
    assert result == {"batchItemFailures": []}
    assert 21211 in _refusal_codes(aws, stack)


def _refusal_codes(aws: Any, stack: Any) -> list[int]:
    """The error codes of the refusals recorded (keyed at random: nothing, not even our outbound id, names them)."""
    items = aws["dynamodb"].scan(TableName=stack.resources["DeliveriesTable"].physical_id)["Items"]
    return [int(from_item(item)["error_code"]) for item in items if item["message_sid"]["S"].startswith("failed#")]


@pytest.mark.parametrize(
    ("function_folder", "logical_id"),
    [("send_sms", "SendSmsFunction"), ("conversation_engine", "ConversationEngineFunction")],
)
def test_poison_message_fails_alone_and_is_left_for_the_dead_letter_queue(
    as_function: Any, lambda_context: Any, aws: Any, stack: Any, function_folder: str, logical_id: str
) -> None:
    # given a batch with a message nobody can read, in another FIFO group than a readable one
    poison = {"MessageId": "poison", "ReceiptHandle": "p", "Body": "{not json", "MD5OfBody": "",
              "Attributes": {"MessageGroupId": "group-a"}}  # fmt: skip
    event = sqs_event([poison])
    event["Records"][0]["attributes"] = {"MessageGroupId": "group-a"}

    # when the consumer handles it, it raises nothing unexpected and reports the poison item as failed,
    # so SQS redelivers it until maxReceiveCount moves it to the DLQ (redrive policy, see tests/infra)
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    with as_function(logical_id), pytest.raises(BatchProcessingError):
        load_handler(function_folder).lambda_handler(event, lambda_context)


def test_sample_engine_batch_is_handled_in_order(as_function: Any, lambda_context: Any, aws: Any, stack: Any) -> None:
    # given the sample batch: a first text, then "YES", from one texter
    drain(aws["sqs"], queue_url(stack, "OutboundQueue"))
    with as_function("ConversationEngineFunction"):
        result = load_handler("conversation_engine").lambda_handler(
            load_event("conversation_engine/sqs_batch.json"), lambda_context
        )

    # then both are applied: welcome, then thanks and "finding someone", in that order
    assert result == {"batchItemFailures": []}
    purposes = [json.loads(m["Body"])["purpose"] for m in drain(aws["sqs"], queue_url(stack, "OutboundQueue"))]
    assert purposes == ["welcome", "consent_given", "finding"]


def test_sample_timer_batch_is_stale_and_does_nothing(
    as_function: Any, lambda_context: Any, aws: Any, stack: Any
) -> None:
    # the sample timer's conversation does not exist here: a timer for a moved-on state does nothing
    drain(aws["sqs"], queue_url(stack, "OutboundQueue"))
    with as_function("ConversationTimersFunction"):
        result = load_handler("conversation_timers").lambda_handler(
            load_event("conversation_timers/sqs_batch.json"), lambda_context
        )
    assert result == {"batchItemFailures": []}
    assert drain(aws["sqs"], queue_url(stack, "OutboundQueue")) == []


def test_text_that_cannot_be_queued_gets_a_direct_reply_with_emergency_resources(
    as_function: Any, lambda_context: Any, aws: Any
) -> None:
    # given the inbound queue is unreachable
    event = text_event("please help", from_number="+15555550188", sid="SM" + "8" * 32)
    broken = "http://127.0.0.1:9/000000000000/missing.fifo"

    # when a genuine text arrives
    with as_function("InboundWebhookFunction", INBOUND_QUEUE_URL=broken):
        response = load_handler("inbound_webhook").lambda_handler(event, lambda_context)

    # then Twilio is told to text the texter back at once (TwiML <Message>), never silence or a 5xx
    assert response["statusCode"] == 200
    assert "<Message>" in response["body"]
    assert "988" in response["body"] and "text again" in response["body"]


@pytest.mark.parametrize(
    ("function_folder", "logical_id", "variable"),
    [
        ("conversation_engine", "ConversationEngineFunction", "TEXTERS_TABLE"),
        ("conversation_timers", "ConversationTimersFunction", "TIMER_QUEUE_URL"),
        ("send_sms", "SendSmsFunction", "LINE_NUMBER"),
        ("volunteer_api", "VolunteerApiFunction", "LIBRARY_TABLE"),
    ],
)
def test_a_function_missing_a_variable_fails_at_its_cold_start_naming_it(
    stack: Any, monkeypatch: pytest.MonkeyPatch, function_folder: str, logical_id: str, variable: str
) -> None:
    # given the function's template environment without one variable it needs
    from peerline import composition
    from peerline.settings import SettingsError

    for key, value in stack.functions[logical_id].environment.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv(variable)
    composition.reset()
    spec = importlib.util.spec_from_file_location(
        f"cold_start_{function_folder}", ROOT / "functions" / function_folder / "handler.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)

    # when its handler is imported (the cold start), then the init fails, naming the variable
    with pytest.raises(SettingsError, match=f"{variable}: missing"):
        spec.loader.exec_module(module)
    composition.reset()


def test_the_engine_logs_no_texter_id_not_even_a_prefix(
    webhook: Any, as_function: Any, lambda_context: Any, aws: Any, stack: Any
) -> None:
    # given a first text that went through the webhook, and the texter id it was given
    assert webhook(text_event("hi", from_number="+15555550177", sid="SM" + "7" * 32))["statusCode"] == 200
    queued = drain(aws["sqs"], queue_url(stack, "InboundQueue"))
    texter_id = json.loads(queued[0]["Body"])["texter_id"]

    # when the engine handles it, its log written where we can read it (the logger's stream, whatever pytest did)
    written = io.StringIO()
    with as_function("ConversationEngineFunction") as handler:
        stream_handler = cast("logging.StreamHandler[Any]", handler.logger.registered_handler)
        previous = stream_handler.setStream(written)
        try:
            assert handler.lambda_handler(sqs_event(queued), lambda_context) == {"batchItemFailures": []}
        finally:
            stream_handler.setStream(previous)

    # then its log names the message, never the texter (logs outlive an erasure)
    logged = written.getvalue()
    assert "text handled" in logged
    assert texter_id[:8] not in logged
