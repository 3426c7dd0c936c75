"""Sending texts and recording what happened to them."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from peerline.errors import PermanentSmsError, TransientSmsError
from peerline.models import OutboundText
from peerline.twilio_erasure import ErasureQueue, MessageErasure

# Twilio error codes with a meaning for us.
UNSUBSCRIBED_RECIPIENT = 21610
INVALID_TO_NUMBER = 21211


class SendResult(StrEnum):
    SENT = "sent"
    REFUSED = "refused"


@dataclass(frozen=True)
class SendOutcome:
    """What sending one text did; remembered by the sender's idempotency record (``as_record``), so a retry knows
    Twilio's SID without texting again."""

    result: SendResult
    message_sid: str | None = None

    def as_record(self) -> dict[str, str]:
        return {"result": self.result.value, **({"message_sid": self.message_sid} if self.message_sid else {})}

    @classmethod
    def from_record(cls, record: object) -> SendOutcome:
        """The outcome as remembered; a record from before SIDs were remembered (a plain "sent") has no SID."""
        if isinstance(record, Mapping):
            return cls(SendResult(record["result"]), record.get("message_sid"))
        return cls(SendResult(str(record)))


class SentMessage(Protocol):
    @property
    def message_sid(self) -> str: ...

    @property
    def status(self) -> str: ...


class SmsGateway(Protocol):
    def send(self, to: str, body: str) -> SentMessage: ...


class NumberDecrypter(Protocol):
    def decrypt(self, ciphertext: str) -> str: ...


class DeliveryLog(Protocol):
    """What happened to each text, by Twilio's SID only: never the texter, the conversation or what the text was."""

    def record_sent(self, *, message_sid: str, status: str) -> None: ...

    def record_failed(self, *, error_code: int) -> None: ...

    def advance_status(self, *, message_sid: str, status: str, error_code: int | None) -> bool: ...


class OptOuts(Protocol):
    def mark_opted_out(self, texter_id: str) -> None: ...


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    base_delay_seconds: float = 0.5


def send_text(
    text: OutboundText,
    *,
    gateway: SmsGateway,
    vault: NumberDecrypter,
    log: DeliveryLog,
    opt_outs: OptOuts,
    retry: RetryPolicy = RetryPolicy(),
    sleep: Callable[[float], None] = time.sleep,
) -> SendOutcome:
    """Send one text. 429/5xx are retried with backoff, then raised (the queue retries, then the DLQ keeps it);
    permanent refusals are recorded and not retried."""
    number = vault.decrypt(text.encrypted_to)
    for attempt in range(retry.attempts):
        try:
            sent = gateway.send(number, text.body)
        except TransientSmsError:
            if attempt == retry.attempts - 1:
                raise
            sleep(retry.base_delay_seconds * 2**attempt)
            continue
        except PermanentSmsError as refusal:
            log.record_failed(error_code=refusal.code)
            # Twilio answers 21610 on the send itself for a number that texted STOP: the one place that knows
            # both the refusal and the texter (the delivery log keeps no texter id to find them by later).
            if refusal.code == UNSUBSCRIBED_RECIPIENT and text.texter_id:
                opt_outs.mark_opted_out(text.texter_id)
            return SendOutcome(SendResult.REFUSED)
        log.record_sent(message_sid=sent.message_sid, status=sent.status)
        return SendOutcome(SendResult.SENT, sent.message_sid)
    raise AssertionError("unreachable: the last attempt either returns or raises")


@dataclass(frozen=True)
class StatusReport:
    message_sid: str
    status: str
    error_code: int | None

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> StatusReport | None:
        """Read Twilio's status callback form; None if it lacks what a status needs."""
        message_sid = form.get("MessageSid") or form.get("SmsSid")
        status = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
        code = form.get("ErrorCode") or ""
        if not message_sid or not status or (code and not code.isdigit()):
            return None
        return cls(message_sid=message_sid, status=status, error_code=int(code) if code else None)


def record_delivery_status(report: StatusReport, *, log: DeliveryLog) -> bool:
    """Record a status callback; False when it was a regression (ignored).

    Only the status: a 21610 was already acted on when Twilio refused the send (see ``send_text``), and the log
    holds nothing that could name a texter."""
    return log.advance_status(message_sid=report.message_sid, status=report.status, error_code=report.error_code)


def send_then_erase_later(
    text: OutboundText, *, send_once: Callable[[OutboundText], object], erasures: ErasureQueue
) -> SendOutcome:
    """Send the text once, then queue the sent message's erasure from Twilio (done once its conversation closed).

    Queued after the once-only send, not inside it: if queueing fails the record is retried, the send answers from
    its idempotency record (with Twilio's SID) without texting again, and the erasure is queued then."""
    outcome = SendOutcome.from_record(send_once(text))
    if outcome.message_sid:
        erasures.schedule([MessageErasure(message_sid=outcome.message_sid, conversation_id=text.conversation_id)])
    return outcome
