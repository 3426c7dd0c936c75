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
from datetime import datetime, timedelta

from peerline.engine_core import (
    MAX_ATTEMPTS,
    MAX_RISK_SIGNALS,
    Assessment,
    CrisisDesk,
    EngineEvent,
    EngineSettings,
    Outcome,
    Triage,
    epoch,
    in_crisis,
    texter_of,
)
from peerline.engine_effects import EngineEffects
from peerline.erasure import erasure, erasure_confirmation, texter_erased_itself
from peerline.escalation import unlinked_escalation
from peerline.keywords import Keyword, classify_keyword, normalize, parse_consent
from peerline.language import Language, detect_language
from peerline.lifecycle import (
    ConversationChange,
    transition,
    unlinked_texter,
)
from peerline.models import (
    QUEUED_STATES,
    Consent,
    ConversationRecord,
    ConversationState,
    ConversationTimer,
    InboundText,
    TexterRecord,
    TimerKind,
    inactivity_timer,
)
from peerline.ports import ConcurrentUpdateError, OutboundQueue, TimerQueue, utc_now
from peerline.twilio_erasure import MessageErasure

__all__ = [
    "MAX_RISK_SIGNALS",
    "Assessment",
    "ConcurrentUpdateError",
    "ConversationEngine",
    "CrisisDesk",
    "EngineSettings",
    "OutboundQueue",
    "Outcome",
    "TimerQueue",
    "Triage",
    "utc_now",
]


class ConversationEngine(EngineEffects):
    """Decides and applies what each texter event means for the conversation: the public entry points and
    the decisions; ``EngineCore``, ``EngineCrisis`` and ``EngineEffects`` hold the rest."""

    def handle_text(self, text: InboundText) -> Outcome:
        """Apply one inbound text of a texter (texts of one texter arrive here in order)."""
        if self._crisis is not None and (acknowledged := self._acknowledge_page(text)):
            self._erase_when_closed(text, conversation_id=None)
            return acknowledged
        for _ in range(MAX_ATTEMPTS):
            texter = self._repository.get_texter(text.texter_id)
            if texter is not None and (replayed := self._replay(texter, text.message_sid)):
                # The first attempt may have failed before queueing the erasure. Its conversation is the open one
                # if it still is; if that closed meanwhile, the text can go at once.
                self._erase_when_closed(text, conversation_id=texter.open_conversation_id)
                return replayed
            conversation = self._open_conversation_of(texter)
            change, outcome = self._decide_text(text, texter, conversation)
            try:
                self._repository.commit(change)
            except ConcurrentUpdateError:
                continue
            self._dispatch(change, before=conversation)
            # The conversation the text opened, continued or closed; else the one open around it (a HELP).
            around = change.conversation or conversation
            self._erase_when_closed(text, conversation_id=around.conversation_id if around else None)
            return outcome
        raise ConcurrentUpdateError(f"text {text.message_sid} lost {MAX_ATTEMPTS} races in a row")

    def _erase_when_closed(self, text: InboundText, *, conversation_id: str | None) -> None:
        """Queue the text's deletion from Twilio, done once ``conversation_id`` has closed (at once without one).
        After the commit, and allowed to fail: the queue then retries the text, which replays and queues it again."""
        if self._erasures is not None:
            self._erasures.schedule([MessageErasure(message_sid=text.message_sid, conversation_id=conversation_id)])

    def handle_timer(self, timer: ConversationTimer) -> Outcome:
        """Apply a conversation timer; one whose conversation has moved on does nothing."""
        now = self._clock()
        if timer.fire_at > now + timedelta(seconds=1):
            # Queues delay at most 15 minutes: a longer timer is delayed again until it is due.
            self._timers.schedule([timer])
            return Outcome.RESCHEDULED
        for _ in range(MAX_ATTEMPTS):
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
        raise ConcurrentUpdateError(f"timer {timer.timer_id} lost {MAX_ATTEMPTS} races in a row")

    def _decide_text(
        self, text: InboundText, texter: TexterRecord | None, conversation: ConversationRecord | None
    ) -> tuple[ConversationChange, Outcome]:
        now = self._clock()
        keyword = classify_keyword(text.body, text.opt_out_type)
        if keyword is Keyword.DELETE:
            # Whatever the texter's state (opted out, blocked, in a crisis): they may always erase themselves.
            return self._erase(text, texter, conversation, now), Outcome.APPLIED
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
        texter = self._counted_in_rate_window(texter, now).model_copy(
            update={
                "encrypted_number": text.encrypted_number,
                "last_seen_at": now,
                "expires_at": epoch(now + timedelta(days=self._settings.retention_days)),
            }
        )
        change = ConversationChange(texter=texter, expected_texter_version=expected_version)
        # Above the rate limit the text is still kept and triaged (a crisis text still escalates); only the line's
        # automatic texts to the texter stop, the safety text excepted.
        change.quiet_to_texter = texter.texts_in_rate_window > self._settings.texter_texts_per_minute
        event = EngineEvent(text.message_sid, now, received_at=text.received_at)

        if texter.opted_out and keyword not in (Keyword.START, Keyword.HELP):
            # Opted out means silence; only START brings the texter back (HELP is still answered, below).
            # But crisis always escalates: the on-call professional is paged, the texter is not texted.
            self._assess(change, event, text, conversation=None)
            return self._finish(change, event), Outcome.IGNORED

        if keyword is Keyword.STOP:
            if conversation is not None:
                self._close(change, conversation, now, reason="opted_out")
            # After STOP the line forgets the returning texter too: START brings the full welcome again.
            change.texter = texter_of(change).model_copy(
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
            change.texter = texter_of(change).model_copy(update={"opted_out": False})
            change.counters[f"opt_ins#{now:%Y-%m-%d}"] = 1
            if not texter.is_blocked(now):
                self._start_conversation(change, event, text, welcome_back=True)
                return self._finish(change, event), Outcome.APPLIED

        if texter.is_blocked(now):
            self._while_blocked(change, event, text, conversation)
            return self._finish(change, event), Outcome.IGNORED

        if conversation is None:
            self._start_conversation(change, event, text, welcome_back=False)
        else:
            self._continue_conversation(change, event, text, conversation)
        return self._finish(change, event), Outcome.APPLIED

    def _erase(
        self, text: InboundText, texter: TexterRecord | None, conversation: ConversationRecord | None, now: datetime
    ) -> ConversationChange:
        """DELETE / BORRAR: the texter's record, their open conversation and their escalation links go in one
        change (see ``peerline.erasure``), with one confirmation text and an anonymous audit entry."""
        linked = self._crisis.service.linked_to(texter_id=text.texter_id) if self._crisis is not None else []
        if texter is None:
            # No record (never seen, or expired); escalations may still name them. The texter still hears what was
            # erased, at the number they texted from.
            known = TexterRecord(
                texter_id=text.texter_id,
                encrypted_number=text.encrypted_number,
                language=Language.SPANISH if normalize(text.body) == "borrar" else Language.ENGLISH,
                first_seen_at=now,
                last_seen_at=now,
                expires_at=0,
            )
            change = ConversationChange(
                counters={f"texters_erased#{now:%Y-%m-%d}": 1},
                escalations=[unlinked_escalation(escalation, keep_conversation=False) for escalation in linked],
            )
        else:
            known = texter
            change = erasure(texter, conversation, linked, now=now, retention_days=self._settings.retention_days)
        change.audit.append(texter_erased_itself(now))
        if not known.opted_out:
            # Queued from the record read before the erasure: it carries the encrypted number with it.
            body = self._replies.text("erased", known.language)
            change.outbound.append(erasure_confirmation(known, event_id=text.message_sid, body=body))
        return change

    def _counted_in_rate_window(self, texter: TexterRecord, now: datetime) -> TexterRecord:
        """This text counted in the texter's one-minute window (a fixed window: the count restarts each minute)."""
        started = texter.rate_window_started_at
        if started is None or now - started >= timedelta(minutes=1):
            return texter.model_copy(update={"rate_window_started_at": now, "texts_in_rate_window": 1})
        return texter.model_copy(update={"texts_in_rate_window": texter.texts_in_rate_window + 1})

    def _while_blocked(
        self, change: ConversationChange, event: EngineEvent, text: InboundText, conversation: ConversationRecord | None
    ) -> None:
        """A blocked texter's text reaches no volunteer but is still triaged: a crisis text gets the safety text and
        pages on-call (joining their open escalation if one is being paged). At most one notice per block."""
        if conversation is not None:
            # Blocked while a conversation was open: it closes now, like any close (bodies purged, holder told).
            self._close(change, conversation, event.at, reason="blocked")
            change.texter = unlinked_texter(texter_of(change), conversation, event.at)
        self._assess(change, event, text, conversation=None)
        if not texter_of(change).block_notice_sent:
            # After a crisis text the safety text (with the emergency resources) is their one notice: a texter in
            # crisis is never told the line can't continue.
            if change.new_escalation is None:
                self._reply(change, event, "blocked", texter_of(change).language)
            change.texter = texter_of(change).model_copy(update={"block_notice_sent": True})
        change.counters[f"blocked_texts#{event.at:%Y-%m-%d}"] = 1

    def _start_conversation(
        self, change: ConversationChange, event: EngineEvent, text: InboundText, *, welcome_back: bool
    ) -> None:
        now = event.at
        returning = not welcome_back and self._is_returning(texter_of(change), now)
        # "START" says nothing about language: a returning texter keeps the one they were answered in.
        language = texter_of(change).language if welcome_back else detect_language(text.body)
        conversation = ConversationRecord(
            # Derived from the first text, so re-deciding the same text can't open a second conversation.
            conversation_id=f"c{now:%Y%m%d}{hashlib.sha256(text.message_sid.encode()).hexdigest()[:20]}",
            texter_id=text.texter_id,
            state=ConversationState.NEW,
            language=language,
            # A texter back within the window answered the question minutes ago: their answer stands.
            consent=texter_of(change).last_consent if returning else Consent.UNKNOWN,
            created_at=now,
            expires_at=self._open_expiry(now),
        )
        conversation = transition(conversation, ConversationState.CONSENT_PENDING)
        change.conversation = conversation
        change.expected_conversation_version = None
        change.texter = texter_of(change).model_copy(
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
        if in_crisis(change.conversation):
            # The safety text is all a crisis first text gets: no welcome, and the consent question is never
            # asked in this conversation (consent stays unknown, so nothing about it is kept after close).
            return
        if returning:
            self._enqueue_for_volunteer(change, event, reply="returning")
        else:
            self._ask_consent(change, event)

    def _ask_consent(self, change: ConversationChange, event: EngineEvent) -> None:
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
        self, change: ConversationChange, event: EngineEvent, text: InboundText, conversation: ConversationRecord
    ) -> None:
        change.conversation = conversation
        change.expected_conversation_version = conversation.version
        # In a crisis no consent question is open: a "yes" or "no" answers the volunteer or the safety text, and
        # is kept for the volunteer like any other text.
        consent = None if in_crisis(conversation) else parse_consent(text.body)
        if conversation.state in (ConversationState.NEW, ConversationState.CONSENT_PENDING):
            if consent is None:
                # The question was ignored: support never waits on consent. Keep the text for the volunteer.
                self._keep_and_assess(change, event, text)
                if in_crisis(change.conversation):
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
        event = EngineEvent(timer.timer_id, now)
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
