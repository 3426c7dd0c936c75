"""Who may be offered what, and in which order: the queue's urgency and a volunteer's eligibility.

Plain functions over records, so the router, the supervisor's line and the tests all judge alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

from peerline.models import ConversationRecord, Role, VolunteerRecord, VolunteerStatus
from peerline.risk import RiskLevel


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


def is_free(volunteer: VolunteerRecord, today: date) -> bool:
    """Certified, active, available and under their cap: someone a conversation could go to now."""
    return (
        may_take(volunteer, today)
        and volunteer.status is VolunteerStatus.AVAILABLE
        and volunteer.load < volunteer.max_concurrent
    )


def could_take(volunteer: VolunteerRecord, conversation: ConversationRecord, today: date) -> bool:
    """Free, and speaks the texter's language (exclusions aside)."""
    return is_free(volunteer, today) and conversation.language in volunteer.languages


def by_load_then_name(volunteers: Iterable[VolunteerRecord]) -> list[VolunteerRecord]:
    """Volunteers as a person picks among them: least loaded first, then by name."""
    return sorted(volunteers, key=lambda volunteer: (volunteer.load, volunteer.display_name.casefold()))


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
