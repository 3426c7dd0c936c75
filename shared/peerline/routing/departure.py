"""A deactivated volunteer's conversations move on: offers to the next volunteer, active ones back to the queue."""

from __future__ import annotations

from peerline.models import ConversationState
from peerline.routing.handover import Handover
from peerline.routing.model import MAX_ATTEMPTS, ConflictError


class Departure(Handover):
    """What deactivation means for routing."""

    def release_deactivated(self, volunteer_id: str) -> list[str]:
        """Everything a deactivated volunteer holds goes back to the queue; returns the conversation ids moved.

        Offers and active conversations alike go back with their place in line (``waiting_since`` is kept, so an
        active conversation waits ahead of everyone who texted after it at the same risk, and a high/imminent one
        ahead of everything below it); ``route_waiting`` then offers them to the next eligible volunteer. The queue,
        not a supervisor, because a supervisor is not always on shift while an eligible volunteer usually is, and
        supervisors see the queue anyway. The texter is told nothing special: the next volunteer's "You're now
        texting with …" is the same handover a transfer gives.

        Does nothing for a volunteer who is active again (reactivated before this job ran). A conversation that
        keeps moving meanwhile raises ``ConflictError`` so the job is retried.
        """
        volunteer = self.repository.get_volunteer(volunteer_id)
        if volunteer is not None and volunteer.active:
            return []
        moved: list[str] = []
        for held in self.repository.conversations_held_by(volunteer_id):
            if self._back_to_queue_for_good(held.conversation_id, volunteer_id):
                moved.append(held.conversation_id)
        self.route_waiting()
        return moved

    def _back_to_queue_for_good(self, conversation_id: str, volunteer_id: str) -> bool:
        """Retries on a fresh read: a texter's text meanwhile must not leave the conversation with nobody."""
        for _ in range(MAX_ATTEMPTS):
            conversation = self.repository.get_conversation(conversation_id)
            if (
                conversation is None
                or conversation.volunteer_id != volunteer_id
                or conversation.state not in (ConversationState.OFFERED, ConversationState.ACTIVE)
            ):
                return False  # closed or moved on meanwhile: nothing of theirs any more
            try:
                self.commit_or_conflict(conversation, self.back_to_queue(conversation, volunteer_id))
            except ConflictError:
                continue
            return True
        raise ConflictError(f"conversation {conversation_id} kept changing while its volunteer was deactivated")
