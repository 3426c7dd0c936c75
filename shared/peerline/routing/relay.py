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
    MessagePage,
    NotFoundError,
)


class Relay(RoutingContext):
    """Replies to the texter, the transcript, and which conversations a volunteer sees."""

    def send_reply(self, volunteer_id: str, conversation_id: str, body: str) -> StoredMessage:
        """A volunteer's reply: kept with the conversation and texted from the line's number."""
        now = self.clock()
        conversation = self.held(conversation_id, volunteer_id, ConversationState.ACTIVE)
        message_id = f"out-{uuid.uuid4().hex}"
        message = StoredMessage(
            conversation_id=conversation_id,
            message_key=f"{now.isoformat()}#{message_id}",
            message_id=message_id,
            direction="outbound",
            body=body,
            at=now,
            volunteer_id=volunteer_id,
            expires_at=int((now + timedelta(hours=self.settings.message_ttl_hours)).timestamp()),
        )
        updated = conversation.model_copy(
            update={"last_activity_at": now, "outbound_count": conversation.outbound_count + 1}
        )
        self.commit_or_conflict(
            conversation,
            ConversationChange(
                conversation=updated, expected_conversation_version=conversation.version, new_messages=[message]
            ),
        )
        self.text_texter(conversation, message_id, body, purpose="relay")
        self.schedule_inactivity(updated, now)
        return message

    def messages(self, caller: VolunteerRecord, conversation_id: str) -> list[StoredMessage]:
        """The transcript, for the volunteer holding the conversation (or a supervisor)."""
        self._visible(caller, conversation_id)
        return sorted(self.repository.list_messages(conversation_id), key=lambda message: message.message_key)

    def message_page(
        self, caller: VolunteerRecord, conversation_id: str, *, limit: int, before: str | None = None
    ) -> MessagePage:
        """The transcript's newest ``limit`` messages before ``before`` (a page's ``older``), oldest first."""
        self._visible(caller, conversation_id)
        return self.repository.message_page(conversation_id, limit=limit, before=before)

    def _visible(self, caller: VolunteerRecord, conversation_id: str) -> ConversationRecord:
        conversation = self.repository.get_conversation(conversation_id)
        if conversation is None or not self.may_see(caller, conversation):
            raise NotFoundError("no such conversation")
        return conversation

    def visible_conversations(self, caller: VolunteerRecord) -> list[ConversationRecord]:
        """The caller's offered and active conversations; supervisors see every open one."""
        if caller.is_supervisor:
            return [c for c in self.repository.open_conversations() if c.state is not ConversationState.CLOSED]
        return self.repository.conversations_held_by(caller.volunteer_id)
