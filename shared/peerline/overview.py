"""The line at a glance, for supervisors: queue, volunteers, open conversations, escalations to watch."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from peerline.api_models import Colleague, EscalationSummary, LineOverview, VolunteersByStatus
from peerline.models import ConversationRecord, ConversationState, EscalationRecord, VolunteerRecord, VolunteerStatus
from peerline.routing import queue_order
from peerline.routing.eligibility import by_load_then_name, is_free
from peerline.views import ConversationViews


class LineReader(Protocol):
    def waiting_conversations(self) -> list[ConversationRecord]: ...

    def open_conversations(self) -> list[ConversationRecord]: ...

    @property
    def volunteers(self) -> VolunteerDirectory: ...


class VolunteerDirectory(Protocol):
    def all(self) -> list[VolunteerRecord]: ...


class EscalationsToShow(Protocol):
    def shown_with(self, conversations: Sequence[ConversationRecord]) -> list[EscalationRecord]: ...


def line_overview(
    line: LineReader, escalations: EscalationsToShow, views: ConversationViews, *, now: datetime
) -> LineOverview:
    """Waiting count and longest wait, the queue, volunteers by status and who is free, every open offered or
    active conversation, and escalations (open, or acknowledged while their conversation is open)."""
    waiting = queue_order(line.waiting_conversations(), now)
    waits = [(now - c.waiting_since).total_seconds() for c in waiting if c.waiting_since is not None]
    volunteers = [volunteer for volunteer in line.volunteers.all() if volunteer.active]
    counts = {status: sum(v.status is status for v in volunteers) for status in VolunteerStatus}
    open_conversations = line.open_conversations()
    held = [c for c in open_conversations if c.state in (ConversationState.OFFERED, ConversationState.ACTIVE)]
    return LineOverview(
        waiting=len(waiting),
        longest_wait_seconds=max(waits) if waits else None,
        volunteers=VolunteersByStatus(
            available=counts[VolunteerStatus.AVAILABLE],
            away=counts[VolunteerStatus.AWAY],
            offline=counts[VolunteerStatus.OFFLINE],
        ),
        active=views.summaries(held),
        escalations=[EscalationSummary.of(e) for e in escalations.shown_with(open_conversations)],
        queue=views.summaries(waiting),
        available_volunteers=[
            Colleague.of(v) for v in by_load_then_name(v for v in volunteers if is_free(v, now.date()))
        ],
    )
