"""Offers and pulls: waiting texters offered to eligible volunteers (push), taken by a volunteer (pull)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from peerline.conversation import ConcurrentUpdateError
from peerline.lifecycle import ConversationChange, LoadChange, transition
from peerline.models import (
    ConversationRecord,
    ConversationState,
    ConversationTimer,
    VolunteerRecord,
    VolunteerStatus,
    offer_expiry_timer,
)
from peerline.routing.core import RoutingContext
from peerline.routing.eligibility import (
    candidates_for,
    is_crisis,
    may_take,
    queue_order,
)
from peerline.routing.model import (
    MAX_ATTEMPTS,
    ConflictError,
    NotEligibleError,
    NotFoundError,
)


class Offers(RoutingContext):
    """Push offers, accept, decline, expiry, take next, and the crisis hold on new offers."""

    def route_waiting(self) -> list[tuple[str, str]]:
        """Offer waiting conversations, most urgent first, to eligible available volunteers.

        Returns the (conversation id, volunteer id) offers made. Safe to call from anywhere, any number of times.
        """
        now = self.clock()
        lapse = timedelta(seconds=self.settings.decline_lapse_seconds)
        offers: list[tuple[str, str]] = []
        volunteers = {volunteer.volunteer_id: volunteer for volunteer in self.repository.available_volunteers()}
        # Volunteers holding a high/imminent conversation get nothing new unless they chose to (looked up lazily:
        # only for volunteers about to be offered something).
        holds_crisis: dict[str, bool] = {}
        for waiting in queue_order(self.repository.waiting_conversations(), now):
            conversation: ConversationRecord | None = waiting
            for _ in range(MAX_ATTEMPTS):
                assert conversation is not None
                volunteer = self._first_free(conversation, volunteers, holds_crisis, now, lapse)
                if volunteer is None:
                    break
                try:
                    self.offer(conversation, volunteer, now)
                except ConcurrentUpdateError:
                    # The conversation moved, or the volunteer filled up or went away: re-read both and decide
                    # again, so that exclusions added meanwhile (a decline) are honoured.
                    fresh = self.repository.get_volunteer(volunteer.volunteer_id)
                    if fresh is None:
                        volunteers.pop(volunteer.volunteer_id, None)
                    else:
                        volunteers[volunteer.volunteer_id] = fresh
                    conversation = self.repository.get_conversation(waiting.conversation_id)
                    if conversation is None or conversation.state is not ConversationState.WAITING:
                        break
                    continue
                offers.append((conversation.conversation_id, volunteer.volunteer_id))
                volunteers[volunteer.volunteer_id] = volunteer.model_copy(update={"load": volunteer.load + 1})
                break
        return offers

    def _first_free(
        self,
        conversation: ConversationRecord,
        volunteers: dict[str, VolunteerRecord],
        holds_crisis: dict[str, bool],
        now: datetime,
        lapse: timedelta,
    ) -> VolunteerRecord | None:
        """The best candidate for the conversation who isn't holding a crisis conversation (unless they opted in)."""
        while True:
            pool = [volunteer for volunteer in volunteers.values() if not holds_crisis.get(volunteer.volunteer_id)]
            candidates = candidates_for(conversation, pool, now, lapse)
            if not candidates:
                return None
            best = candidates[0]
            if best.volunteer_id not in holds_crisis:
                holds_crisis[best.volunteer_id] = self._holds_crisis(best)
            if not holds_crisis[best.volunteer_id]:
                return best

    def _holds_crisis(self, volunteer: VolunteerRecord) -> bool:
        return not volunteer.offers_during_crisis and self.holds_crisis(volunteer)

    def offer(self, conversation: ConversationRecord, volunteer: VolunteerRecord, now: datetime) -> None:
        offer_id = uuid.uuid4().hex
        expires = now + timedelta(seconds=self.settings.offer_timeout_seconds)
        offered = transition(conversation, ConversationState.OFFERED).model_copy(
            update={"volunteer_id": volunteer.volunteer_id, "offer_id": offer_id, "offer_expires_at": expires}
        )
        self.commit(
            conversation,
            ConversationChange(
                conversation=offered,
                expected_conversation_version=conversation.version,
                loads=[
                    LoadChange(
                        volunteer.volunteer_id, +1, require_capacity=True, require_status=VolunteerStatus.AVAILABLE
                    )
                ],
            ),
        )
        self.timers.schedule(
            [
                offer_expiry_timer(
                    conversation.conversation_id, conversation.texter_id, offer_id, volunteer.volunteer_id, expires
                )
            ]
        )

    def accept(self, volunteer_id: str, conversation_id: str) -> ConversationRecord:
        """Accept the conversation offered to the caller: it becomes active with them."""
        now = self.clock()
        conversation = self.held(conversation_id, volunteer_id, ConversationState.OFFERED)
        if conversation.offer_expires_at is not None and conversation.offer_expires_at < now:
            raise ConflictError("the offer expired; it is going to the next volunteer")
        volunteer = self.volunteer(volunteer_id)
        active = transition(conversation, ConversationState.ACTIVE).model_copy(
            update={"offer_id": None, "offer_expires_at": None, "accepted_at": now, "last_activity_at": now}
        )
        joined = self.joined_text(active, volunteer)
        self.commit_or_conflict(
            conversation,
            ConversationChange(
                conversation=active,
                expected_conversation_version=conversation.version,
                loads=[LoadChange(volunteer_id, 0, forbid_status=VolunteerStatus.OFFLINE, assigned_at=now.isoformat())],
                new_messages=self.kept_text(active, f"joined:{conversation.version}", joined, now),
            ),
        )
        self.text_texter(active, f"joined:{conversation.version}", joined)
        self.schedule_inactivity(active, now)
        return active

    def decline(self, volunteer_id: str, conversation_id: str) -> None:
        """Decline an offer: the conversation goes back to the queue and never to the caller again."""
        conversation = self.held(conversation_id, volunteer_id, ConversationState.OFFERED)
        self.commit_or_conflict(conversation, self.back_to_queue(conversation, volunteer_id))
        self.schedule_lapse(conversation)
        self.route_waiting()

    def expire_offer(self, timer: ConversationTimer) -> bool:
        """An offer's time ran out: next volunteer. A timer for an offer no longer current does nothing."""
        conversation = self.repository.get_conversation(timer.conversation_id)
        if (
            conversation is None
            or conversation.state is not ConversationState.OFFERED
            or conversation.offer_id != timer.offer_id
            or conversation.volunteer_id is None
        ):
            return False
        try:
            self.commit(conversation, self.back_to_queue(conversation, conversation.volunteer_id))
        except ConcurrentUpdateError:
            return False
        self.schedule_lapse(conversation)
        self.route_waiting()
        return True

    def take_next(self, volunteer_id: str) -> ConversationRecord:
        """Atomically claim the most urgent waiting conversation the caller is eligible for."""
        now = self.clock()
        volunteer = self.volunteer(volunteer_id)
        if not may_take(volunteer, now.date()) or volunteer.status is VolunteerStatus.OFFLINE:
            raise NotEligibleError("not certified, deactivated or offline")
        if volunteer.load >= volunteer.max_concurrent:
            raise NotEligibleError("at your maximum of concurrent conversations")
        waiting = [
            c for c in queue_order(self.repository.waiting_conversations(), now) if c.language in volunteer.languages
        ]
        # The caller asked for work: conversations they declined earlier come last, never "nobody is waiting".
        for conversation in sorted(waiting, key=lambda c: volunteer_id in c.excluded_volunteers):
            try:
                return self.claim(conversation, volunteer, now)
            except ConcurrentUpdateError:
                volunteer = self.volunteer(volunteer_id)
                if volunteer.status is VolunteerStatus.OFFLINE or volunteer.load >= volunteer.max_concurrent:
                    raise NotEligibleError("offline, or at your maximum of concurrent conversations") from None
                continue
        raise NotFoundError("nobody you can take is waiting")

    def claim(self, conversation: ConversationRecord, volunteer: VolunteerRecord, now: datetime) -> ConversationRecord:
        """A waiting conversation becomes active with ``volunteer`` at once (take next, a supervisor taking it)."""
        active = transition(conversation, ConversationState.ACTIVE).model_copy(
            update={"volunteer_id": volunteer.volunteer_id, "accepted_at": now, "last_activity_at": now}
        )
        joined = self.joined_text(active, volunteer)
        self.commit(
            conversation,
            ConversationChange(
                conversation=active,
                expected_conversation_version=conversation.version,
                loads=[
                    LoadChange(
                        volunteer.volunteer_id,
                        +1,
                        require_capacity=True,
                        forbid_status=VolunteerStatus.OFFLINE,
                        assigned_at=now.isoformat(),
                    )
                ],
                new_messages=self.kept_text(active, f"joined:{conversation.version}", joined, now),
            ),
        )
        self.text_texter(active, f"joined:{conversation.version}", joined)
        self.schedule_inactivity(active, now)
        return active

    def set_offers_during_crisis(self, volunteer_id: str, enabled: bool) -> VolunteerRecord:
        """The volunteer's own choice to be offered conversations while holding a high/imminent one."""
        volunteer = self.repository.set_volunteer_settings(volunteer_id, offers_during_crisis=enabled)
        if enabled:
            self.route_waiting()
        return volunteer

    def holds_crisis(self, volunteer: VolunteerRecord) -> bool:
        """Whether the volunteer holds (offered or active) a high/imminent conversation."""
        return volunteer.load > 0 and any(
            is_crisis(held) for held in self.repository.conversations_held_by(volunteer.volunteer_id)
        )
