"""The line at a glance, for supervisors: queue, volunteers, active conversations, open escalations."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from peerline.api_models import ConversationSummary, EscalationSummary, LineOverview, VolunteersByStatus
from peerline.models import ConversationRecord, ConversationState, EscalationRecord, VolunteerRecord, VolunteerStatus


class LineReader(Protocol):
    def waiting_conversations(self) -> list[ConversationRecord]: ...

    def open_conversations(self) -> list[ConversationRecord]: ...

    @property
    def volunteers(self) -> VolunteerDirectory: ...


class VolunteerDirectory(Protocol):
    def all(self) -> list[VolunteerRecord]: ...


class OpenEscalations(Protocol):
    def open_escalations(self) -> list[EscalationRecord]: ...


def line_overview(line: LineReader, escalations: OpenEscalations, *, now: datetime) -> LineOverview:
    """Waiting count and longest wait, volunteers by status, active conversations, open escalations."""
    waiting = line.waiting_conversations()
    waits = [(now - c.waiting_since).total_seconds() for c in waiting if c.waiting_since is not None]
    volunteers = [volunteer for volunteer in line.volunteers.all() if volunteer.active]
    counts = {status: sum(v.status is status for v in volunteers) for status in VolunteerStatus}
    held = [c for c in line.open_conversations() if c.state in (ConversationState.OFFERED, ConversationState.ACTIVE)]
    return LineOverview(
        waiting=len(waiting),
        longest_wait_seconds=max(waits) if waits else None,
        volunteers=VolunteersByStatus(
            available=counts[VolunteerStatus.AVAILABLE],
            away=counts[VolunteerStatus.AWAY],
            offline=counts[VolunteerStatus.OFFLINE],
        ),
        active=[ConversationSummary.of(conversation) for conversation in held],
        escalations=[EscalationSummary.of(escalation) for escalation in escalations.open_escalations()],
    )
