"""Twilio forgets a conversation: every message of it (and its media) is deleted from Twilio once it has closed.

Twilio keeps every message it carries — the body and both numbers — until the account deletes it. So each message
the line sees gets an erasure job the moment its SID is known: the engine queues one for every text a texter sends
(after the commit that decided it), the sender for every text it sends (after Twilio accepted it). A job names only
the message and the conversation it belongs to; it is kept nowhere but on the erasure queue, so nothing at rest
links a message, a texter and a conversation, and the close itself needs no list of SIDs.

The job waits on the queue (re-delayed) while its conversation is open — the texter may still be in it, and
Twilio's copy is how operations trace a delivery problem while it matters — and deletes once the conversation has
closed (or was deleted without consent, or never existed: a HELP or STOP answer outside any conversation, a page).
Twilio refuses to delete a message still in flight (20009): the job is re-delayed, never dropped; a message Twilio
no longer has (404) counts as erased, so a retried or duplicated job is harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

# Twilio: "Cannot delete this resource before it is complete" — the message is still being processed.
MESSAGE_IN_FLIGHT = 20009


class MessageInFlightError(Exception):
    """Twilio refused to delete a message it is still processing (error 20009): try again in a few minutes."""


class MessageErasure(BaseModel):
    """One message to delete from Twilio once its conversation has closed. Never a number, a body or a texter."""

    model_config = ConfigDict(frozen=True)

    message_sid: str = Field(min_length=2, max_length=64)
    # None: the message belongs to no conversation (a HELP or STOP answer, a page), so nothing waits for a close.
    conversation_id: str | None = None
    # How often Twilio said "still in flight"; past the bound the job fails, so the queue's DLQ and alarm take over.
    in_flight_refusals: int = Field(default=0, ge=0)


class ErasureOutcome(StrEnum):
    ERASED = "erased"
    WAITING_FOR_CLOSE = "waiting_for_close"
    IN_FLIGHT = "in_flight"


class TwilioMessages(Protocol):
    def delete_with_media(self, message_sid: str) -> None:
        """Delete the message's media, then the message; done (no error) when Twilio no longer has it.
        ``MessageInFlightError`` when Twilio is still processing it."""
        ...


class OpenConversations(Protocol):
    def is_open(self, conversation_id: str) -> bool: ...


class ErasureQueue(Protocol):
    def schedule(self, erasures: Sequence[MessageErasure], *, delay_seconds: int = 0) -> None: ...


@dataclass(frozen=True)
class ErasureSettings:
    # How often a job looks again at a conversation still open (SQS delays at most 15 minutes).
    recheck_seconds: int = 300
    # Twilio asks to wait "at least 1 minute, then several minutes" before deleting a message just sent.
    in_flight_retry_seconds: int = 120
    # Twilio may take "in rare cases up to 14 days" to finalise a message: with the delays above that is ~15 days
    # of retries before the job fails into the dead-letter queue (and its alarm), where it is never silently lost.
    max_in_flight_refusals: int = 10_000


class ErasureGaveUpError(Exception):
    """Twilio kept refusing to delete a message for longer than the settings allow: the DLQ and its alarm take it."""


def erase_when_closed(
    job: MessageErasure,
    *,
    conversations: OpenConversations,
    twilio: TwilioMessages,
    queue: ErasureQueue,
    settings: ErasureSettings = ErasureSettings(),
) -> ErasureOutcome:
    """Delete the message from Twilio if its conversation has closed; otherwise put the job back, delayed.

    Never before close; never lost: the job is re-queued before this returns, and an error (Twilio down, a queue
    failure) propagates so the queue retries the original job."""
    if job.conversation_id is not None and conversations.is_open(job.conversation_id):
        queue.schedule([job], delay_seconds=settings.recheck_seconds)
        return ErasureOutcome.WAITING_FOR_CLOSE
    try:
        twilio.delete_with_media(job.message_sid)
    except MessageInFlightError:
        refusals = job.in_flight_refusals + 1
        if refusals > settings.max_in_flight_refusals:
            raise ErasureGaveUpError(f"Twilio still refuses to delete {job.message_sid}") from None
        queue.schedule(
            [job.model_copy(update={"in_flight_refusals": refusals})], delay_seconds=settings.in_flight_retry_seconds
        )
        return ErasureOutcome.IN_FLIGHT
    return ErasureOutcome.ERASED
