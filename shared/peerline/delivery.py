"""Sending texts and recording what happened to them."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from peerline.errors import PermanentSmsError, TransientSmsError
from peerline.models import OutboundText
from peerline.number_context import NumberOwner, recipient_of

# Twilio error codes with a meaning for us.
UNSUBSCRIBED_RECIPIENT = 21610
INVALID_TO_NUMBER = 21211


class SendResult(StrEnum):
    SENT = "sent"
    REFUSED = "refused"


class SentMessage(Protocol):
    @property
    def message_sid(self) -> str: ...

    @property
    def status(self) -> str: ...


class SmsGateway(Protocol):
    def send(self, to: str, body: str) -> SentMessage: ...


class NumberDecrypter(Protocol):
    def decrypt(self, ciphertext: str, owner: NumberOwner) -> str: ...


class DeliveryLog(Protocol):
    def record_sent(
        self, *, message_sid: str, outbound_id: str, purpose: str, status: str, texter_id: str | None
    ) -> None: ...

    def record_failed(self, *, outbound_id: str, purpose: str, error_code: int, texter_id: str | None) -> None: ...

    def advance_status(self, *, message_sid: str, status: str, error_code: int | None) -> str | None: ...


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
) -> SendResult:
    """Send one text. 429/5xx are retried with backoff, then raised (the queue retries, then the DLQ keeps it);
    permanent refusals are recorded and not retried."""
    number = vault.decrypt(text.encrypted_to, recipient_of(text))
    for attempt in range(retry.attempts):
        try:
            sent = gateway.send(number, text.body)
        except TransientSmsError:
            if attempt == retry.attempts - 1:
                raise
            sleep(retry.base_delay_seconds * 2**attempt)
            continue
        except PermanentSmsError as refusal:
            log.record_failed(
                outbound_id=text.outbound_id, purpose=text.purpose, error_code=refusal.code, texter_id=text.texter_id
            )
            if refusal.code == UNSUBSCRIBED_RECIPIENT and text.texter_id:
                opt_outs.mark_opted_out(text.texter_id)
            return SendResult.REFUSED
        log.record_sent(
            message_sid=sent.message_sid,
            outbound_id=text.outbound_id,
            purpose=text.purpose,
            status=sent.status,
            texter_id=text.texter_id,
        )
        return SendResult.SENT
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


def record_delivery_status(report: StatusReport, *, log: DeliveryLog, opt_outs: OptOuts) -> bool:
    """Record a status callback; False when it was a regression (ignored). A 21610 marks the texter opted out."""
    texter_id = log.advance_status(message_sid=report.message_sid, status=report.status, error_code=report.error_code)
    if texter_id is None:
        return False
    if report.error_code == UNSUBSCRIBED_RECIPIENT and texter_id:
        opt_outs.mark_opted_out(texter_id)
    return True
