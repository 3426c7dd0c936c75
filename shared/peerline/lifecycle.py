"""A conversation's life, and the one way it is written.

Every use case — the engine deciding a texter's text or a timer, the router moving a conversation between the queue
and volunteers, a volunteer's escalate — describes what it changes as one ``ConversationChange`` and commits it
through one ``ConversationStore`` (one DynamoDB transaction, conditioned on versions). The lifecycle lives here too:
which state may follow which, and what closing keeps (metadata only with consent, unlinked from the texter, for
``RetentionDays``) and forgets (bodies, triage's signals, everything without consent).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from peerline.audit import AuditEntry
from peerline.models import (
    AppliedEvent,
    Consent,
    ConversationRecord,
    ConversationState,
    ConversationTimer,
    EscalationRecord,
    Notification,
    OutboundText,
    StoredMessage,
    TexterRecord,
    VolunteerStatus,
)

_ALLOWED_TRANSITIONS: dict[ConversationState, frozenset[ConversationState]] = {
    ConversationState.NEW: frozenset({ConversationState.CONSENT_PENDING, ConversationState.CLOSED}),
    ConversationState.CONSENT_PENDING: frozenset({ConversationState.WAITING, ConversationState.CLOSED}),
    ConversationState.WAITING: frozenset(
        {ConversationState.OFFERED, ConversationState.ACTIVE, ConversationState.CLOSED}
    ),
    ConversationState.OFFERED: frozenset(
        {ConversationState.WAITING, ConversationState.ACTIVE, ConversationState.CLOSED}
    ),
    ConversationState.ACTIVE: frozenset({ConversationState.WAITING, ConversationState.CLOSED}),
    ConversationState.CLOSED: frozenset(),
}

HELD_STATES = frozenset({ConversationState.OFFERED, ConversationState.ACTIVE})


class InvalidTransitionError(Exception):
    """A state change the conversation state machine does not allow."""


def transition(conversation: ConversationRecord, to_state: ConversationState) -> ConversationRecord:
    """The conversation in ``to_state``, if the state machine allows it (else ``InvalidTransitionError``)."""
    if to_state not in _ALLOWED_TRANSITIONS[conversation.state]:
        raise InvalidTransitionError(f"{conversation.state} → {to_state}")
    return conversation.model_copy(update={"state": to_state})


@dataclass(frozen=True)
class LoadChange:
    """A change to a volunteer's load, with the condition that makes it safe."""

    volunteer_id: str
    delta: int
    # Taking load requires being available (or at least not offline for pulls) and under the cap.
    require_capacity: bool = False
    require_status: VolunteerStatus | None = None
    # Taking a conversation while going offline must lose the race (else it would sit with nobody watching).
    forbid_status: VolunteerStatus | None = None
    assigned_at: str | None = None
    # Something the volunteer must be told (shown by getMe), e.g. that a conversation closed on its own.
    notice: str | None = None
    # A release that must never hold the rest back (a texter's STOP doesn't wait on a volunteer record): if only
    # this condition fails, the change is committed without it.
    best_effort: bool = False


@dataclass
class ConversationChange:
    """Everything one event or one routing step changes, committed atomically by the ``ConversationStore``
    (``ConcurrentUpdateError`` if any condition fails), and what to do once it is committed.

    ``expected_*`` versions are the optimistic locks: ``None`` with a record means "must not exist yet".
    """

    texter: TexterRecord | None = None
    expected_texter_version: int | None = None
    conversation: ConversationRecord | None = None
    expected_conversation_version: int | None = None
    delete_conversation: bool = False
    new_messages: list[StoredMessage] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    # Volunteers whose load this change moves (in the same transaction).
    loads: list[LoadChange] = field(default_factory=list)
    # A crisis escalation opened with this change (created in the same transaction), and its notifications.
    new_escalation: EscalationRecord | None = None
    notifications: list[Notification] = field(default_factory=list)
    # After the commit: texts and timers to queue, conversations whose bodies go, whether the router should run.
    outbound: list[OutboundText] = field(default_factory=list)
    timers: list[ConversationTimer] = field(default_factory=list)
    purge_messages_of: list[str] = field(default_factory=list)
    entered_queue: bool = False
    # Erasure (DELETE, or a supervisor's erase): the texter's record is deleted, conditioned on its version.
    delete_texter: bool = False
    # Escalations rewritten in the same transaction (unlinked from the texter and the conversation), each conditioned
    # on the version it was read at.
    escalations: list[EscalationRecord] = field(default_factory=list)
    # Appended to the audit log once the change is committed.
    audit: list[AuditEntry] = field(default_factory=list)
    # The texter is over their rate limit: no automatic text to them (the safety text excepted).
    quiet_to_texter: bool = False

    def without_best_effort_loads(self) -> ConversationChange:
        return replace(self, loads=[load for load in self.loads if not load.best_effort])


class ConversationStore(Protocol):
    """Where texters, conversations and messages live (DynamoDB in production, dicts in unit tests)."""

    def get_texter(self, texter_id: str) -> TexterRecord | None: ...

    def get_conversation(self, conversation_id: str) -> ConversationRecord | None: ...

    def commit(self, change: ConversationChange) -> None:
        """Apply the change atomically or raise ``ConcurrentUpdateError``."""
        ...

    def delete_messages(self, conversation_id: str) -> int:
        """Delete every stored message body of a conversation; returns how many."""
        ...


def closing(
    conversation: ConversationRecord,
    *,
    reason: str,
    now: datetime,
    retention_days: int,
    outcome: str | None = None,
    tags: list[str] | None = None,
    notice: str | None = None,
    best_effort_release: bool = False,
) -> ConversationChange:
    """Close: the holder's load goes, the bodies go (``purge_messages_of``), an anonymous daily counter counts it,
    and session metadata stays only with consent — unlinked from the texter, without triage's signals, for
    ``retention_days``. Without consent nothing of the conversation is kept.

    The texter's record is not part of this change: the caller unlinks it (see ``unlinked_texter``) or, for a
    texter's own STOP, has it already in hand.
    """
    closed = transition(conversation, ConversationState.CLOSED).model_copy(
        # Said to the dashboards (why it closed) even when nothing of the conversation is kept.
        update={"close_reason": reason}
    )
    change = ConversationChange(
        conversation=closed,
        expected_conversation_version=conversation.version,
        counters={f"conversations_closed#{now:%Y-%m-%d}": 1},
        purge_messages_of=[conversation.conversation_id],
    )
    if conversation.volunteer_id and conversation.state in HELD_STATES:
        change.loads.append(LoadChange(conversation.volunteer_id, -1, notice=notice, best_effort=best_effort_release))
    if conversation.consent is Consent.GIVEN:
        change.conversation = closed.model_copy(
            update={
                "texter_id": "",  # anonymous session information, unlinked from the texter
                "risk_signals": [],  # triage's slot names served only while it was open
                "offer_id": None,
                "offer_expires_at": None,
                "closed_at": now,
                "outcome": outcome if outcome is not None else conversation.outcome,
                "tags": tags if tags is not None else conversation.tags,
                "expires_at": int((now + timedelta(days=retention_days)).timestamp()),
            }
        )
    else:
        change.delete_conversation = True
    return change


def unlinked_texter(texter: TexterRecord, conversation: ConversationRecord, now: datetime) -> TexterRecord:
    """The texter's record once ``conversation`` closed: nothing on it points at the conversation any more; only
    when it closed and the consent answer in it are remembered (for a short welcome back within the returning
    window), never what was said."""
    return texter.model_copy(
        update={
            "open_conversation_id": None
            if texter.open_conversation_id == conversation.conversation_id
            else texter.open_conversation_id,
            "recent_events": [
                forget_conversation(applied, conversation.conversation_id) for applied in texter.recent_events
            ],
            "last_closed_at": now,
            "last_consent": conversation.consent,
        }
    )


def forget_conversation(applied: AppliedEvent, conversation_id: str) -> AppliedEvent:
    """The applied event with every mention of a closed conversation removed (nothing may link back to it)."""
    return applied.model_copy(
        update={
            "outbound": [
                text.model_copy(update={"conversation_id": None}) if text.conversation_id == conversation_id else text
                for text in applied.outbound
            ],
            "timers": [timer for timer in applied.timers if timer.conversation_id != conversation_id],
            # The bodies' TTL is the safety net if the purge right after this commit is lost.
            "purge_messages_of": [other for other in applied.purge_messages_of if other != conversation_id],
        }
    )
