"""The engine's parts every decision uses: its ports, its settings, and the building blocks of a change (reply,
schedule, keep a text, queue the texter, close). ``ConversationEngine`` (``peerline.conversation``) is built on it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from peerline.audit import AuditLog
from peerline.escalation import (
    EscalationService,
    EscalationSettings,
    Notifier,
    OnCallDirectory,
    unlinked_at_close,
)
from peerline.language import Language
from peerline.lifecycle import (
    ConversationChange,
    ConversationStore,
    closing,
    transition,
)
from peerline.models import (
    AppliedEvent,
    Consent,
    ConversationRecord,
    ConversationState,
    ConversationTimer,
    InboundText,
    OutboundText,
    StoredMessage,
    TexterRecord,
    TimerKind,
)
from peerline.ports import OutboundQueue, TimerQueue, utc_now
from peerline.push import LivePush, NoLivePush, Summarize
from peerline.replies import ReplyBook
from peerline.twilio_erasure import ErasureQueue

logger = logging.getLogger(__name__)

# How many applied events a texter record remembers, with what they queued, to make replays harmless.
REMEMBERED_EVENTS = 5
MAX_ATTEMPTS = 5


class Outcome(StrEnum):
    APPLIED = "applied"
    REPLAYED = "replayed"
    IGNORED = "ignored"
    STALE = "stale"
    RESCHEDULED = "rescheduled"


class Assessment(Protocol):
    """What triage says about one text (see ``peerline.triage``)."""

    @property
    def level(self) -> str: ...

    @property
    def categories(self) -> list[str]: ...

    @property
    def rules(self) -> list[str]: ...

    @property
    def signals(self) -> list[str]: ...


class Triage(Protocol):
    """Scores one text; ``context`` holds the frame signals of the texter's recent texts in this conversation."""

    def __call__(self, text: str, *, context: Sequence[str] = ()) -> Assessment: ...


# Frame signals kept per conversation (names only, never words): enough for the next texts to complete a frame.
MAX_RISK_SIGNALS = 24


@dataclass(frozen=True)
class CrisisDesk:
    """Who is paged and how: the on-call directory, the escalation service and the notification topic."""

    directory: OnCallDirectory
    service: EscalationService
    notifier: Notifier
    settings: EscalationSettings


@dataclass(frozen=True)
class EngineSettings:
    still_waiting_seconds: int = 300
    consent_timeout_seconds: int = 120
    message_ttl_hours: int = 24
    retention_days: int = 90
    inactivity_close_minutes: int = 30
    # A texter back this soon after their conversation closed gets a short welcome, not the consent question again.
    returning_window_minutes: int = 60
    # Texts a texter may send in a minute before the line stops answering them automatically (the texts are still
    # kept and triaged).
    texter_texts_per_minute: int = 20


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


class EngineCore:
    """Ports, settings and the building blocks of a change."""

    def __init__(
        self,
        repository: ConversationStore,
        outbound: OutboundQueue,
        timers: TimerQueue,
        replies: ReplyBook,
        settings: EngineSettings,
        clock: Callable[[], datetime] = utc_now,
        on_queued: Callable[[], object] | None = None,
        triage: Triage | None = None,
        crisis: CrisisDesk | None = None,
        live: LivePush | None = None,
        summarize: Summarize | None = None,
        audit: AuditLog | None = None,
        erasures: ErasureQueue | None = None,
    ) -> None:
        self._repository = repository
        # Where a texter's erasure is audited (anonymously); only the engine that handles texts needs it.
        self._audit = audit
        # Where each texter's text is queued for deletion from Twilio once its conversation closed (see
        # ``peerline.twilio_erasure``); None where nobody texts in (the timers function, unit tests of other things).
        self._erasures = erasures
        # Live dashboard updates, pushed after each committed change; ``summarize`` says what the dashboard shows
        # of a conversation (its preview and escalation state: see ``views``), the same as the volunteer API.
        self._live: LivePush = live or NoLivePush()
        self._summarize = summarize
        self._outbound = outbound
        self._timers = timers
        self._replies = replies
        self._settings = settings
        self._clock = clock
        # Called after a conversation entered the queue (the router offers it to a volunteer).
        self._on_queued = on_queued
        self._triage = triage
        self._crisis = crisis

    def _enqueue_for_volunteer(
        self, change: ConversationChange, event: EngineEvent, reply: str | None = "finding"
    ) -> None:
        assert change.conversation is not None
        waiting = transition(change.conversation, ConversationState.WAITING)
        change.conversation = waiting.model_copy(update={"waiting_since": event.at})
        change.entered_queue = True
        if reply is not None:
            self._reply(change, event, reply, waiting.language)
        self._schedule(change, event, TimerKind.STILL_WAITING, self._settings.still_waiting_seconds)

    def _record_consent(self, change: ConversationChange, consent: bool) -> None:
        assert change.conversation is not None
        change.conversation = change.conversation.model_copy(
            update={"consent": Consent.GIVEN if consent else Consent.REFUSED}
        )

    def _store_inbound(self, change: ConversationChange, event: EngineEvent, text: InboundText) -> None:
        assert change.conversation is not None
        change.new_messages.append(
            StoredMessage(
                conversation_id=change.conversation.conversation_id,
                message_key=f"{text.received_at.isoformat()}#{text.message_sid}",
                message_id=text.message_sid,
                direction="inbound",
                body=text.body,
                at=text.received_at,
                expires_at=epoch(event.at + timedelta(hours=self._settings.message_ttl_hours)),
            )
        )
        change.conversation = change.conversation.model_copy(
            update={
                "inbound_count": change.conversation.inbound_count + 1,
                "expires_at": self._open_expiry(event.at),
            }
        )

    def _close(
        self, change: ConversationChange, conversation: ConversationRecord, now: datetime, *, reason: str
    ) -> None:
        """Close (see ``lifecycle.closing``) within the texter's own event: its change already holds their record.
        The volunteer's release is best effort: a texter's STOP never waits on a volunteer record."""
        closed = closing(
            conversation, reason=reason, now=now, retention_days=self._settings.retention_days, best_effort_release=True
        )
        change.conversation = closed.conversation
        change.expected_conversation_version = closed.expected_conversation_version
        change.delete_conversation = closed.delete_conversation
        change.loads += closed.loads
        change.purge_messages_of += closed.purge_messages_of
        if conversation.escalation_id is not None and self._crisis is not None:
            linked = self._crisis.service.linked_to(conversation_id=conversation.conversation_id)
            change.escalations += unlinked_at_close(linked, conversation)
        for counter, increment in closed.counters.items():
            change.counters[counter] = change.counters.get(counter, 0) + increment

    def _reply(self, change: ConversationChange, event: EngineEvent, name: str, language: Language) -> None:
        conversation = change.conversation
        change.outbound.append(
            OutboundText(
                outbound_id=f"{event.event_id}:{name}",
                recipient_id=texter_of(change).texter_id,
                encrypted_to=texter_of(change).encrypted_number,
                body=self._replies.text(name, language),
                purpose=name,
                conversation_id=conversation.conversation_id if conversation else None,
                texter_id=texter_of(change).texter_id,
            )
        )
        if conversation is not None and not change.delete_conversation and conversation.is_open:
            change.conversation = conversation.model_copy(update={"outbound_count": conversation.outbound_count + 1})

    def _schedule(self, change: ConversationChange, event: EngineEvent, kind: TimerKind, after_seconds: int) -> None:
        assert change.conversation is not None
        change.timers.append(
            ConversationTimer(
                timer_id=f"{event.event_id}:{kind}",
                kind=kind,
                conversation_id=change.conversation.conversation_id,
                texter_id=texter_of(change).texter_id,
                fire_at=event.at + timedelta(seconds=after_seconds),
            )
        )

    def _open_expiry(self, now: datetime) -> int:
        # Safety net only: an open conversation is refreshed on every text and closed explicitly.
        return epoch(now + timedelta(hours=self._settings.message_ttl_hours))

    def _open_conversation_of(self, texter: TexterRecord | None) -> ConversationRecord | None:
        if texter is None or texter.open_conversation_id is None:
            return None
        conversation = self._repository.get_conversation(texter.open_conversation_id)
        return conversation if conversation is not None and conversation.is_open else None


@dataclass(frozen=True)
class EngineEvent:
    event_id: str
    at: datetime
    # For a text: when it was received (orders the line's answers right after it in the transcript).
    received_at: datetime | None = None


def in_crisis(conversation: ConversationRecord | None) -> bool:
    """Escalated (by triage or a volunteer): the line then texts only what helps, and asks nothing."""
    return conversation is not None and conversation.escalation_id is not None


def texter_of(change: ConversationChange) -> TexterRecord:
    """The texter whose event the engine is deciding: every engine change has one."""
    assert change.texter is not None
    return change.texter


def applied_event(event_id: str, change: ConversationChange) -> AppliedEvent:
    return AppliedEvent(
        event_id=event_id,
        outbound=list(change.outbound),
        timers=list(change.timers),
        purge_messages_of=list(change.purge_messages_of),
        notifications=list(change.notifications),
    )
