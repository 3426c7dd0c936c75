"""Routing waiting texters to trained volunteers: offers, pulls, relay, transfer and close.

The invariants, each protected by a condition in the same transaction as the change it guards:
- a conversation is never active with two volunteers (every move is conditioned on the conversation's version,
  and accepting on the offer being the caller's);
- a volunteer never holds more than their cap (offers and active conversations count as ``load``; taking one is
  conditioned on ``load < max_concurrent``);
- an accepted offer can't be accepted again, and a stale offer-expiry or inactivity timer does nothing (they are
  conditioned on the offer id / last activity they were scheduled for).
Queries (the waiting index, available volunteers) only nominate candidates; the conditional writes decide.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, Protocol

from peerline.api_models import actor_name
from peerline.conversation import (
    ConcurrentUpdateError,
    CrisisDesk,
    OutboundQueue,
    TimerQueue,
    utc_now,
)
from peerline.escalation import PROMPTS, plan_escalation
from peerline.lifecycle import ConversationChange, LoadChange, closing, transition, unlinked_texter
from peerline.models import (
    ConversationRecord,
    ConversationState,
    ConversationTimer,
    EscalationRecord,
    EscalationStatus,
    OutboundText,
    Role,
    StoredMessage,
    TexterRecord,
    VolunteerRecord,
    VolunteerStatus,
    decline_lapse_timer,
    inactivity_timer,
    offer_expiry_timer,
)
from peerline.phone import texter_alias
from peerline.push import LivePush, NoLivePush, events_for_change, publish_quietly
from peerline.replies import ReplyBook
from peerline.risk import RiskLevel, highest
from peerline.views import ConversationViews

_MAX_ATTEMPTS = 5


class RoutingError(Exception):
    """Base of the errors a volunteer's request can meet."""


class NotFoundError(RoutingError):
    """No such conversation, or not one the caller may see (a volunteer can't tell which)."""


class ConflictError(RoutingError):
    """The conversation is not in a state that allows this (already accepted, closed, no longer offered…)."""


class NotEligibleError(RoutingError):
    """The volunteer can't take conversations now (not certified, deactivated, offline, at their cap…)."""


class RoutingRepository(Protocol):
    def get_conversation(self, conversation_id: str) -> ConversationRecord | None: ...

    def get_volunteer(self, volunteer_id: str) -> VolunteerRecord | None: ...

    def get_texter(self, texter_id: str) -> TexterRecord | None: ...

    def waiting_conversations(self) -> list[ConversationRecord]: ...

    def conversations_held_by(self, volunteer_id: str) -> list[ConversationRecord]: ...

    def open_conversations(self) -> list[ConversationRecord]: ...

    def available_volunteers(self) -> list[VolunteerRecord]: ...

    def set_volunteer_status(self, volunteer_id: str, status: VolunteerStatus) -> VolunteerRecord: ...

    def set_volunteer_settings(self, volunteer_id: str, *, offers_during_crisis: bool) -> VolunteerRecord: ...

    def commit(self, change: ConversationChange) -> None: ...

    def list_messages(self, conversation_id: str) -> list[StoredMessage]: ...

    def delete_messages(self, conversation_id: str) -> int: ...


@dataclass(frozen=True)
class Escalated:
    """What pressing "escalate" did: paged on-call, or found an escalation already open or acknowledged."""

    escalation: EscalationRecord
    outcome: Literal["paged", "already_open", "already_acknowledged"]

    @property
    def message(self) -> str:
        escalation = self.escalation
        if self.outcome == "paged":
            return f"On-call has been paged (code {escalation.code}); the texter got the safety text."
        if self.outcome == "already_open":
            return (
                f"Already escalated (code {escalation.code}): on-call was paged {escalation.page_count} time(s) and "
                "is paged again until someone acknowledges. No new page was sent."
            )
        who = actor_name(escalation.acknowledged_by or "someone")
        at = f"{escalation.acknowledged_at:%H:%M} UTC" if escalation.acknowledged_at else "earlier"
        return f"Already acknowledged by {who} at {at} (code {escalation.code}). No new page was sent."


@dataclass(frozen=True)
class RoutingSettings:
    offer_timeout_seconds: int = 45
    # How long a decline (or an expired offer, or a transfer away) keeps a conversation from that volunteer when
    # nobody else can take it. High/imminent conversations don't wait for it.
    decline_lapse_seconds: int = 120
    inactivity_close_minutes: int = 30
    message_ttl_hours: int = 24
    retention_days: int = 90


def urgency(conversation: ConversationRecord, now: datetime) -> float:
    """How urgent a waiting conversation is: its priority, aged by waiting time (never above imminent)."""
    return conversation.priority.urgency((now - (conversation.waiting_since or now)).total_seconds())


def queue_order(conversations: Sequence[ConversationRecord], now: datetime) -> list[ConversationRecord]:
    """Most urgent first; equal urgency → longest waiting first."""
    return sorted(
        conversations,
        key=lambda conversation: (-urgency(conversation, now), conversation.waiting_since or now),
    )


def may_take(volunteer: VolunteerRecord, today: date) -> bool:
    """Whether the volunteer may be given conversations at all (status and capacity aside)."""
    return (
        volunteer.active
        and volunteer.is_certified(today)
        and bool({Role.VOLUNTEER, Role.SUPERVISOR} & set(volunteer.roles))
    )


def could_take(volunteer: VolunteerRecord, conversation: ConversationRecord, today: date) -> bool:
    """Certified, active, available, speaks the texter's language and under their cap (exclusions aside)."""
    return (
        may_take(volunteer, today)
        and volunteer.status is VolunteerStatus.AVAILABLE
        and volunteer.load < volunteer.max_concurrent
        and conversation.language in volunteer.languages
    )


def is_eligible(volunteer: VolunteerRecord, conversation: ConversationRecord, today: date) -> bool:
    """Could take it, and never declined it, let its offer expire or transferred it away."""
    return could_take(volunteer, conversation, today) and volunteer.volunteer_id not in conversation.excluded_volunteers


def is_crisis(conversation: ConversationRecord) -> bool:
    return conversation.priority in (RiskLevel.HIGH, RiskLevel.IMMINENT)


def exclusion_lapses_at(conversation: ConversationRecord, volunteer_id: str, lapse: timedelta) -> datetime | None:
    """When a volunteer's exclusion from the conversation lapses (None: at once, or never excluded).

    "Never back to a decliner" must not leave a texter waiting while a volunteer is free: an exclusion lapses at
    once for a high/imminent conversation and after ``lapse`` otherwise — used only when nobody else can take it.
    """
    if volunteer_id not in conversation.excluded_volunteers or is_crisis(conversation):
        return None
    # A record from before exclusions were timed counts from when the texter started waiting.
    since = conversation.excluded_since.get(volunteer_id) or conversation.waiting_since or conversation.created_at
    return since + lapse


def candidates_for(
    conversation: ConversationRecord,
    volunteers: Sequence[VolunteerRecord],
    now: datetime,
    lapse: timedelta = timedelta(seconds=120),
) -> list[VolunteerRecord]:
    """Who to offer it to: eligible volunteers, least loaded first, then least recently assigned.

    Only when nobody eligible is left do volunteers whose exclusion has lapsed come back (see
    ``exclusion_lapses_at``).
    """
    able = [volunteer for volunteer in volunteers if could_take(volunteer, conversation, now.date())]
    pool = [volunteer for volunteer in able if volunteer.volunteer_id not in conversation.excluded_volunteers]
    if not pool:
        pool = [
            volunteer
            for volunteer in able
            if (lapses := exclusion_lapses_at(conversation, volunteer.volunteer_id, lapse)) is None or lapses <= now
        ]
    return sorted(pool, key=lambda volunteer: (volunteer.load, volunteer.last_assigned_at, volunteer.volunteer_id))


def next_lapse(
    conversation: ConversationRecord, volunteers: Sequence[VolunteerRecord], now: datetime, lapse: timedelta
) -> datetime | None:
    """The earliest moment an excluded volunteer who could take the conversation becomes a candidate again."""
    moments = [
        lapses
        for volunteer in volunteers
        if could_take(volunteer, conversation, now.date())
        and (lapses := exclusion_lapses_at(conversation, volunteer.volunteer_id, lapse)) is not None
        and lapses > now
    ]
    return min(moments) if moments else None


class Router:
    """Moves conversations between the queue and volunteers, and relays between them."""

    def __init__(
        self,
        repository: RoutingRepository,
        outbound: OutboundQueue,
        timers: TimerQueue,
        replies: ReplyBook,
        settings: RoutingSettings,
        clock: Callable[[], datetime] = utc_now,
        crisis: CrisisDesk | None = None,
        live: LivePush | None = None,
    ) -> None:
        self._crisis = crisis
        # Live dashboard updates, pushed after each committed change.
        self._live: LivePush = live or NoLivePush()
        self._repository = repository
        self._outbound = outbound
        self._timers = timers
        self._replies = replies
        self._settings = settings
        self._clock = clock
        self.views = ConversationViews(repository, crisis.service if crisis is not None else None, clock)

    # ------------------------------------------------------------------ push
    def route_waiting(self) -> list[tuple[str, str]]:
        """Offer waiting conversations, most urgent first, to eligible available volunteers.

        Returns the (conversation id, volunteer id) offers made. Safe to call from anywhere, any number of times.
        """
        now = self._clock()
        lapse = timedelta(seconds=self._settings.decline_lapse_seconds)
        offers: list[tuple[str, str]] = []
        volunteers = {volunteer.volunteer_id: volunteer for volunteer in self._repository.available_volunteers()}
        # Volunteers holding a high/imminent conversation get nothing new unless they chose to (looked up lazily:
        # only for volunteers about to be offered something).
        holds_crisis: dict[str, bool] = {}
        for waiting in queue_order(self._repository.waiting_conversations(), now):
            conversation: ConversationRecord | None = waiting
            for _ in range(_MAX_ATTEMPTS):
                assert conversation is not None
                volunteer = self._first_free(conversation, volunteers, holds_crisis, now, lapse)
                if volunteer is None:
                    break
                try:
                    self._offer(conversation, volunteer, now)
                except ConcurrentUpdateError:
                    # The conversation moved, or the volunteer filled up or went away: re-read both and decide
                    # again, so that exclusions added meanwhile (a decline) are honoured.
                    fresh = self._repository.get_volunteer(volunteer.volunteer_id)
                    if fresh is None:
                        volunteers.pop(volunteer.volunteer_id, None)
                    else:
                        volunteers[volunteer.volunteer_id] = fresh
                    conversation = self._repository.get_conversation(waiting.conversation_id)
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

    def _offer(self, conversation: ConversationRecord, volunteer: VolunteerRecord, now: datetime) -> None:
        offer_id = uuid.uuid4().hex
        expires = now + timedelta(seconds=self._settings.offer_timeout_seconds)
        offered = transition(conversation, ConversationState.OFFERED).model_copy(
            update={"volunteer_id": volunteer.volunteer_id, "offer_id": offer_id, "offer_expires_at": expires}
        )
        self._commit(
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
        self._timers.schedule(
            [
                offer_expiry_timer(
                    conversation.conversation_id, conversation.texter_id, offer_id, volunteer.volunteer_id, expires
                )
            ]
        )

    def accept(self, volunteer_id: str, conversation_id: str) -> ConversationRecord:
        """Accept the conversation offered to the caller: it becomes active with them."""
        now = self._clock()
        conversation = self._held(conversation_id, volunteer_id, ConversationState.OFFERED)
        if conversation.offer_expires_at is not None and conversation.offer_expires_at < now:
            raise ConflictError("the offer expired; it is going to the next volunteer")
        volunteer = self._volunteer(volunteer_id)
        active = transition(conversation, ConversationState.ACTIVE).model_copy(
            update={"offer_id": None, "offer_expires_at": None, "accepted_at": now, "last_activity_at": now}
        )
        joined = self._joined_text(active, volunteer)
        self._commit_or_conflict(
            conversation,
            ConversationChange(
                conversation=active,
                expected_conversation_version=conversation.version,
                loads=[LoadChange(volunteer_id, 0, forbid_status=VolunteerStatus.OFFLINE, assigned_at=now.isoformat())],
                new_messages=self._kept_text(active, f"joined:{conversation.version}", joined, now),
            ),
        )
        self._text_texter(active, f"joined:{conversation.version}", joined)
        self._schedule_inactivity(active, now)
        return active

    def decline(self, volunteer_id: str, conversation_id: str) -> None:
        """Decline an offer: the conversation goes back to the queue and never to the caller again."""
        conversation = self._held(conversation_id, volunteer_id, ConversationState.OFFERED)
        self._commit_or_conflict(conversation, self._back_to_queue(conversation, volunteer_id))
        self._schedule_lapse(conversation)
        self.route_waiting()

    def expire_offer(self, timer: ConversationTimer) -> bool:
        """An offer's time ran out: next volunteer. A timer for an offer no longer current does nothing."""
        conversation = self._repository.get_conversation(timer.conversation_id)
        if (
            conversation is None
            or conversation.state is not ConversationState.OFFERED
            or conversation.offer_id != timer.offer_id
            or conversation.volunteer_id is None
        ):
            return False
        try:
            self._commit(conversation, self._back_to_queue(conversation, conversation.volunteer_id))
        except ConcurrentUpdateError:
            return False
        self._schedule_lapse(conversation)
        self.route_waiting()
        return True

    # ------------------------------------------------------------------ pull
    def take_next(self, volunteer_id: str) -> ConversationRecord:
        """Atomically claim the most urgent waiting conversation the caller is eligible for."""
        now = self._clock()
        volunteer = self._volunteer(volunteer_id)
        if not may_take(volunteer, now.date()) or volunteer.status is VolunteerStatus.OFFLINE:
            raise NotEligibleError("not certified, deactivated or offline")
        if volunteer.load >= volunteer.max_concurrent:
            raise NotEligibleError("at your maximum of concurrent conversations")
        waiting = [
            c for c in queue_order(self._repository.waiting_conversations(), now) if c.language in volunteer.languages
        ]
        # The caller asked for work: conversations they declined earlier come last, never "nobody is waiting".
        for conversation in sorted(waiting, key=lambda c: volunteer_id in c.excluded_volunteers):
            try:
                return self._claim(conversation, volunteer, now)
            except ConcurrentUpdateError:
                volunteer = self._volunteer(volunteer_id)
                if volunteer.status is VolunteerStatus.OFFLINE or volunteer.load >= volunteer.max_concurrent:
                    raise NotEligibleError("offline, or at your maximum of concurrent conversations") from None
                continue
        raise NotFoundError("nobody you can take is waiting")

    def _claim(self, conversation: ConversationRecord, volunteer: VolunteerRecord, now: datetime) -> ConversationRecord:
        """A waiting conversation becomes active with ``volunteer`` at once (take next, a supervisor taking it)."""
        active = transition(conversation, ConversationState.ACTIVE).model_copy(
            update={"volunteer_id": volunteer.volunteer_id, "accepted_at": now, "last_activity_at": now}
        )
        joined = self._joined_text(active, volunteer)
        self._commit(
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
                new_messages=self._kept_text(active, f"joined:{conversation.version}", joined, now),
            ),
        )
        self._text_texter(active, f"joined:{conversation.version}", joined)
        self._schedule_inactivity(active, now)
        return active

    # ------------------------------------------------------------------ supervisors
    def assign(self, caller: VolunteerRecord, conversation_id: str, to: str) -> ConversationRecord:
        """A supervisor hands a waiting conversation to a volunteer (an offer to them) or takes it themselves.

        Declines and the crisis hold don't apply: a person chose. Capacity, status, language and certification do.
        """
        if not caller.is_supervisor:
            raise NotEligibleError("supervisors only")
        now = self._clock()
        conversation = self._repository.get_conversation(conversation_id)
        if conversation is None or not conversation.is_open:
            raise NotFoundError("no such conversation")
        if conversation.state is not ConversationState.WAITING:
            raise ConflictError(f"the conversation is {conversation.state}, not waiting: it can't be assigned now")
        target = self._repository.get_volunteer(to)
        if target is None or not target.active:
            raise NotFoundError("no such volunteer")
        if to == caller.volunteer_id:
            self._check_can_take(target, conversation, now, require_available=False)
            try:
                return self._claim(conversation, target, now)
            except ConcurrentUpdateError as error:
                raise ConflictError("the conversation or your load changed meanwhile; try again") from error
        self._check_can_take(target, conversation, now, require_available=True)
        try:
            self._offer(conversation, target, now)
        except ConcurrentUpdateError as error:
            raise ConflictError(f"{target.display_name} or the conversation changed meanwhile; try again") from error
        offered = self._repository.get_conversation(conversation_id)
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
        conversation = self._repository.get_conversation(conversation_id)
        if conversation is None or not self._may_see(caller, conversation):
            raise NotFoundError("no such conversation")
        today = self._clock().date()
        return sorted(
            (
                volunteer
                for volunteer in self._repository.available_volunteers()
                if volunteer.volunteer_id not in (caller.volunteer_id, conversation.volunteer_id)
                and could_take(volunteer, conversation, today)
            ),
            key=lambda volunteer: (volunteer.load, volunteer.display_name.casefold()),
        )

    def available_colleagues(self) -> list[VolunteerRecord]:
        """Every available volunteer who may take conversations (for a supervisor's assign control)."""
        today = self._clock().date()
        return sorted(
            (v for v in self._repository.available_volunteers() if may_take(v, today)),
            key=lambda volunteer: (volunteer.load, volunteer.display_name.casefold()),
        )

    def set_offers_during_crisis(self, volunteer_id: str, enabled: bool) -> VolunteerRecord:
        """The volunteer's own choice to be offered conversations while holding a high/imminent one."""
        volunteer = self._repository.set_volunteer_settings(volunteer_id, offers_during_crisis=enabled)
        if enabled:
            self.route_waiting()
        return volunteer

    def holds_crisis(self, volunteer: VolunteerRecord) -> bool:
        """Whether the volunteer holds (offered or active) a high/imminent conversation."""
        return volunteer.load > 0 and any(
            is_crisis(held) for held in self._repository.conversations_held_by(volunteer.volunteer_id)
        )

    # ------------------------------------------------------------------ availability
    def set_availability(self, volunteer_id: str, status: VolunteerStatus) -> VolunteerRecord:
        """Change the caller's status. Offline: their offers move on at once, their active conversations are
        flagged for supervisors. Available: waiting conversations are offered."""
        volunteer = self._volunteer(volunteer_id)
        if not volunteer.active:
            raise NotEligibleError("deactivated")
        updated = self._repository.set_volunteer_status(volunteer_id, status)
        if status is VolunteerStatus.OFFLINE:
            for conversation in self._repository.conversations_held_by(volunteer_id):
                if conversation.state is ConversationState.OFFERED:
                    self._try(conversation, self._back_to_queue(conversation, volunteer_id))
                elif conversation.state is ConversationState.ACTIVE and not conversation.needs_supervisor:
                    flagged = conversation.model_copy(update={"needs_supervisor": True})
                    self._try(conversation, ConversationChange(conversation=flagged, expected_conversation_version=conversation.version))
        self.route_waiting()
        return updated

    # ------------------------------------------------------------------ transfer and close
    def transfer(self, caller: VolunteerRecord, conversation_id: str, to: str) -> ConversationRecord:
        """Hand an active conversation back to the queue (``to="queue"``) or offer it to another volunteer.

        The conversation never goes back to the one who transferred it away.
        """
        now = self._clock()
        conversation = self._held(conversation_id, caller.volunteer_id, ConversationState.ACTIVE, caller=caller)
        holder = conversation.volunteer_id or caller.volunteer_id
        if to == "queue":
            change = self._back_to_queue(conversation, holder)
            self._commit_or_conflict(conversation, change)
            self._schedule_lapse(conversation)
            self.route_waiting()
            assert change.conversation is not None
            return change.conversation
        target = self._repository.get_volunteer(to)
        if target is None or target.volunteer_id == holder:
            raise NotFoundError("no such volunteer to transfer to")
        # A named colleague is a deliberate choice: an earlier decline of theirs doesn't stand in the way.
        if not could_take(target, conversation, now.date()):
            raise NotEligibleError(f"{target.display_name} can't take it now")
        offer_id = uuid.uuid4().hex
        expires = now + timedelta(seconds=self._settings.offer_timeout_seconds)
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
        self._commit_or_conflict(
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
        self._timers.schedule(
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
        conversation = self._held(conversation_id, caller.volunteer_id, ConversationState.ACTIVE, caller=caller)
        self._close(conversation, outcome=outcome, tags=list(tags), reason=reason)

    def close_if_inactive(self, timer: ConversationTimer) -> bool:
        """The inactivity timer: close only if nothing happened since the activity it was scheduled after."""
        conversation = self._repository.get_conversation(timer.conversation_id)
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
        for _ in range(_MAX_ATTEMPTS):
            try:
                self._commit(conversation, self._closing(conversation, outcome=outcome, tags=tags, reason=reason))
                break
            except ConcurrentUpdateError:
                # A text from the texter meanwhile (their record moved) is fine: close on the fresh state.
                fresh = self._repository.get_conversation(conversation.conversation_id)
                if (
                    fresh is None
                    or fresh.state is not conversation.state
                    or fresh.volunteer_id != conversation.volunteer_id
                ):
                    raise ConflictError("the conversation changed meanwhile; reload and try again") from None
                conversation = fresh
        else:
            raise ConflictError("the conversation keeps changing; try again")
        name = "closed_inactive" if reason == "inactivity" else "closed"
        self._text_texter(conversation, name, self._replies.text(name, conversation.language))
        self._repository.delete_messages(conversation.conversation_id)
        self.route_waiting()

    def _closing(
        self, conversation: ConversationRecord, *, outcome: str, tags: list[str], reason: str
    ) -> ConversationChange:
        """Closed (see ``lifecycle.closing``), with the volunteer told why if it closed on its own, and the texter's
        record unlinked from it in the same transaction."""
        now = self._clock()
        notice = None
        if reason == "inactivity":
            alias = texter_alias(conversation.texter_id) if conversation.texter_id else "A texter"
            minutes = self._settings.inactivity_close_minutes
            notice = (
                f"{now:%H:%M} UTC: the conversation with {alias} was closed after {minutes} minutes without a text."
            )
        change = closing(
            conversation,
            reason=reason,
            now=now,
            retention_days=self._settings.retention_days,
            outcome=outcome,
            tags=tags,
            notice=notice,
        )
        texter = self._repository.get_texter(conversation.texter_id) if conversation.texter_id else None
        if texter is not None:
            change.texter = unlinked_texter(texter, conversation, now)
            change.expected_texter_version = texter.version
        return change

    # ------------------------------------------------------------------ crisis
    def escalate(self, caller: VolunteerRecord, conversation_id: str) -> Escalated:
        """A volunteer's "escalate": at least ``high``, the same safety text, page and audit as triage's.

        Pressing it again pages nobody new and says so: the escalation is still open (being paged), or someone
        acknowledged it already.
        """
        if self._crisis is None:
            raise NotEligibleError("escalation is not configured")
        now = self._clock()
        conversation = self._repository.get_conversation(conversation_id)
        if conversation is None or not self._may_see(caller, conversation):
            raise NotFoundError("no such conversation")
        level = highest([conversation.risk_level, RiskLevel.HIGH])
        texter = self._repository.get_texter(conversation.texter_id)
        if conversation.escalation_id and conversation.escalated_level.at_least(level):
            existing = self._crisis.service.get(conversation.escalation_id)
            if existing is not None:
                if not existing.dispatched:
                    # The first press was recorded but crashed before its texts were queued: queue them now.
                    self._crisis.service.redispatch(
                        existing, texter, self._replies.text("safety", conversation.language)
                    )
                    return Escalated(existing, "paged")
                # Already escalated at this level: pressing the button twice pages once.
                acknowledged = existing.status is EscalationStatus.ACKNOWLEDGED
                return Escalated(existing, "already_acknowledged" if acknowledged else "already_open")
        if texter is None:
            raise NotFoundError("the texter's record is gone")
        plan = plan_escalation(
            event_id=f"volunteer:{caller.volunteer_id}:{conversation_id}:{conversation.version}",
            conversation=conversation,
            texter=texter,
            level=level,
            categories=conversation.risk_categories or ["volunteer_concern"],
            rules=["volunteer_escalation"],
            trigger=f"volunteer:{caller.display_name}",
            now=now,
            directory=self._crisis.directory,
            replies=self._replies,
            settings=self._crisis.settings,
            dispatched=False,
        )
        updated = conversation.model_copy(
            update={
                "risk_level": level,
                "priority": level,
                "escalation_id": plan.escalation.escalation_id,
                "escalated_level": level,
                "volunteer_prompt": PROMPTS[level],
            }
        )
        self._commit_or_conflict(
            conversation,
            ConversationChange(
                conversation=updated,
                expected_conversation_version=conversation.version,
                new_escalation=plan.escalation,
                # The safety text joins the transcript (same id as the text), so the volunteer knows it was sent.
                new_messages=[
                    StoredMessage.automatic(
                        text,
                        conversation_id=conversation_id,
                        key=f"{now.isoformat()}#{text.outbound_id}",
                        at=now,
                        expires_at=int((now + timedelta(hours=self._settings.message_ttl_hours)).timestamp()),
                    )
                    for text in plan.outbound
                    if text.purpose == "safety"
                ],
            ),
        )
        self._crisis.service.dispatch(plan)
        self._crisis.service.mark_dispatched(plan.escalation.escalation_id)
        return Escalated(plan.escalation, "paged")

    # ------------------------------------------------------------------ relay
    def send_reply(self, volunteer_id: str, conversation_id: str, body: str) -> StoredMessage:
        """A volunteer's reply: kept with the conversation and texted from the line's number."""
        now = self._clock()
        conversation = self._held(conversation_id, volunteer_id, ConversationState.ACTIVE)
        message_id = f"out-{uuid.uuid4().hex}"
        message = StoredMessage(
            conversation_id=conversation_id,
            message_key=f"{now.isoformat()}#{message_id}",
            message_id=message_id,
            direction="outbound",
            body=body,
            at=now,
            expires_at=int((now + timedelta(hours=self._settings.message_ttl_hours)).timestamp()),
        )
        updated = conversation.model_copy(
            update={"last_activity_at": now, "outbound_count": conversation.outbound_count + 1}
        )
        self._commit_or_conflict(
            conversation,
            ConversationChange(conversation=updated, expected_conversation_version=conversation.version, new_messages=[message]),
        )
        self._text_texter(conversation, message_id, body, purpose="relay")
        self._schedule_inactivity(updated, now)
        return message

    def messages(self, caller: VolunteerRecord, conversation_id: str) -> list[StoredMessage]:
        """The transcript, for the volunteer holding the conversation (or a supervisor)."""
        conversation = self._repository.get_conversation(conversation_id)
        if conversation is None or not self._may_see(caller, conversation):
            raise NotFoundError("no such conversation")
        return sorted(self._repository.list_messages(conversation_id), key=lambda message: message.message_key)

    def visible_conversations(self, caller: VolunteerRecord) -> list[ConversationRecord]:
        """The caller's offered and active conversations; supervisors see every open one."""
        if caller.is_supervisor:
            return [c for c in self._repository.open_conversations() if c.state is not ConversationState.CLOSED]
        return self._repository.conversations_held_by(caller.volunteer_id)

    # ------------------------------------------------------------------ helpers
    def _may_see(self, caller: VolunteerRecord, conversation: ConversationRecord) -> bool:
        if caller.is_supervisor:
            return conversation.is_open
        return conversation.volunteer_id == caller.volunteer_id and conversation.state in (
            ConversationState.OFFERED,
            ConversationState.ACTIVE,
        )

    def _held(
        self,
        conversation_id: str,
        volunteer_id: str,
        state: ConversationState,
        *,
        caller: VolunteerRecord | None = None,
    ) -> ConversationRecord:
        conversation = self._repository.get_conversation(conversation_id)
        supervisor = caller is not None and caller.is_supervisor
        if conversation is None or (conversation.volunteer_id != volunteer_id and not supervisor):
            # Indistinguishable from "doesn't exist": a volunteer learns nothing about others' conversations.
            raise NotFoundError("no such conversation")
        if conversation.state is not state:
            raise ConflictError(f"the conversation is {conversation.state}, not {state}")
        return conversation

    def _volunteer(self, volunteer_id: str) -> VolunteerRecord:
        volunteer = self._repository.get_volunteer(volunteer_id)
        if volunteer is None:
            raise NotEligibleError("not a registered volunteer")
        return volunteer

    def _back_to_queue(self, conversation: ConversationRecord, volunteer_id: str) -> ConversationChange:
        now = self._clock()
        waiting = transition(conversation, ConversationState.WAITING).model_copy(
            update={
                "volunteer_id": None,
                "offer_id": None,
                "offer_expires_at": None,
                "needs_supervisor": False,
                "excluded_volunteers": sorted({*conversation.excluded_volunteers, volunteer_id}),
                "excluded_since": {**conversation.excluded_since, volunteer_id: now},
                # A transferred-back conversation keeps its place: it has waited since it first waited.
                "waiting_since": conversation.waiting_since or now,
            }
        )
        return ConversationChange(
            conversation=waiting, expected_conversation_version=conversation.version, loads=[LoadChange(volunteer_id, -1)]
        )

    def _commit_or_conflict(self, before: ConversationRecord, change: ConversationChange) -> None:
        try:
            self._commit(before, change)
        except ConcurrentUpdateError as error:
            raise ConflictError("the conversation changed meanwhile; reload and try again") from error

    def _try(self, before: ConversationRecord, change: ConversationChange) -> None:
        """Best effort: if the conversation moved meanwhile, whatever moved it took care of it."""
        with contextlib.suppress(ConcurrentUpdateError):
            self._commit(before, change)

    # ------------------------------------------------------------------ live dashboard
    def _commit(self, before: ConversationRecord, change: ConversationChange) -> None:
        """Commit a routing change, then tell the dashboards concerned (after the commit, never instead of it)."""
        self._repository.commit(change)
        events = events_for_change(
            before,
            change.conversation,
            new_messages=change.new_messages,
            new_escalation=change.new_escalation,
            released=[load.volunteer_id for load in change.loads],
            summarize=lambda conversation: self.views.summary(conversation, escalation=change.new_escalation),
        )
        publish_quietly(self._live, events)

    def _joined_text(self, conversation: ConversationRecord, volunteer: VolunteerRecord) -> str:
        # After a safety text the texter hears who is joining, not a generic "What's on your mind?".
        reply = "joined_crisis" if conversation.escalation_id else "joined"
        return self._replies.text(reply, conversation.language, name=volunteer.display_name)

    def _kept_text(
        self, conversation: ConversationRecord, key: str, body: str, at: datetime, *, purpose: str | None = None
    ) -> list[StoredMessage]:
        """The automatic text ``_text_texter`` sends under ``key``, as a transcript message with the same id."""
        message_id = f"{conversation.conversation_id}:{key}"
        return [
            StoredMessage(
                conversation_id=conversation.conversation_id,
                message_key=f"{at.isoformat()}#{message_id}",
                message_id=message_id,
                direction="automatic",
                body=body,
                at=at,
                expires_at=int((at + timedelta(hours=self._settings.message_ttl_hours)).timestamp()),
                purpose=purpose or key.split(":")[0],
            )
        ]

    def _text_texter(
        self, conversation: ConversationRecord, key: str, body: str, *, purpose: str | None = None
    ) -> None:
        texter = self._repository.get_texter(conversation.texter_id) if conversation.texter_id else None
        if texter is None or texter.opted_out:
            return
        self._outbound.enqueue(
            [
                OutboundText(
                    outbound_id=f"{conversation.conversation_id}:{key}",
                    recipient_id=texter.texter_id,
                    encrypted_to=texter.encrypted_number,
                    body=body,
                    purpose=purpose or key.split(":")[0],
                    conversation_id=conversation.conversation_id,
                    texter_id=texter.texter_id,
                )
            ]
        )

    def _schedule_lapse(self, conversation: ConversationRecord) -> None:
        """Route again when the exclusion just added lapses, in case nobody else took the conversation by then."""
        if is_crisis(conversation):
            return  # lapses at once: the route_waiting that follows already counts the volunteer back in
        lapses_at = self._clock() + timedelta(seconds=self._settings.decline_lapse_seconds)
        self._timers.schedule([decline_lapse_timer(conversation.conversation_id, conversation.texter_id, lapses_at)])

    def _schedule_inactivity(self, conversation: ConversationRecord, activity_at: datetime) -> None:
        after = timedelta(minutes=self._settings.inactivity_close_minutes)
        self._timers.schedule(
            [inactivity_timer(conversation.conversation_id, conversation.texter_id, activity_at, after)]
        )
