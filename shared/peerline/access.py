"""Deactivation and role changes take effect everywhere at once.

Who a volunteer is and may do is decided per request from the registry, never from a token's ``cognito:groups``: the
API reads the caller's record on every call (``VolunteerDesk.caller``/``supervisor``) and the dashboard socket on
every ``$connect``. What a request can't revoke — live sockets admitted under the old role, offers and active
conversations a deactivated volunteer holds — is handled by one job per change:

1. whoever makes the change (the operator's CLI) writes the registry and Cognito, queues an ``ACCESS_CHANGED``
   job on the timer queue and appends an audit entry (``deactivate_volunteer`` / ``change_role``, the volunteer's
   id as subject);
2. the timers function, which already holds the routing and live-push grants, closes every open dashboard socket of
   that volunteer (a demoted supervisor reconnects as a volunteer and gets only their own conversations; a
   deactivated one is refused) and, if they are deactivated, moves their offers and active conversations on.

The job, not the CLI, does the routing: the operator needs no grant on conversations or messages and never sees a
body, and SQS retries the job (then keeps it in the timer dead-letter queue, alarmed) if a step fails. Both steps
are idempotent, so a retry or a second job for the same volunteer is harmless.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from peerline.audit import AuditEntry, AuditLog
from peerline.models import ConversationTimer, TimerKind
from peerline.ports import TimerQueue, utc_now

if TYPE_CHECKING:  # the CLI imports this module and never routes
    from peerline.routing import Router

# The actor of a change made with the operator's own AWS credentials (the CLI).
OPERATOR_ACTOR = "operator"
DEACTIVATE_ACTION = "deactivate_volunteer"
CHANGE_ROLE_ACTION = "change_role"


class LiveSessions(Protocol):
    def close_all(self, volunteer_id: str) -> int:
        """Close every open dashboard socket of the volunteer and forget it; returns how many were open."""
        ...


class NoLiveSessions:
    """No live channel configured: there is no socket to close."""

    def close_all(self, volunteer_id: str) -> int:
        return 0


def access_changed_job(volunteer_id: str, at: datetime) -> ConversationTimer:
    """The timer-queue message that applies a deactivation or role change (no conversation: empty ids)."""
    return ConversationTimer(
        timer_id=f"access:{volunteer_id}:{at.isoformat()}",
        kind=TimerKind.ACCESS_CHANGED,
        conversation_id="",
        texter_id="",
        fire_at=at,
        volunteer_id=volunteer_id,
    )


class AccessChanges:
    """The side of a change its author takes care of: the job that applies it, and the audit entry."""

    def __init__(self, audit: AuditLog, timers: TimerQueue, clock: Callable[[], datetime] = utc_now) -> None:
        self._audit = audit
        self._timers = timers
        self._clock = clock

    def changed(self, volunteer_id: str, *, actor_id: str, action: str, reason: str = "") -> None:
        """For a change already made in the registry: queue the job that closes sockets and moves work, then audit.

        The job first: if the audit write fails, texters are still not left with a deactivated volunteer, and the
        author (told of the failure) repeats the change, which audits it then.
        """
        now = self._clock()
        self._timers.schedule([access_changed_job(volunteer_id, now)])
        self._audit.append(AuditEntry(actor_id=actor_id, action=action, subject=volunteer_id, reason=reason, at=now))


def apply_access_change(timer: ConversationTimer, *, router: Router, sessions: LiveSessions) -> str:
    """The ``ACCESS_CHANGED`` job: sockets first (nothing more reaches them), then a deactivated volunteer's work."""
    if not timer.volunteer_id:
        return "stale"
    closed = sessions.close_all(timer.volunteer_id)
    moved = router.release_deactivated(timer.volunteer_id)
    return f"applied: {closed} socket(s) closed, {len(moved)} conversation(s) moved on"
