"""Relay and transcript: a volunteer's reply to the texter, and what a volunteer may read."""

from __future__ import annotations

import uuid
from datetime import timedelta

from peerline.lifecycle import ConversationChange
from peerline.models import (
    ConversationRecord,
    ConversationState,
    StoredMessage,
    VolunteerRecord,
)
from peerline.routing.core import RoutingContext
from peerline.routing.model import (
    NotFoundError,
)


class Relay:
    """Replies to the texter, the transcript, and which conversations a volunteer sees."""

    def __init__(self, context: RoutingContext) -> None:
        self._ctx = context

    def send_reply(self, volunteer_id: str, conversation_id: str, body: str) -> StoredMessage:
        """A volunteer's reply: kept with the conversation and texted from the line's number."""
        now = self._ctx.clock()
        conversation = self._ctx.held(conversation_id, volunteer_id, ConversationState.ACTIVE)
        message_id = f"out-{uuid.uuid4().hex}"
        message = StoredMessage(
            conversation_id=conversation_id,
            message_key=f"{now.isoformat()}#{message_id}",
            message_id=message_id,
            direction="outbound",
            body=body,
            at=now,
            expires_at=int((now + timedelta(hours=self._ctx.settings.message_ttl_hours)).timestamp()),
        )
        updated = conversation.model_copy(
            update={"last_activity_at": now, "outbound_count": conversation.outbound_count + 1}
        )
        self._ctx.commit_or_conflict(
            conversation,
            ConversationChange(
                conversation=updated, expected_conversation_version=conversation.version, new_messages=[message]
            ),
        )
        self._ctx.text_texter(conversation, message_id, body, purpose="relay")
        self._ctx.schedule_inactivity(updated, now)
        return message

    def messages(self, caller: VolunteerRecord, conversation_id: str) -> list[StoredMessage]:
        """The transcript, for the volunteer holding the conversation (or a supervisor)."""
        conversation = self._ctx.repository.get_conversation(conversation_id)
        if conversation is None or not self._ctx.may_see(caller, conversation):
            raise NotFoundError("no such conversation")
        return sorted(self._ctx.repository.list_messages(conversation_id), key=lambda message: message.message_key)

    def visible_conversations(self, caller: VolunteerRecord) -> list[ConversationRecord]:
        """The caller's offered and active conversations; supervisors see every open one."""
        if caller.is_supervisor:
            return [c for c in self._ctx.repository.open_conversations() if c.state is not ConversationState.CLOSED]
        return self._ctx.repository.conversations_held_by(caller.volunteer_id)
