"""Firing a conversation timer: to the router or the engine, once it is really due."""

from __future__ import annotations

from datetime import datetime, timedelta

from peerline.conversation import ConversationEngine, TimerQueue
from peerline.models import ConversationTimer, TimerKind
from peerline.routing import Router


def fire_timer(
    timer: ConversationTimer, *, engine: ConversationEngine, router: Router, timers: TimerQueue, now: datetime
) -> str:
    """Apply a due timer; one that is not due yet (queues delay at most 15 minutes) is delayed again."""
    if timer.fire_at > now + timedelta(seconds=1):
        timers.schedule([timer])
        return "rescheduled"
    if timer.kind is TimerKind.OFFER_EXPIRY:
        return "applied" if router.expire_offer(timer) else "stale"
    if timer.kind is TimerKind.INACTIVITY:
        return "applied" if router.close_if_inactive(timer) else "stale"
    return str(engine.handle_timer(timer))
