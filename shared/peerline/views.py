"""Conversations as the dashboard shows them: the record plus what a volunteer needs to choose and to answer.

A ``ConversationSummary`` is more than the conversation record: the first words of the texter's first text (to
choose an offer), when the texter last texted and whether anyone answered since, who holds it, and where its
escalation stands. Those come from the transcript, the volunteer registry and the escalation store; this module
reads them so that every place a summary leaves from (API lists, live pushes, the supervisor's line) says the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from peerline.api_models import ConversationSummary
from peerline.models import ConversationRecord, EscalationRecord, StoredMessage, VolunteerRecord

PREVIEW_CHARACTERS = 120


class TranscriptReader(Protocol):
    def list_messages(self, conversation_id: str) -> Sequence[StoredMessage]: ...

    def get_volunteer(self, volunteer_id: str) -> VolunteerRecord | None: ...


class EscalationReader(Protocol):
    def get(self, escalation_id: str) -> EscalationRecord | None: ...


def preview_of(body: str, limit: int = PREVIEW_CHARACTERS) -> str:
    """The first words of a text, cut at a word boundary: enough to choose, not a transcript."""
    words = " ".join(body.split())
    if len(words) <= limit:
        return words
    cut = words[:limit].rsplit(" ", 1)[0] if " " in words[:limit] else words[:limit]
    return cut.rstrip(",.;:") + "…"


class ConversationViews:
    """Builds ``ConversationSummary`` objects with the transcript-derived fields filled in."""

    def __init__(
        self,
        transcripts: TranscriptReader,
        escalations: EscalationReader | None,
        clock: Callable[[], datetime],
    ) -> None:
        self._transcripts = transcripts
        self._escalations = escalations
        self._clock = clock

    def summary(
        self, conversation: ConversationRecord, *, escalation: EscalationRecord | None = None
    ) -> ConversationSummary:
        """The conversation as a dashboard shows it. ``escalation``: one just created (not yet worth a read)."""
        messages = sorted(
            self._transcripts.list_messages(conversation.conversation_id) if conversation.is_open else [],
            key=lambda message: message.message_key,
        )
        from_texter = [message for message in messages if message.direction == "inbound"]
        replies = [message for message in messages if message.direction == "outbound"]
        last_texter_at = from_texter[-1].at if from_texter else None
        last_reply_at = replies[-1].at if replies else None
        if escalation is None and conversation.escalation_id and self._escalations is not None:
            escalation = self._escalations.get(conversation.escalation_id)
        holder = self._transcripts.get_volunteer(conversation.volunteer_id) if conversation.volunteer_id else None
        return ConversationSummary.of(
            conversation,
            now=self._clock(),
            escalation=escalation,
            preview=preview_of(from_texter[0].body) if from_texter else None,
            last_texter_at=last_texter_at,
            awaiting_reply=last_texter_at is not None and (last_reply_at is None or last_reply_at < last_texter_at),
            volunteer_name=holder.display_name if holder is not None else None,
        )

    def summaries(self, conversations: Sequence[ConversationRecord]) -> list[ConversationSummary]:
        return [self.summary(conversation) for conversation in conversations]
