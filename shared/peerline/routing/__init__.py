"""Routing waiting texters to trained volunteers: offers, pulls, relay, transfer and close.

One module per use case — ``offers`` (push and pull), ``handover`` (availability, transfer, assign, close),
``relay`` (replies and transcript), ``crisis`` (a volunteer's escalate) — over a shared ``core`` (ports, the one
commit, small shared steps); ``eligibility`` says who may take what and in which order. ``Router`` is the one
object the composition root builds and the handlers call.

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

from collections.abc import Callable, Sequence
from datetime import datetime

from peerline.conversation import CrisisDesk, OutboundQueue, TimerQueue, utc_now
from peerline.models import ConversationRecord, ConversationTimer, StoredMessage, VolunteerRecord, VolunteerStatus
from peerline.push import LivePush
from peerline.replies import ReplyBook
from peerline.routing.core import RoutingContext
from peerline.routing.crisis import CrisisRouting, Escalated
from peerline.routing.eligibility import (
    candidates_for,
    could_take,
    exclusion_lapses_at,
    is_crisis,
    is_eligible,
    may_take,
    next_lapse,
    queue_order,
    urgency,
)
from peerline.routing.handover import Handover
from peerline.routing.model import (
    ConflictError,
    NotEligibleError,
    NotFoundError,
    RoutingError,
    RoutingRepository,
    RoutingSettings,
)
from peerline.routing.offers import Offers
from peerline.routing.relay import Relay
from peerline.views import ConversationViews

__all__ = [
    "ConflictError",
    "Escalated",
    "NotEligibleError",
    "NotFoundError",
    "Router",
    "RoutingError",
    "RoutingRepository",
    "RoutingSettings",
    "candidates_for",
    "could_take",
    "exclusion_lapses_at",
    "is_crisis",
    "is_eligible",
    "may_take",
    "next_lapse",
    "queue_order",
    "urgency",
]


class Router:
    """Moves conversations between the queue and volunteers, and relays between them: one front for the use cases."""

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
        context = RoutingContext(repository, outbound, timers, replies, settings, clock, crisis, live)
        self._offers = Offers(context)
        self._handover = Handover(context, self._offers)
        self._relay = Relay(context)
        self._crisis = CrisisRouting(context)
        self.views: ConversationViews = context.views

    def route_waiting(self) -> list[tuple[str, str]]:
        return self._offers.route_waiting()

    def accept(self, volunteer_id: str, conversation_id: str) -> ConversationRecord:
        return self._offers.accept(volunteer_id, conversation_id)

    def decline(self, volunteer_id: str, conversation_id: str) -> None:
        return self._offers.decline(volunteer_id, conversation_id)

    def expire_offer(self, timer: ConversationTimer) -> bool:
        return self._offers.expire_offer(timer)

    def take_next(self, volunteer_id: str) -> ConversationRecord:
        return self._offers.take_next(volunteer_id)

    def assign(self, caller: VolunteerRecord, conversation_id: str, to: str) -> ConversationRecord:
        return self._handover.assign(caller, conversation_id, to)

    def transfer_candidates(self, caller: VolunteerRecord, conversation_id: str) -> list[VolunteerRecord]:
        return self._handover.transfer_candidates(caller, conversation_id)

    def available_colleagues(self) -> list[VolunteerRecord]:
        return self._handover.available_colleagues()

    def set_offers_during_crisis(self, volunteer_id: str, enabled: bool) -> VolunteerRecord:
        return self._offers.set_offers_during_crisis(volunteer_id, enabled)

    def holds_crisis(self, volunteer: VolunteerRecord) -> bool:
        return self._offers.holds_crisis(volunteer)

    def set_availability(self, volunteer_id: str, status: VolunteerStatus) -> VolunteerRecord:
        return self._handover.set_availability(volunteer_id, status)

    def transfer(self, caller: VolunteerRecord, conversation_id: str, to: str) -> ConversationRecord:
        return self._handover.transfer(caller, conversation_id, to)

    def close(
        self,
        caller: VolunteerRecord,
        conversation_id: str,
        *,
        outcome: str,
        tags: Sequence[str],
        reason: str = "wrap_up",
    ) -> None:
        return self._handover.close(caller, conversation_id, outcome=outcome, tags=tags, reason=reason)

    def close_if_inactive(self, timer: ConversationTimer) -> bool:
        return self._handover.close_if_inactive(timer)

    def escalate(self, caller: VolunteerRecord, conversation_id: str) -> Escalated:
        return self._crisis.escalate(caller, conversation_id)

    def send_reply(self, volunteer_id: str, conversation_id: str, body: str) -> StoredMessage:
        return self._relay.send_reply(volunteer_id, conversation_id, body)

    def messages(self, caller: VolunteerRecord, conversation_id: str) -> list[StoredMessage]:
        return self._relay.messages(caller, conversation_id)

    def visible_conversations(self, caller: VolunteerRecord) -> list[ConversationRecord]:
        return self._relay.visible_conversations(caller)
