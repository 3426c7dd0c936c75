"""Sending texts through the gateway, and recording what happened to them."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from peerline.delivery import (
    INVALID_TO_NUMBER,
    UNSUBSCRIBED_RECIPIENT,
    RetryPolicy,
    SendOutcome,
    SendResult,
    StatusReport,
    record_delivery_status,
    send_text,
    send_then_erase_later,
)
from peerline.errors import TransientSmsError
from peerline.models import OutboundText
from peerline.twilio_erasure import MessageErasure

from .erasure_fakes import RecordingErasureQueue
from .fakes import (
    InMemoryDeliveryLog,
    RecordingOptOuts,
    RecordingSleep,
    ReversibleVault,
    ScriptedGateway,
    permanent,
    transient,
)

NUMBER = "+15555550001"
TEXTER_ID = "t" * 64


class Sender:
    def __init__(self, *outcomes: Exception | str) -> None:
        self.gateway = ScriptedGateway(*outcomes)
        self.vault = ReversibleVault()
        self.log = InMemoryDeliveryLog()
        self.opt_outs = RecordingOptOuts()
        self.sleep = RecordingSleep()

    def text(self, texter_id: str | None = TEXTER_ID) -> OutboundText:
        return OutboundText(
            outbound_id="SM123:welcome",
            recipient_id=texter_id or "oncall-1",
            encrypted_to=self.vault.encrypt(NUMBER),
            body="Peerline: welcome",
            purpose="welcome",
            texter_id=texter_id,
        )

    def send(self, text: OutboundText | None = None) -> SendOutcome:
        return send_text(
            text or self.text(),
            gateway=self.gateway,
            vault=self.vault,
            log=self.log,
            opt_outs=self.opt_outs,
            retry=RetryPolicy(attempts=3, base_delay_seconds=0.5),
            sleep=self.sleep,
        )


def test_sent_text_goes_to_the_decrypted_number_and_is_recorded_with_its_sid() -> None:
    # given a gateway that accepts the text
    sender = Sender("SMabc")

    # when the text is sent
    result = sender.send()

    # then it went to the number; the log keeps Twilio's sid and the status only (no texter, no conversation, no
    # purpose, no number, no body), and the outcome carries the sid for the erasure
    assert result == SendOutcome(SendResult.SENT, "SMabc")
    assert sender.gateway.sends == [(NUMBER, "Peerline: welcome")]
    assert sender.log.deliveries == {"SMabc": {"status": "queued"}}
    assert sender.sleep.delays == []


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_refusal_is_retried_after_a_pause(status: int) -> None:
    # given a gateway that says "not now" once
    sender = Sender(transient(status), "SMabc")

    # when the text is sent
    result = sender.send()

    # then it was retried after the base delay and sent
    assert result.result is SendResult.SENT
    assert len(sender.gateway.sends) == 2
    assert sender.sleep.delays == [0.5]


def test_retries_back_off_exponentially() -> None:
    # given a gateway that says "not now" twice
    sender = Sender(transient(429), transient(503), "SMabc")

    # when the text is sent
    sender.send()

    # then each pause doubles
    assert sender.sleep.delays == [0.5, 1.0]


def test_transient_refusal_on_the_last_attempt_is_raised() -> None:
    # given a gateway that keeps saying "not now"
    sender = Sender(transient(503), transient(503), transient(503))

    # when the text is sent
    # then the error is raised after the last attempt (the queue retries, then the DLQ keeps it)
    with pytest.raises(TransientSmsError):
        sender.send()
    assert len(sender.gateway.sends) == 3
    assert sender.sleep.delays == [0.5, 1.0]
    assert sender.log.deliveries == {}
    assert sender.log.failures == []


def test_unsubscribed_recipient_is_recorded_marked_opted_out_and_not_retried() -> None:
    # given a gateway that says the recipient opted out (21610)
    sender = Sender(permanent(UNSUBSCRIBED_RECIPIENT))

    # when the text is sent
    result = sender.send()

    # then it is recorded as failed (the error code only), the texter is marked opted out, nothing is retried
    assert result == SendOutcome(SendResult.REFUSED)
    assert sender.log.failures == [{"error_code": 21610}]
    assert sender.opt_outs.opted_out == [TEXTER_ID]
    assert len(sender.gateway.sends) == 1
    assert sender.sleep.delays == []


def test_invalid_number_is_recorded_failed_without_opting_out() -> None:
    # given a gateway that says the number is invalid (21211)
    sender = Sender(permanent(INVALID_TO_NUMBER))

    # when the text is sent
    result = sender.send()

    # then it is recorded as failed, not retried, and nobody is marked opted out
    assert result.result is SendResult.REFUSED
    assert [failure["error_code"] for failure in sender.log.failures] == [21211]
    assert sender.opt_outs.opted_out == []
    assert len(sender.gateway.sends) == 1


def test_unsubscribed_non_texter_is_recorded_without_marking_anyone() -> None:
    # given a text to someone who is not a texter (e.g. an on-call page), refused with 21610
    sender = Sender(permanent(UNSUBSCRIBED_RECIPIENT))

    # when it is sent
    result = sender.send(sender.text(texter_id=None))

    # then the refusal is recorded and no texter is marked
    assert result.result is SendResult.REFUSED
    assert len(sender.log.failures) == 1
    assert sender.opt_outs.opted_out == []


# ---------------------------------------------------------------- erasure of what was sent
def _text(conversation_id: str | None) -> OutboundText:
    return OutboundText(
        outbound_id="c1:joined",
        recipient_id=TEXTER_ID,
        encrypted_to="ciphertext",
        body="Peerline: Sam is joining you now",
        purpose="joined",
        conversation_id=conversation_id,
        texter_id=TEXTER_ID,
    )


def test_a_sent_text_is_queued_for_erasure_with_its_conversation_and_nothing_else() -> None:
    # given a send that Twilio accepted as SMabc
    erasures = RecordingErasureQueue()

    # when the sender sends a text of conversation c1
    outcome = send_then_erase_later(
        _text("c1"), send_once=lambda text: SendOutcome(SendResult.SENT, "SMabc").as_record(), erasures=erasures
    )

    # then its erasure waits for c1 to close; the job names no texter
    assert outcome == SendOutcome(SendResult.SENT, "SMabc")
    assert [job.model_dump() for job in erasures.jobs] == [
        {"message_sid": "SMabc", "conversation_id": "c1", "in_flight_refusals": 0}
    ]


def test_a_refused_text_has_nothing_to_erase() -> None:
    # given a send that Twilio refused (no message was created)
    erasures = RecordingErasureQueue()

    # when the sender handles it
    send_then_erase_later(
        _text("c1"), send_once=lambda text: SendOutcome(SendResult.REFUSED).as_record(), erasures=erasures
    )

    # then no erasure is queued
    assert erasures.jobs == []


class _FailingOnceQueue(RecordingErasureQueue):
    """Fails the first time (SQS unavailable), then records."""

    def __init__(self) -> None:
        super().__init__()
        self.failures_left = 1

    def schedule(self, erasures: Sequence[MessageErasure], *, delay_seconds: int = 0) -> None:
        if self.failures_left:
            self.failures_left -= 1
            raise ConnectionError("SQS unavailable")
        super().schedule(erasures, delay_seconds=delay_seconds)


def test_a_retried_send_queues_the_erasure_from_the_remembered_outcome_without_texting_again() -> None:
    # given a once-only send (as Powertools Idempotency keeps it: the first outcome, by outbound id) and an
    # erasure queue that fails the first time
    sends: list[str] = []
    remembered: dict[str, object] = {}

    def send_once(text: OutboundText) -> object:
        if text.outbound_id not in remembered:
            sends.append(text.outbound_id)
            remembered[text.outbound_id] = SendOutcome(SendResult.SENT, "SMabc").as_record()
        return remembered[text.outbound_id]

    erasures = _FailingOnceQueue()
    with pytest.raises(ConnectionError):
        send_then_erase_later(_text("c1"), send_once=send_once, erasures=erasures)

    # when the queue retries the record
    send_then_erase_later(_text("c1"), send_once=send_once, erasures=erasures)

    # then the text went out once, and its erasure is queued with the first send's sid
    assert sends == ["c1:joined"]
    assert [job.message_sid for job in erasures.jobs] == ["SMabc"]


def test_an_idempotency_record_from_before_sids_were_remembered_reads_as_an_outcome_without_sid() -> None:
    # given / when / then
    assert SendOutcome.from_record("sent") == SendOutcome(SendResult.SENT)


# ---------------------------------------------------------------- status callbacks
def _sent_log() -> InMemoryDeliveryLog:
    log = InMemoryDeliveryLog()
    log.record_sent(message_sid="SMabc", status="queued")
    return log


def test_status_callbacks_in_order_are_recorded() -> None:
    # given a sent text
    log = _sent_log()

    # when Twilio reports it sent, then delivered
    results = [record_delivery_status(StatusReport("SMabc", status, None), log=log) for status in ("sent", "delivered")]

    # then both are recorded
    assert results == [True, True]
    assert log.deliveries["SMabc"]["status"] == "delivered"


def test_status_regression_is_ignored() -> None:
    # given a text already reported delivered
    log = _sent_log()
    record_delivery_status(StatusReport("SMabc", "delivered", None), log=log)

    # when a late "sent" callback arrives
    recorded = record_delivery_status(StatusReport("SMabc", "sent", None), log=log)

    # then it is ignored and the status stays delivered
    assert recorded is False
    assert log.deliveries["SMabc"]["status"] == "delivered"


def test_failure_callback_records_its_error_code() -> None:
    # given a sent text
    log = _sent_log()

    # when Twilio reports a failure
    record_delivery_status(StatusReport("SMabc", "failed", 30008), log=log)

    # then it is recorded with the code
    assert log.deliveries["SMabc"]["error_code"] == 30008


def test_status_report_reads_twilio_callback_form() -> None:
    # given / when / then
    form = {"MessageSid": "SMabc", "MessageStatus": "Delivered", "ErrorCode": ""}
    assert StatusReport.from_form(form) == StatusReport("SMabc", "delivered", None)


def test_status_report_reads_legacy_sms_fields_and_error_code() -> None:
    # given / when / then
    form = {"SmsSid": "SMabc", "SmsStatus": "undelivered", "ErrorCode": "21610"}
    assert StatusReport.from_form(form) == StatusReport("SMabc", "undelivered", 21610)


@pytest.mark.parametrize(
    "form",
    [
        {"MessageStatus": "sent"},
        {"MessageSid": "SMabc"},
        {"MessageSid": "SMabc", "MessageStatus": "sent", "ErrorCode": "x"},
    ],
)
def test_status_report_without_what_a_status_needs_is_none(form: dict[str, str]) -> None:
    # given / when / then
    assert StatusReport.from_form(form) is None
