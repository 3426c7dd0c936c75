"""Routing waiting texters to trained volunteers: offers, pulls, relay, transfer and close.

One module per use case — ``offers`` (push and pull), ``handover`` (availability, transfer, assign, close),
``departure`` (a deactivated volunteer's conversations move on), ``relay`` (replies and transcript), ``crisis`` (a
volunteer's escalate) — over a shared ``core`` (ports, the one commit, small shared steps); ``eligibility`` says who
may take what and in which order. ``Router`` is the one object the composition root builds and the handlers call.

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

from peerline.routing.crisis import CrisisRouting, Escalated
from peerline.routing.departure import Departure
from peerline.routing.eligibility import (
    candidates_for,
    could_take,
    exclusion_lapses_at,
    is_crisis,
    is_eligible,
    may_take,
    queue_order,
    urgency,
)
from peerline.routing.model import (
    ConflictError,
    MessagePage,
    NotEligibleError,
    NotFoundError,
    RoutingError,
    RoutingRepository,
    RoutingSettings,
)
from peerline.routing.relay import Relay

__all__ = [
    "ConflictError",
    "Escalated",
    "MessagePage",
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
    "queue_order",
    "urgency",
]


class Router(Departure, Relay, CrisisRouting):
    """Moves conversations between the queue and volunteers, and relays between them: the use cases of this package
    (each its own class in its own module: ``Offers`` ← ``Handover`` ← ``Departure``, ``Relay``, ``CrisisRouting``)
    over one ``RoutingContext`` (the ports, the one commit, the shared steps), whose constructor it takes."""
