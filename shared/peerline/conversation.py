"""The conversation engine: what happens to a texter's text, and to a conversation's timers.

Every event is decided against the current state and applied as **one** atomic, version-conditioned change
(texter + conversation + stored message + counters). Only after the change commits are its texts and timers
queued, with ids derived from the event, so that:
- a replayed or retried event re-queues exactly what it decided the first time (deduplicated downstream) instead
  of deciding again on state that has moved on;
- two workers racing on one texter (an inbound text and a timer) can't both win: the loser reloads and decides
  again on the new state;
- a timer that fires for a state that has moved on does nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from peerline.escalation import (
    PROMPTS,
    EscalationService,
    EscalationSettings,
    Notifier,
    OnCallDirectory,
    parse_ack,
    plan_escalation,
)
from peerline.keywords import Keyword, classify_keyword, parse_consent
from peerline.language import Language, detect_language
from peerline.lifecycle import (
    ConversationChange,
    ConversationStore,
    closing,
    forget_conversation,
    transition,
)
from peerline.models import (
    QUEUED_STATES,
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
    inactivity_timer,
)
from peerline.ports import ConcurrentUpdateError, OutboundQueue, TimerQueue, utc_now
from peerline.push import LivePush, NoLivePush, Summarize, events_for_change, publish_quietly
from peerline.replies import ReplyBook
from peerline.risk import RiskLevel, highest

logger = logging.getLogger(__name__)

# How many applied events a texter record remembers, with what they queued, to make replays harmless.
_REMEMBERED_EVENTS = 5
_MAX_ATTEMPTS = 5

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


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


class ConversationEngine:
    """Decides and applies what each texter event means for the conversation."""

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
    ) -> None:
        self._repository = repository
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

    # ------------------------------------------------------------------ events
    def handle_text(self, text: InboundText) -> Outcome:
        """Apply one inbound text of a texter (texts of one texter arrive here in order)."""
        if self._crisis is not None and (acknowledged := self._acknowledge_page(text)):
            return acknowledged
        for _ in range(_MAX_ATTEMPTS):
            texter = self._repository.get_texter(text.texter_id)
            if texter is not None and (replayed := self._replay(texter, text.message_sid)):
                return replayed
            conversation = self._open_conversation_of(texter)
            change, outcome = self._decide_text(text, texter, conversation)
            try:
                self._repository.commit(change)
            except ConcurrentUpdateError:
                continue
            self._dispatch(change, before=conversation)
            return outcome
        raise ConcurrentUpdateError(f"text {text.message_sid} lost {_MAX_ATTEMPTS} races in a row")

    def handle_timer(self, timer: ConversationTimer) -> Outcome:
        """Apply a conversation timer; one whose conversation has moved on does nothing."""
        now = self._clock()
        if timer.fire_at > now + timedelta(seconds=1):
            # Queues delay at most 15 minutes: a longer timer is delayed again until it is due.
            self._timers.schedule([timer])
            return Outcome.RESCHEDULED
        for _ in range(_MAX_ATTEMPTS):
            texter = self._repository.get_texter(timer.texter_id)
            if texter is None:
                return Outcome.STALE
            if replayed := self._replay(texter, timer.timer_id):
                return replayed
            conversation = self._repository.get_conversation(timer.conversation_id)
            if conversation is None or not conversation.is_open:
                return Outcome.STALE
            change = self._decide_timer(timer, texter, conversation)
            if change is None:
                return Outcome.STALE
            try:
                self._repository.commit(change)
            except ConcurrentUpdateError:
                continue
            self._dispatch(change, before=conversation)
            return Outcome.APPLIED
        raise ConcurrentUpdateError(f"timer {timer.timer_id} lost {_MAX_ATTEMPTS} races in a row")

    # ------------------------------------------------------------------ decisions
    def _decide_text(
        self, text: InboundText, texter: TexterRecord | None, conversation: ConversationRecord | None
    ) -> tuple[ConversationChange, Outcome]:
        now = self._clock()
        keyword = classify_keyword(text.body, text.opt_out_type)
        expected_version = texter.version if texter else None
        if texter is None:
            texter = TexterRecord(
                texter_id=text.texter_id,
                encrypted_number=text.encrypted_number,
                language=detect_language(text.body),
                first_seen_at=now,
                last_seen_at=now,
                expires_at=0,
            )
        texter = texter.model_copy(
            update={
                "encrypted_number": text.encrypted_number,
                "last_seen_at": now,
                "expires_at": _epoch(now + timedelta(days=self._settings.retention_days)),
            }
        )
        change = ConversationChange(texter=texter, expected_texter_version=expected_version)
        event = _Event(text.message_sid, now, received_at=text.received_at)

        if texter.opted_out and keyword not in (Keyword.START, Keyword.HELP):
            # Opted out means silence; only START brings the texter back (HELP is still answered, below).
            # But crisis always escalates: the on-call professional is paged, the texter is not texted.
            self._assess(change, event, text, conversation=None)
            return self._finish(change, event), Outcome.IGNORED

        if keyword is Keyword.STOP:
            if conversation is not None:
                self._close(change, conversation, now, reason="opted_out")
            # After STOP the line forgets the returning texter too: START brings the full welcome again.
            change.texter = _texter(change).model_copy(
                update={
                    "opted_out": True,
                    "open_conversation_id": None,
                    "last_closed_at": None,
                    "last_consent": Consent.UNKNOWN,
                }
            )
            # With Twilio's Advanced Opt-Out, Twilio has already confirmed: never a second confirmation.
            if (text.opt_out_type or "").upper() != "STOP":
                self._reply(change, event, "stopped", texter.language)
            change.counters[f"opt_outs#{now:%Y-%m-%d}"] = 1
            return self._finish(change, event), Outcome.APPLIED

        if keyword is Keyword.HELP:
            self._reply(change, event, "help", conversation.language if conversation else texter.language)
            return self._finish(change, event), Outcome.APPLIED

        if keyword is Keyword.START and texter.opted_out:
            change.texter = _texter(change).model_copy(update={"opted_out": False})
            change.counters[f"opt_ins#{now:%Y-%m-%d}"] = 1
            self._start_conversation(change, event, text, welcome_back=True)
            return self._finish(change, event), Outcome.APPLIED

        if conversation is None:
            self._start_conversation(change, event, text, welcome_back=False)
        else:
            self._continue_conversation(change, event, text, conversation)
        return self._finish(change, event), Outcome.APPLIED

    def _start_conversation(self, change: ConversationChange, event: _Event, text: InboundText, *, welcome_back: bool) -> None:
        now = event.at
        returning = not welcome_back and self._is_returning(_texter(change), now)
        # "START" says nothing about language: a returning texter keeps the one they were answered in.
        language = _texter(change).language if welcome_back else detect_language(text.body)
        conversation = ConversationRecord(
            # Derived from the first text, so re-deciding the same text can't open a second conversation.
            conversation_id=f"c{now:%Y%m%d}{hashlib.sha256(text.message_sid.encode()).hexdigest()[:20]}",
            texter_id=text.texter_id,
            state=ConversationState.NEW,
            language=language,
            # A texter back within the window answered the question minutes ago: their answer stands.
            consent=_texter(change).last_consent if returning else Consent.UNKNOWN,
            created_at=now,
            expires_at=self._open_expiry(now),
        )
        conversation = transition(conversation, ConversationState.CONSENT_PENDING)
        change.conversation = conversation
        change.expected_conversation_version = None
        change.texter = _texter(change).model_copy(
            update={
                "open_conversation_id": conversation.conversation_id,
                "language": language,
                # Served its purpose: the record keeps no trace of the earlier conversation from here on.
                "last_closed_at": None,
                "last_consent": Consent.UNKNOWN,
            }
        )
        change.counters[f"conversations_started#{now:%Y-%m-%d}"] = 1
        if welcome_back:
            self._reply(change, event, "welcome_back", language)
            self._ask_consent(change, event)
            return
        if classify_keyword(text.body) is None:
            self._keep_and_assess(change, event, text)
        if _in_crisis(change.conversation):
            # The safety text is all a crisis first text gets: no welcome, and the consent question is never
            # asked in this conversation (consent stays unknown, so nothing about it is kept after close).
            return
        if returning:
            self._enqueue_for_volunteer(change, event, reply="returning")
        else:
            self._ask_consent(change, event)

    def _ask_consent(self, change: ConversationChange, event: _Event) -> None:
        """The full welcome, with the consent question, and the timer that queues the texter if they ignore it."""
        assert change.conversation is not None
        self._reply(change, event, "welcome", change.conversation.language)
        self._schedule(change, event, TimerKind.CONSENT_TIMEOUT, self._settings.consent_timeout_seconds)

    def _is_returning(self, texter: TexterRecord, now: datetime) -> bool:
        """Whether the texter's last conversation closed within the returning window (never after STOP)."""
        if texter.opted_out or texter.last_closed_at is None:
            return False
        return now - texter.last_closed_at <= timedelta(minutes=self._settings.returning_window_minutes)

    def _continue_conversation(
        self, change: ConversationChange, event: _Event, text: InboundText, conversation: ConversationRecord
    ) -> None:
        change.conversation = conversation
        change.expected_conversation_version = conversation.version
        # In a crisis no consent question is open: a "yes" or "no" answers the volunteer or the safety text, and
        # is kept for the volunteer like any other text.
        consent = None if _in_crisis(conversation) else parse_consent(text.body)
        if conversation.state in (ConversationState.NEW, ConversationState.CONSENT_PENDING):
            if consent is None:
                # The question was ignored: support never waits on consent. Keep the text for the volunteer.
                self._keep_and_assess(change, event, text)
                if _in_crisis(change.conversation):
                    # Escalating queued the texter already; the safety text is all they need to hear now.
                    if change.conversation.state in (ConversationState.NEW, ConversationState.CONSENT_PENDING):
                        self._enqueue_for_volunteer(change, event, reply=None)
                    return
            else:
                self._record_consent(change, consent)
                self._reply(change, event, "consent_given" if consent else "consent_refused", conversation.language)
            self._enqueue_for_volunteer(change, event)
            return
        if consent is not None and conversation.consent is Consent.UNKNOWN and conversation.state in QUEUED_STATES:
            # A late answer to the consent question, while still waiting: record it, say thanks.
            self._record_consent(change, consent)
            self._reply(change, event, "consent_given" if consent else "consent_refused", conversation.language)
            return
        # waiting / offered / active: the text is kept for (or relayed to) the volunteer.
        self._keep_and_assess(change, event, text)
        if conversation.state is ConversationState.ACTIVE:
            change.conversation = change.conversation.model_copy(update={"last_activity_at": event.at})
            after = timedelta(minutes=self._settings.inactivity_close_minutes)
            change.timers.append(
                inactivity_timer(conversation.conversation_id, conversation.texter_id, event.at, after)
            )

    def _decide_timer(
        self, timer: ConversationTimer, texter: TexterRecord, conversation: ConversationRecord
    ) -> ConversationChange | None:
        now = self._clock()
        if texter.opted_out:
            return None
        change = ConversationChange(
            texter=texter,
            expected_texter_version=texter.version,
            conversation=conversation,
            expected_conversation_version=conversation.version,
        )
        event = _Event(timer.timer_id, now)
        if timer.kind is TimerKind.CONSENT_TIMEOUT:
            if conversation.state not in (ConversationState.NEW, ConversationState.CONSENT_PENDING):
                return None
            self._enqueue_for_volunteer(change, event)
        elif timer.kind is TimerKind.STILL_WAITING:
            if conversation.state not in QUEUED_STATES or conversation.resources_sent:
                return None
            change.conversation = conversation.model_copy(update={"resources_sent": True})
            self._reply(change, event, "still_waiting", conversation.language)
        return self._finish(change, event)

    # ------------------------------------------------------------------ crisis
    def _assess(
        self, change: ConversationChange, event: _Event, text: InboundText, *, conversation: ConversationRecord | None
    ) -> None:
        """Triage the text; raise the conversation's level and priority; escalate high and imminent risk."""
        if self._triage is None:
            return
        # Frames combine across the texter's recent texts: the means in one text, the time in the next.
        context = conversation.risk_signals if conversation is not None else []
        result = self._triage(text.body, context=context)
        level = RiskLevel(result.level)
        if conversation is not None and result.signals:
            remembered = list(dict.fromkeys([*conversation.risk_signals, *result.signals]))[-MAX_RISK_SIGNALS:]
            if remembered != conversation.risk_signals:
                conversation = conversation.model_copy(update={"risk_signals": remembered})
                change.conversation = conversation
        if not level.at_least(RiskLevel.CONCERN):
            return
        escalate = self._crisis is not None and level.escalates
        if conversation is not None:
            risk = highest([conversation.risk_level, level])
            conversation = conversation.model_copy(
                update={
                    "risk_level": risk,
                    "risk_categories": sorted({*conversation.risk_categories, *result.categories}),
                    "priority": highest([conversation.priority, risk]),
                    "volunteer_prompt": PROMPTS[risk],
                }
            )
            escalate = escalate and level.rank > conversation.escalated_level.rank
            change.conversation = conversation
        if not escalate:
            return
        assert self._crisis is not None
        plan = plan_escalation(
            event_id=event.event_id,
            conversation=conversation,
            texter=_texter(change),
            level=level,
            categories=result.categories,
            rules=result.rules,
            trigger="triage",
            now=event.at,
            directory=self._crisis.directory,
            replies=self._replies,
            settings=self._crisis.settings,
        )
        change.new_escalation = plan.escalation
        safety = [text for text in plan.outbound if text.purpose == "safety"]
        pages = [text for text in plan.outbound if text.purpose != "safety"]
        # The safety text goes first, before anything else this event sends (e.g. the welcome).
        change.outbound = [*safety, *change.outbound, *pages]
        change.timers += plan.timers
        change.notifications += plan.notifications
        if conversation is not None:
            conversation = conversation.model_copy(
                update={"escalation_id": plan.escalation.escalation_id, "escalated_level": level}
            )
            change.conversation = conversation
            if conversation.state in (ConversationState.NEW, ConversationState.CONSENT_PENDING):
                # Support never waits on consent, least of all in a crisis: queue now, at the top.
                waiting = transition(conversation, ConversationState.WAITING)
                change.conversation = waiting.model_copy(update={"waiting_since": event.at})
                change.entered_queue = True
                self._schedule(change, event, TimerKind.STILL_WAITING, self._settings.still_waiting_seconds)

    def _acknowledge_page(self, text: InboundText) -> Outcome | None:
        """``ACK <code>`` from an on-call professional's phone acknowledges the escalation (and stops re-paging)."""
        assert self._crisis is not None
        code = parse_ack(text.body)
        member = self._crisis.directory.member_for(text.texter_id) if code else None
        if code is None or member is None:
            return None
        acknowledgement = self._crisis.service.acknowledge_code(code, actor=f"on-call:{member.name}")
        if acknowledgement is None:
            body = f"Peerline: no escalation with code {code}. Check the code and reply ACK <code>."
        elif acknowledgement.already:
            # Say who was first, so a second professional doesn't assume they own the follow-up.
            body = f"Peerline: {acknowledgement.message}"
        else:
            escalation = acknowledgement.escalation
            body = (
                f"Peerline: escalation {code} acknowledged ({escalation.texter_alias}, {escalation.level}). "
                "Thank you."
            )
        self._outbound.enqueue(
            [
                OutboundText(
                    outbound_id=f"{text.message_sid}:ack",
                    recipient_id=member.target_id,
                    encrypted_to=text.encrypted_number,
                    body=body,
                    purpose="ack",
                )
            ]
        )
        return Outcome.APPLIED

    # ------------------------------------------------------------------ building blocks
    def _enqueue_for_volunteer(self, change: ConversationChange, event: _Event, reply: str | None = "finding") -> None:
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

    def _keep_and_assess(self, change: ConversationChange, event: _Event, text: InboundText) -> None:
        """Keep the texter's text for the volunteer, then triage it (which may escalate)."""
        self._store_inbound(change, event, text)
        self._assess(change, event, text, conversation=change.conversation)

    def _store_inbound(self, change: ConversationChange, event: _Event, text: InboundText) -> None:
        assert change.conversation is not None
        change.new_messages.append(
            StoredMessage(
                conversation_id=change.conversation.conversation_id,
                message_key=f"{text.received_at.isoformat()}#{text.message_sid}",
                message_id=text.message_sid,
                direction="inbound",
                body=text.body,
                at=text.received_at,
                expires_at=_epoch(event.at + timedelta(hours=self._settings.message_ttl_hours)),
            )
        )
        change.conversation = change.conversation.model_copy(
            update={
                "inbound_count": change.conversation.inbound_count + 1,
                "expires_at": self._open_expiry(event.at),
            }
        )

    def _close(self, change: ConversationChange, conversation: ConversationRecord, now: datetime, *, reason: str) -> None:
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
        for counter, increment in closed.counters.items():
            change.counters[counter] = change.counters.get(counter, 0) + increment

    def _reply(self, change: ConversationChange, event: _Event, name: str, language: Language) -> None:
        conversation = change.conversation
        change.outbound.append(
            OutboundText(
                outbound_id=f"{event.event_id}:{name}",
                recipient_id=_texter(change).texter_id,
                encrypted_to=_texter(change).encrypted_number,
                body=self._replies.text(name, language),
                purpose=name,
                conversation_id=conversation.conversation_id if conversation else None,
                texter_id=_texter(change).texter_id,
            )
        )
        if conversation is not None and not change.delete_conversation and conversation.is_open:
            change.conversation = conversation.model_copy(update={"outbound_count": conversation.outbound_count + 1})

    def _schedule(self, change: ConversationChange, event: _Event, kind: TimerKind, after_seconds: int) -> None:
        assert change.conversation is not None
        change.timers.append(
            ConversationTimer(
                timer_id=f"{event.event_id}:{kind}",
                kind=kind,
                conversation_id=change.conversation.conversation_id,
                texter_id=_texter(change).texter_id,
                fire_at=event.at + timedelta(seconds=after_seconds),
            )
        )

    def _finish(self, change: ConversationChange, event: _Event) -> ConversationChange:
        """Stamp the change with the event, so a replay of it re-sends instead of re-deciding."""
        self._keep_automatic_texts(change, event)
        remembered = [*_texter(change).recent_events, _applied(event.event_id, change)][-_REMEMBERED_EVENTS:]
        if change.delete_conversation and change.conversation is not None:
            # Without consent nothing about the conversation may remain, not even in this replay memory.
            remembered = [forget_conversation(applied, change.conversation.conversation_id) for applied in remembered]
        change.texter = _texter(change).model_copy(update={"recent_events": remembered})
        return change

    def _keep_automatic_texts(self, change: ConversationChange, event: _Event) -> None:
        """The line's own texts to the texter join the open conversation's transcript, in the order they are sent,
        so the volunteer knows what the texter was already told. Committed with the event's change (ids and keys
        derive from the event, so it is stored once); never pages, never texts of a closed conversation."""
        conversation = change.conversation
        if conversation is None or change.delete_conversation or not conversation.is_open:
            return
        to_texter = [
            text
            for text in change.outbound
            if text.recipient_id == _texter(change).texter_id and text.conversation_id == conversation.conversation_id
        ]
        # After the event's own inbound text (whose key is "<received at>#<sid>"), in sending order.
        stamp = (event.received_at or event.at).isoformat()
        expires_at = _epoch(event.at + timedelta(hours=self._settings.message_ttl_hours))
        change.new_messages += [
            StoredMessage.automatic(
                text,
                conversation_id=conversation.conversation_id,
                key=f"{stamp}#{event.event_id}#{position:02d}",
                at=event.at,
                expires_at=expires_at,
            )
            for position, text in enumerate(to_texter)
        ]

    def _open_expiry(self, now: datetime) -> int:
        # Safety net only: an open conversation is refreshed on every text and closed explicitly.
        return _epoch(now + timedelta(hours=self._settings.message_ttl_hours))

    def _open_conversation_of(self, texter: TexterRecord | None) -> ConversationRecord | None:
        if texter is None or texter.open_conversation_id is None:
            return None
        conversation = self._repository.get_conversation(texter.open_conversation_id)
        return conversation if conversation is not None and conversation.is_open else None

    def _replay(self, texter: TexterRecord, event_id: str) -> Outcome | None:
        for applied in texter.recent_events:
            if applied.event_id == event_id:
                if texter.opted_out:
                    # A replay (a webhook has no timestamp) must never text an opted-out person again; only
                    # the opt-out confirmation itself and pages to on-call may be re-queued (deduplicated).
                    self._outbound.enqueue([t for t in applied.outbound if t.purpose in ("stopped", "page")])
                    self._timers.schedule([t for t in applied.timers if t.kind is TimerKind.ESCALATION_REPAGE])
                else:
                    self._outbound.enqueue(applied.outbound)
                    self._timers.schedule(applied.timers)
                if applied.notifications and self._crisis is not None:
                    self._crisis.notifier.publish(applied.notifications)
                self._purge(applied.purge_messages_of)
                return Outcome.REPLAYED
        return None

    def _purge(self, conversation_ids: Sequence[str]) -> None:
        for conversation_id in conversation_ids:
            self._repository.delete_messages(conversation_id)

    def _dispatch(self, change: ConversationChange, *, before: ConversationRecord | None) -> None:
        self._outbound.enqueue(change.outbound)
        self._timers.schedule(change.timers)
        if change.notifications and self._crisis is not None:
            self._crisis.notifier.publish(change.notifications)
        self._purge(change.purge_messages_of)
        # Dashboards hear of this change before routing offers it on (so they never see the two out of order).
        self._push_live(change, before)
        if (change.entered_queue or change.loads) and self._on_queued is not None:
            try:
                self._on_queued()
            except Exception:
                # The text itself is applied; routing is retried by every timer and availability change.
                logger.exception("routing after a state change failed")

    # ------------------------------------------------------------------ live dashboard
    def _push_live(self, change: ConversationChange, before: ConversationRecord | None) -> None:
        after = change.conversation
        events = events_for_change(
            before if after is None or before is None or before.conversation_id == after.conversation_id else None,
            after,
            new_messages=change.new_messages,
            new_escalation=change.new_escalation,
            released=[load.volunteer_id for load in change.loads],
            summarize=self._summarize,
        )
        publish_quietly(self._live, events)


@dataclass(frozen=True)
class _Event:
    event_id: str
    at: datetime
    # For a text: when it was received (orders the line's answers right after it in the transcript).
    received_at: datetime | None = None


def _in_crisis(conversation: ConversationRecord | None) -> bool:
    """Escalated (by triage or a volunteer): the line then texts only what helps, and asks nothing."""
    return conversation is not None and conversation.escalation_id is not None


def _texter(change: ConversationChange) -> TexterRecord:
    """The texter whose event the engine is deciding: every engine change has one."""
    assert change.texter is not None
    return change.texter


def _applied(event_id: str, change: ConversationChange) -> AppliedEvent:
    return AppliedEvent(
        event_id=event_id,
        outbound=list(change.outbound),
        timers=list(change.timers),
        purge_messages_of=list(change.purge_messages_of),
        notifications=list(change.notifications),
    )


