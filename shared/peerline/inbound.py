"""The inbound webhook's job: check it is Twilio, make the text anonymous, queue it once, answer fast."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import ValidationError

from peerline.models import InboundText
from peerline.phone import is_e164

logger = logging.getLogger(__name__)


class WebhookVerdict(StrEnum):
    ACCEPTED = "accepted"
    FORBIDDEN = "forbidden"  # missing or forged signature: 403, nothing queued
    MALFORMED = "malformed"  # signed, but not a text we can handle: 400, nothing queued
    UNAVAILABLE = "unavailable"  # genuine, but it could not be taken in (secret, KMS, queue): answer the texter directly


@dataclass(frozen=True)
class WebhookRequest:
    """What Twilio sent: the URL it called, its form (None if the body could not be read) and its signature."""

    url: str
    form: Mapping[str, str] | None
    signature: str | None


class SignatureChecker(Protocol):
    def is_valid(self, url: str, params: Mapping[str, str], signature: str | None) -> bool: ...


class NumberVault(Protocol):
    def encrypt(self, number: str) -> str: ...


class InboundQueueOnce(Protocol):
    def enqueue_once(self, text: InboundText) -> None:
        """Queue the text unless a text with the same MessageSid was queued already."""
        ...


def accept_inbound_text(
    request: WebhookRequest,
    *,
    checker: SignatureChecker,
    texter_id_for: Callable[[str], str],
    vault: NumberVault,
    queue: InboundQueueOnce,
    now: datetime,
) -> WebhookVerdict:
    """Validate, pseudonymise and queue one inbound text. Nothing slow happens here."""
    # An unreadable body can still carry a valid signature over the bare URL; check what was signed first.
    if not checker.is_valid(request.url, request.form or {}, request.signature):
        return WebhookVerdict.FORBIDDEN
    form = request.form
    if form is None:
        return WebhookVerdict.MALFORMED
    number = form.get("From", "")
    if not form.get("MessageSid") or not is_e164(number):
        return WebhookVerdict.MALFORMED
    try:
        texter_id = texter_id_for(number)
        encrypted_number = vault.encrypt(number)
    except Exception:
        # The pepper secret or KMS failed: as with a queue failure, the texter is answered, never left in silence.
        logger.exception("inbound text could not be pseudonymised", extra={"message_sid": form["MessageSid"]})
        return WebhookVerdict.UNAVAILABLE
    try:
        text = InboundText(
            message_sid=form["MessageSid"],
            texter_id=texter_id,
            encrypted_number=encrypted_number,
            body=form.get("Body", ""),
            received_at=now,
            num_media=int(form.get("NumMedia") or 0),
            opt_out_type=form.get("OptOutType") or None,
        )
    except (ValidationError, ValueError):
        return WebhookVerdict.MALFORMED
    try:
        queue.enqueue_once(text)
    except Exception:
        # Twilio does not retry a failed webhook: rather than leave the texter in silence, the handler answers
        # them directly (TwiML) with emergency resources and a request to text again.
        logger.exception("inbound text could not be queued", extra={"message_sid": text.message_sid})
        return WebhookVerdict.UNAVAILABLE
    return WebhookVerdict.ACCEPTED


def unavailable_reply(emergency_resources: str) -> str:
    """What a texter is told when their text could not be taken in (both languages: we don't know theirs yet)."""
    return (
        "Peerline: sorry, we couldn't receive your message just now. Please text again in a minute. "
        f"{emergency_resources} / Peerline: no pudimos recibir tu mensaje. Escríbenos de nuevo en un minuto. "
        "Si estás en peligro, llama al 911 o al 988."
    )
