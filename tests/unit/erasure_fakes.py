"""In-memory fakes of the Twilio-erasure ports (``peerline.twilio_erasure``)."""

from __future__ import annotations

from collections.abc import Sequence

from peerline.twilio_erasure import MessageErasure, MessageInFlightError


class RecordingErasureQueue:
    """Records each job with the delay it was queued with."""

    def __init__(self) -> None:
        self.scheduled: list[tuple[MessageErasure, int]] = []

    def schedule(self, erasures: Sequence[MessageErasure], *, delay_seconds: int = 0) -> None:
        self.scheduled += [(erasure, delay_seconds) for erasure in erasures]

    @property
    def jobs(self) -> list[MessageErasure]:
        return [job for job, _ in self.scheduled]


class FakeTwilioAccount:
    """Twilio's copy of messages: deleting one in flight is refused (20009); deleting a gone one is done."""

    def __init__(self, *sids: str, in_flight: Sequence[str] = ()) -> None:
        self.held = set(sids)
        self.in_flight = set(in_flight)
        self.delete_calls: list[str] = []

    def delete_with_media(self, message_sid: str) -> None:
        self.delete_calls.append(message_sid)
        if message_sid in self.in_flight:
            raise MessageInFlightError(message_sid)
        self.held.discard(message_sid)


class SetOfOpenConversations:
    def __init__(self, *open_ids: str) -> None:
        self.open = set(open_ids)

    def is_open(self, conversation_id: str) -> bool:
        return conversation_id in self.open
