"""Handover and close: availability, transfer, a supervisor's assign, and closing a conversation."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from peerline.conversation import ConcurrentUpdateError
from peerline.escalation import unlinked_at_close
from peerline.lifecycle import ConversationChange, LoadChange, closing, transition, unlinked_texter
from peerline.models import (
    ConversationRecord,
    ConversationState,
    ConversationTimer,
    VolunteerRecord,
    VolunteerStatus,
    offer_expiry_timer,
)
from peerline.phone import texter_alias
from peerline.routing.eligibility import (
    by_load_then_name,
    could_take,
    may_take,
)
from peerline.routing.model import (
    MAX_ATTEMPTS,
    ConflictError,
    NotEligibleError,
    NotFoundError,
)
from peerline.routing.offers import Offers

logger = logging.getLogger(__name__)


class Handover(Offers):
    """Who holds a conversation next, and closing it (wrap-up or inactivity)."""

    def assign(self, caller: VolunteerRecord, conversation_id: str, to: str) -> ConversationRecord:
        """A supervisor hands a waiting conversation to a volunteer (an offer to them) or takes it themselves.

        Declines and the crisis hold don't apply: a person chose. Capacity, status, language and certification do.
        """
        if not caller.is_supervisor:
            raise NotEligibleError("supervisors only")
        now = self.clock()
        conversation = self.repository.get_conversation(conversation_id)
        if conversation is None or not conversation.is_open:
            raise NotFoundError("no such conversation")
        if conversation.state is not ConversationState.WAITING:
            raise ConflictError(f"the conversation is {conversation.state}, not waiting: it can't be assigned now")
        target = self.repository.get_volunteer(to)
        if target is None or not target.active:
            raise NotFoundError("no such volunteer")
        if to == caller.volunteer_id:
            self._check_can_take(target, conversation, now, require_available=False)
            try:
                return self.claim(conversation, target, now)
            except ConcurrentUpdateError as error:
                raise ConflictError("the conversation or your load changed meanwhile; try again") from error
        self._check_can_take(target, conversation, now, require_available=True)
        try:
            self.offer(conversation, target, now)
        except ConcurrentUpdateError as error:
            raise ConflictError(f"{target.display_name} or the conversation changed meanwhile; try again") from error
        offered = self.repository.get_conversation(conversation_id)
        assert offered is not None
        return offered

    def _check_can_take(
        self, volunteer: VolunteerRecord, conversation: ConversationRecord, now: datetime, *, require_available: bool
    ) -> None:
        """Say why a named volunteer can't take the conversation (409, readable), or nothing."""
        name = volunteer.display_name
        if not may_take(volunteer, now.date()):
            raise ConflictError(f"{name} can't take conversations (certification expired, or not a volunteer)")
        if require_available and volunteer.status is not VolunteerStatus.AVAILABLE:
            raise ConflictError(f"{name} is {volunteer.status}, not available")
        if volunteer.status is VolunteerStatus.OFFLINE:
            raise ConflictError(f"{name} is offline")
        if volunteer.load >= volunteer.max_concurrent:
            raise ConflictError(f"{name} is at their maximum of {volunteer.max_concurrent} conversations")
        if conversation.language not in volunteer.languages:
            raise ConflictError(f"{name} doesn't speak the texter's language ({conversation.language})")

    def transfer_candidates(self, caller: VolunteerRecord, conversation_id: str) -> list[VolunteerRecord]:
        """Colleagues the caller could hand the conversation to: available, eligible, under their cap."""
        conversation = self.repository.get_conversation(conversation_id)
        if conversation is None or not self.may_see(caller, conversation):
            raise NotFoundError("no such conversation")
        today = self.clock().date()
        return by_load_then_name(
            volunteer
            for volunteer in self.repository.available_volunteers()
            if volunteer.volunteer_id not in (caller.volunteer_id, conversation.volunteer_id)
            and could_take(volunteer, conversation, today)
        )

    def set_availability(self, volunteer_id: str, status: VolunteerStatus) -> VolunteerRecord:
        """Change the caller's status. Offline: their offers move on at once, their active conversations are
        flagged for supervisors. Available: waiting conversations are offered."""
        volunteer = self.volunteer(volunteer_id)
        if not volunteer.active:
            raise NotEligibleError("deactivated")
        updated = self.repository.set_volunteer_status(volunteer_id, status)
        if status is VolunteerStatus.OFFLINE:
            for conversation in self.repository.conversations_held_by(volunteer_id):
                if conversation.state is ConversationState.OFFERED:
                    self.try_commit(conversation, self.back_to_queue(conversation, volunteer_id))
                elif conversation.state is ConversationState.ACTIVE and not conversation.needs_supervisor:
                    flagged = conversation.model_copy(update={"needs_supervisor": True})
                    self.try_commit(
                        conversation,
                        ConversationChange(conversation=flagged, expected_conversation_version=conversation.version),
                    )
        self.route_waiting()
        return updated

    def transfer(self, caller: VolunteerRecord, conversation_id: str, to: str) -> ConversationRecord:
        """Hand an active conversation back to the queue (``to="queue"``) or offer it to another volunteer.

        The conversation never goes back to the one who transferred it away.
        """
        now = self.clock()
        conversation = self.held(conversation_id, caller.volunteer_id, ConversationState.ACTIVE, caller=caller)
        holder = conversation.volunteer_id or caller.volunteer_id
        if to == "queue":
            change = self.back_to_queue(conversation, holder)
            self.commit_or_conflict(conversation, change)
            self.schedule_lapse(conversation)
            self.route_waiting()
            assert change.conversation is not None
            return change.conversation
        target = self.repository.get_volunteer(to)
        if target is None or target.volunteer_id == holder:
            raise NotFoundError("no such volunteer to transfer to")
        # A named colleague is a deliberate choice: an earlier decline of theirs doesn't stand in the way.
        if not could_take(target, conversation, now.date()):
            raise NotEligibleError(f"{target.display_name} can't take it now")
        offer_id = uuid.uuid4().hex
        expires = now + timedelta(seconds=self.settings.offer_timeout_seconds)
        waiting = transition(conversation, ConversationState.WAITING)
        offered = transition(waiting, ConversationState.OFFERED).model_copy(
            update={
                "volunteer_id": target.volunteer_id,
                "offer_id": offer_id,
                "offer_expires_at": expires,
                "excluded_volunteers": sorted({*conversation.excluded_volunteers, holder}),
                "excluded_since": {**conversation.excluded_since, holder: now},
                "needs_supervisor": False,
                # Keeps its place in line if the target declines: it has waited since it first waited.
                "waiting_since": conversation.waiting_since or now,
            }
        )
        self.commit_or_conflict(
            conversation,
            ConversationChange(
                conversation=offered,
                expected_conversation_version=conversation.version,
                loads=[
                    LoadChange(holder, -1),
                    LoadChange(
                        target.volunteer_id, +1, require_capacity=True, require_status=VolunteerStatus.AVAILABLE
                    ),
                ],
            ),
        )
        self.timers.schedule(
            [offer_expiry_timer(conversation_id, conversation.texter_id, offer_id, target.volunteer_id, expires)]
        )
        return offered

    def close(
        self,
        caller: VolunteerRecord,
        conversation_id: str,
        *,
        outcome: str,
        tags: Sequence[str],
        reason: str = "wrap_up",
    ) -> None:
        """Close an active conversation with a wrap-up: closing text, bodies deleted, metadata only with consent."""
        conversation = self.held(conversation_id, caller.volunteer_id, ConversationState.ACTIVE, caller=caller)
        self._close(conversation, outcome=outcome, tags=list(tags), reason=reason)

    def close_if_inactive(self, timer: ConversationTimer) -> bool:
        """The inactivity timer: close only if nothing happened since the activity it was scheduled after."""
        conversation = self.repository.get_conversation(timer.conversation_id)
        if (
            conversation is None
            or conversation.state is not ConversationState.ACTIVE
            or conversation.last_activity_at != timer.activity_at
        ):
            return False
        try:
            self._close(conversation, outcome="inactive", tags=[], reason="inactivity")
        except ConflictError:
            return False
        return True

    def _close(self, conversation: ConversationRecord, *, outcome: str, tags: list[str], reason: str) -> None:
        for _ in range(MAX_ATTEMPTS):
            try:
                self.commit(conversation, self._closing(conversation, outcome=outcome, tags=tags, reason=reason))
                break
            except ConcurrentUpdateError:
                # A text from the texter meanwhile (their record moved) is fine: close on the fresh state.
                fresh = self.repository.get_conversation(conversation.conversation_id)
                if (
                    fresh is None
                    or fresh.state is not conversation.state
                    or fresh.volunteer_id != conversation.volunteer_id
                ):
                    raise ConflictError("the conversation changed meanwhile; reload and try again") from None
                conversation = fresh
        else:
            raise ConflictError("the conversation keeps changing; try again")
        # The bodies go before the closing text is queued: a failed send must not leave them behind. If the purge
        # itself fails, the texter still gets the closing text; the bodies' TTL is the safety net.
        try:
            self.repository.delete_messages(conversation.conversation_id)
        except Exception:
            logger.exception("purging a closed conversation's bodies failed; their TTL will remove them")
        name = "closed_inactive" if reason == "inactivity" else "closed"
        self.text_texter(conversation, name, self.replies.text(name, conversation.language))
        self.route_waiting()

    def _closing(
        self, conversation: ConversationRecord, *, outcome: str, tags: list[str], reason: str
    ) -> ConversationChange:
        """Closed (see ``lifecycle.closing``), with the volunteer told why if it closed on its own, and the texter's
        record unlinked from it in the same transaction."""
        now = self.clock()
        notice = None
        if reason == "inactivity":
            alias = texter_alias(conversation.texter_id) if conversation.texter_id else "A texter"
            minutes = self.settings.inactivity_close_minutes
            notice = (
                f"{now:%H:%M} UTC: the conversation with {alias} was closed after {minutes} minutes without a text."
            )
        change = closing(
            conversation,
            reason=reason,
            now=now,
            retention_days=self.settings.retention_days,
            outcome=outcome,
            tags=tags,
            notice=notice,
        )
        texter = self.repository.get_texter(conversation.texter_id) if conversation.texter_id else None
        if texter is not None:
            change.texter = unlinked_texter(texter, conversation, now)
            change.expected_texter_version = texter.version
        if conversation.escalation_id is not None and self.crisis is not None:
            linked = self.crisis.service.linked_to(conversation_id=conversation.conversation_id)
            change.escalations = unlinked_at_close(linked, conversation)
        return change
