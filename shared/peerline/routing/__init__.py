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

from collections.abc import Callable
from datetime import datetime

from peerline.conversation import CrisisDesk, OutboundQueue, TimerQueue, utc_now
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


class Router(Offers, Handover, Relay, CrisisRouting):
    """Moves conversations between the queue and volunteers, and relays between them: the use cases of this package
    (each in its own module, each under a few hundred lines) over one shared ``RoutingContext``."""

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
        self._ctx = RoutingContext(repository, outbound, timers, replies, settings, clock, crisis, live)
        # The handover steps route again through the offers of this same router.
        self._offers = self
        self.views: ConversationViews = self._ctx.views
