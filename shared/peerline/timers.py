"""Firing a conversation timer (or a volunteer's access change): to the router or the engine, once it is really due."""

from __future__ import annotations

from datetime import datetime, timedelta

from peerline.access import LiveSessions, apply_access_change
from peerline.conversation import ConversationEngine, TimerQueue
from peerline.escalation import EscalationService
from peerline.models import ConversationTimer, TimerKind
from peerline.routing import Router


def fire_timer(
    timer: ConversationTimer,
    *,
    engine: ConversationEngine,
    router: Router,
    escalations: EscalationService,
    timers: TimerQueue,
    sessions: LiveSessions,
    now: datetime,
) -> str:
    """Apply a due timer; one that is not due yet (queues delay at most 15 minutes) is delayed again."""
    if timer.fire_at > now + timedelta(seconds=1):
        timers.schedule([timer])
        return "rescheduled"
    if timer.kind is TimerKind.OFFER_EXPIRY:
        outcome = "applied" if router.expire_offer(timer) else "stale"
    elif timer.kind is TimerKind.ESCALATION_REPAGE:
        outcome = "applied" if escalations.repage(timer) else "stale"
    elif timer.kind is TimerKind.INACTIVITY:
        outcome = "applied" if router.close_if_inactive(timer) else "stale"
    elif timer.kind is TimerKind.ACCESS_CHANGED:
        outcome = apply_access_change(timer, router=router, sessions=sessions)
    elif timer.kind is TimerKind.DECLINE_LAPSE:
        outcome = "applied"  # the route_waiting below is the whole of it
    else:
        outcome = str(engine.handle_timer(timer))
    # Every timer is also a chance to route: a safety net for a trigger lost to a crash.
    router.route_waiting()
    return outcome
