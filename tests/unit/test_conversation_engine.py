"""The conversation engine against in-memory fakes: welcome, consent, keywords, replays, races, timers, close."""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest

from peerline.conversation import (
    ConcurrentUpdateError,
    ConversationEngine,
    CrisisDesk,
    EngineSettings,
    Outcome,
)
from peerline.escalation import EscalationService, EscalationSettings
from peerline.language import Language
from peerline.lifecycle import InvalidTransitionError, transition
from peerline.models import (
    Consent,
    ConversationRecord,
    ConversationState,
    ConversationTimer,
    InboundText,
    OutboundText,
    TexterRecord,
    TimerKind,
    VolunteerRecord,
    VolunteerStatus,
)
from peerline.number_context import recipient_of, texter_number
from peerline.phone import texter_id_for
from peerline.routing import Router, RoutingSettings

from .escalation_fakes import (
    EscalatingRoutingRepository,
    InMemoryOnCallDirectory,
    RecordingNotifier,
    StubAssessment,
    StubTriage,
)
from .fakes import (
    EMERGENCY,
    EMERGENCY_ES,
    PEPPER,
    START,
    FakeClock,
    InMemoryConversationRepository,
    RecordingOutboundQueue,
    RecordingTimerQueue,
    ReversibleVault,
)
from .routing_fakes import make_volunteer
from .world import REPLIES, CrisisWorld, EngineWorld

NUMBER = "+15555550001"


def _snapshot(world: EngineWorld) -> dict:
    repository = world.repository
    return copy.deepcopy(
        {
            "texters": repository.texters,
            "conversations": repository.conversations,
            "messages": repository.messages,
            "counters": repository.counters,
        }
    )


def _waiting(world: EngineWorld, answer: str = "I feel so alone tonight") -> None:
    """A texter who answered the welcome (or ignored it) and is now queued; queues cleared."""
    world.text("hi")
    world.text(answer)
    world.outbound.clear()
    world.timers.clear()


# ---------------------------------------------------------------- first text
def test_first_text_is_answered_with_exactly_one_welcome(world: EngineWorld) -> None:
    # given a number that never texted the line
    # when it texts
    outcome = world.text("hi, is anyone there?")

    # then one welcome goes out, and nothing else
    assert outcome is Outcome.APPLIED
    assert world.outbound.purposes() == ["welcome"]


def test_welcome_carries_the_emergency_line_stop_and_the_consent_question(world: EngineWorld) -> None:
    # given / when a first text
    world.text("hi")

    # then the welcome says how to get emergency help, how to stop, and asks YES or NO
    body = world.sent_bodies()[0]
    assert EMERGENCY in body
    assert "STOP" in body
    assert "Reply YES or NO" in body


def test_welcome_is_addressed_to_the_encrypted_number_only(world: EngineWorld) -> None:
    # given / when a first text
    world.text("hi")

    # then the queued text carries the ciphertext, which the sender can decrypt, and never the number itself
    text = world.outbound.texts[0]
    assert NUMBER not in text.model_dump_json()
    assert world.vault.decrypt(text.encrypted_to, recipient_of(text)) == NUMBER
    assert text.recipient_id == texter_id_for(NUMBER, PEPPER)


def test_first_text_opens_a_conversation_pending_consent(world: EngineWorld) -> None:
    # given / when a first text
    world.text("hi")

    # then the texter has one open conversation, waiting on the consent answer
    conversation = world.conversation()
    assert conversation.state is ConversationState.CONSENT_PENDING
    assert conversation.consent is Consent.UNKNOWN
    assert len(world.repository.conversations) == 1


def test_first_text_schedules_a_consent_timeout(world: EngineWorld) -> None:
    # given / when a first text
    world.text("hi")

    # then a consent timer is due after the configured timeout, for this conversation
    [timer] = world.timers.timers
    assert timer.kind is TimerKind.CONSENT_TIMEOUT
    assert timer.fire_at == START + timedelta(seconds=world.settings.consent_timeout_seconds)
    assert timer.conversation_id == world.conversation().conversation_id


def test_first_text_is_kept_for_the_volunteer_with_a_ttl(world: EngineWorld) -> None:
    # given / when a first text
    world.text("I can't sleep and I need to talk")

    # then its body is kept with the conversation, expiring as a safety net
    [message] = world.repository.texter_messages_of(world.conversation().conversation_id)
    assert message["body"] == "I can't sleep and I need to talk"
    assert message["expires_at"] == int((START + timedelta(hours=world.settings.message_ttl_hours)).timestamp())


@pytest.mark.parametrize("first_text", ["hola", "Ayuda", "necesito hablar con alguien", "¿Hay alguien ahí?"])
def test_spanish_first_text_is_welcomed_in_spanish(world: EngineWorld, first_text: str) -> None:
    # given / when a first text in Spanish
    world.text(first_text)

    # then the welcome is the Spanish one, with the Spanish emergency line and SÍ/NO
    [body] = world.sent_bodies()
    assert body == REPLIES.text("welcome", Language.SPANISH)
    assert EMERGENCY_ES in body
    assert "SÍ o NO" in body
    assert world.conversation().language is Language.SPANISH


@pytest.mark.parametrize("first_text", ["hi", "I need to talk to someone", "hello?"])
def test_english_first_text_is_welcomed_in_english(world: EngineWorld, first_text: str) -> None:
    # given / when a first text in English
    world.text(first_text)

    # then the welcome is the English one
    assert world.sent_bodies() == [REPLIES.text("welcome", Language.ENGLISH)]


# ---------------------------------------------------------------- consent
@pytest.mark.parametrize("answer", ["YES", "yes", "y", "yeah", "Sí", "si", " yes! ", "Yes."])
def test_yes_records_consent_and_queues_the_texter(world: EngineWorld, answer: str) -> None:
    # given a texter who was welcomed
    world.text("hi")
    world.outbound.clear()

    # when they answer yes, however they spell it
    world.text(answer)

    # then consent is recorded, they are queued, and told we are finding someone
    conversation = world.conversation()
    assert conversation.consent is Consent.GIVEN
    assert conversation.state is ConversationState.WAITING
    assert conversation.waiting_since == START
    assert world.outbound.purposes() == ["consent_given", "finding"]


@pytest.mark.parametrize("answer", ["NO", "no", "n", "nope", "NO.", " no! ", "No thanks"])
def test_no_records_refusal_and_still_queues_the_texter(world: EngineWorld, answer: str) -> None:
    # given a texter who was welcomed
    world.text("hi")
    world.outbound.clear()

    # when they answer no
    world.text(answer)

    # then the refusal is recorded and support goes on anyway
    conversation = world.conversation()
    assert conversation.consent is Consent.REFUSED
    assert conversation.state is ConversationState.WAITING
    assert world.outbound.purposes() == ["consent_refused", "finding"]


def test_consent_answer_schedules_a_still_waiting_timer(world: EngineWorld) -> None:
    # given a welcomed texter
    world.text("hi")
    world.timers.clear()
    world.clock.advance(30)

    # when they answer
    world.text("yes")

    # then a still-waiting timer is due after the configured wait
    [timer] = world.timers.timers
    assert timer.kind is TimerKind.STILL_WAITING
    assert timer.fire_at == world.clock() + timedelta(seconds=world.settings.still_waiting_seconds)


def test_consent_answer_is_not_kept_as_a_message(world: EngineWorld) -> None:
    # given a welcomed texter
    world.text("hi")

    # when they answer the question
    world.text("YES")

    # then only the first text is kept for the volunteer
    conversation = world.conversation()
    assert [message["body"] for message in world.repository.texter_messages_of(conversation.conversation_id)] == [
        "hi"
    ]
    assert conversation.inbound_count == 1


def test_spanish_si_is_thanked_in_spanish(world: EngineWorld) -> None:
    # given a texter welcomed in Spanish
    world.text("hola")
    world.outbound.clear()

    # when they answer SÍ
    world.text("SÍ")

    # then consent is recorded and the thanks and the finding text are Spanish
    assert world.conversation().consent is Consent.GIVEN
    assert world.sent_bodies() == [
        REPLIES.text("consent_given", Language.SPANISH),
        REPLIES.text("finding", Language.SPANISH),
    ]


def test_ignored_question_queues_the_texter_with_consent_unknown(world: EngineWorld) -> None:
    # given a welcomed texter
    world.text("hi")
    world.outbound.clear()

    # when they write something that is not an answer
    world.text("my parents are fighting again")

    # then they are queued anyway, consent stays unknown, and only the finding text goes out
    conversation = world.conversation()
    assert conversation.state is ConversationState.WAITING
    assert conversation.consent is Consent.UNKNOWN
    assert world.outbound.purposes() == ["finding"]


def test_ignored_question_text_is_kept_for_the_volunteer(world: EngineWorld) -> None:
    # given a welcomed texter
    world.text("hi")

    # when they write something that is not an answer
    world.text("my parents are fighting again")

    # then that text is kept for the volunteer, after the first one
    conversation_id = world.conversation().conversation_id
    bodies = [message["body"] for message in world.repository.texter_messages_of(conversation_id)]
    assert bodies == ["hi", "my parents are fighting again"]


def test_late_yes_while_waiting_is_recorded_without_a_second_finding_text(world: EngineWorld) -> None:
    # given a texter queued after ignoring the question
    _waiting(world)

    # when they answer yes later
    world.text("yes")

    # then consent is recorded, they are thanked, and they stay queued
    conversation = world.conversation()
    assert conversation.consent is Consent.GIVEN
    assert conversation.state is ConversationState.WAITING
    assert world.outbound.purposes() == ["consent_given"]


def test_text_while_waiting_is_kept_and_not_answered(world: EngineWorld) -> None:
    # given a queued texter who already answered
    _waiting(world, answer="no")

    # when they text again
    world.text("are you still there?")

    # then the text is kept for the volunteer and the line says nothing more
    bodies = [message["body"] for message in world.repository.messages_of(world.conversation().conversation_id)]
    assert bodies[-1] == "are you still there?"
    assert world.outbound.texts == []
    assert world.timers.timers == []


# ---------------------------------------------------------------- STOP
@pytest.mark.parametrize("keyword", ["STOP", "stop", "StopAll", "UNSUBSCRIBE", "cancel", "End", "QUIT", "Stop."])
def test_stop_keyword_opts_out_with_exactly_one_confirmation(world: EngineWorld, keyword: str) -> None:
    # given a texter in a conversation
    world.text("hi")
    world.outbound.clear()

    # when they text an opt-out keyword, in any case
    world.text(keyword)

    # then they are opted out and get one confirmation that says how to come back
    assert world.texter().opted_out is True
    assert world.outbound.purposes() == ["stopped"]
    assert "START" in world.sent_bodies()[0]


def test_stop_closes_the_open_conversation(world: EngineWorld) -> None:
    # given a texter in a conversation
    world.text("hi")
    conversation_id = world.conversation().conversation_id

    # when they text STOP
    world.text("STOP")

    # then no conversation is open any more, and nothing is left of it (no consent was given)
    assert world.texter().open_conversation_id is None
    assert world.repository.get_conversation(conversation_id) is None
    assert world.repository.messages_of(conversation_id) == []


def test_second_stop_sends_nothing(world: EngineWorld) -> None:
    # given an opted-out texter
    world.text("hi")
    world.text("STOP")
    world.outbound.clear()

    # when they text STOP again
    outcome = world.text("STOP")

    # then nothing is sent
    assert outcome is Outcome.IGNORED
    assert world.outbound.texts == []


def test_texts_after_stop_send_nothing_and_open_nothing(world: EngineWorld) -> None:
    # given an opted-out texter
    world.text("hi")
    world.text("STOP")
    world.outbound.clear()
    world.timers.clear()

    # when they text anything but START or HELP
    for body in ("hello?", "yes", "I need help"):
        world.text(body)

    # then the line stays silent and no conversation is opened
    assert world.outbound.texts == []
    assert world.timers.timers == []
    assert world.texter().open_conversation_id is None
    assert world.repository.conversations == {}


def test_help_is_answered_even_after_stop_and_opens_nothing(world: EngineWorld) -> None:
    # given an opted-out texter (carrier rules: HELP is always answered)
    world.text("hi")
    world.text("STOP")
    world.outbound.clear()

    # when they text HELP
    world.text("HELP")

    # then they get the help text with emergency resources, stay opted out, and no conversation opens
    assert [text.purpose for text in world.outbound.texts] == ["help"]
    assert world.texter().opted_out
    assert world.repository.conversations == {}


def test_stop_as_first_text_opts_out_with_one_confirmation(world: EngineWorld) -> None:
    # given a number that never texted
    # when its first text is STOP
    world.text("STOP")

    # then it is opted out, confirmed once, and no conversation is opened
    assert world.texter().opted_out is True
    assert world.outbound.purposes() == ["stopped"]
    assert world.repository.conversations == {}


def test_twilio_advanced_opt_out_gets_no_confirmation_of_ours(world: EngineWorld) -> None:
    # given a texter in a conversation
    world.text("hi")
    world.outbound.clear()

    # when Twilio reports an opt-out it has already confirmed
    world.text("Stop", opt_out_type="STOP")

    # then the texter is opted out and the line sends nothing
    assert world.texter().opted_out is True
    assert world.texter().open_conversation_id is None
    assert world.outbound.texts == []


def test_stop_counts_an_opt_out(world: EngineWorld) -> None:
    # given / when a texter opts out
    world.text("hi")
    world.text("STOP")

    # then the anonymous opt-out counter moved
    assert world.repository.counters[f"opt_outs#{START:%Y-%m-%d}"] == 1


# ---------------------------------------------------------------- START
@pytest.mark.parametrize("keyword", ["START", "start", "Unstop"])
def test_start_opts_back_in_with_welcome_back_and_welcome(world: EngineWorld, keyword: str) -> None:
    # given an opted-out texter
    world.text("hi")
    world.text("STOP")
    world.outbound.clear()

    # when they text START
    world.text(keyword)

    # then they are opted back in, welcomed back, and a new conversation waits for consent
    assert world.texter().opted_out is False
    assert world.outbound.purposes() == ["welcome_back", "welcome"]
    assert world.conversation().state is ConversationState.CONSENT_PENDING


def test_start_reported_by_twilio_opts_back_in(world: EngineWorld) -> None:
    # given an opted-out texter
    world.text("STOP")

    # when Twilio reports an opt-in
    world.text("Start", opt_out_type="START")

    # then they are opted back in
    assert world.texter().opted_out is False


def test_spanish_texter_opting_back_in_is_answered_in_spanish(world: EngineWorld) -> None:
    # given a texter who wrote in Spanish, then opted out
    world.text("hola, necesito ayuda")
    world.text("STOP")
    world.outbound.clear()

    # when they text START
    world.text("START")

    # then they are welcomed back in Spanish
    assert world.sent_bodies() == [
        REPLIES.text("welcome_back", Language.SPANISH),
        REPLIES.text("welcome", Language.SPANISH),
    ]


# ---------------------------------------------------------------- HELP
@pytest.mark.parametrize("keyword", ["HELP", "help", "Info", "HELP!"])
def test_help_answers_with_what_the_line_is_and_emergency_help(world: EngineWorld, keyword: str) -> None:
    # given a texter in a conversation
    world.text("hi")
    world.outbound.clear()

    # when they text HELP
    world.text(keyword)

    # then they get the help text, with the emergency resources
    assert world.outbound.purposes() == ["help"]
    assert EMERGENCY in world.sent_bodies()[0]


def test_help_changes_nothing_about_the_conversation(world: EngineWorld) -> None:
    # given a texter in a conversation
    world.text("hi")
    before = world.conversation()
    world.timers.clear()

    # when they text HELP
    world.text("HELP")

    # then the conversation, its messages and the timers are untouched
    assert world.conversation() == before
    assert [m["body"] for m in world.repository.messages_of(before.conversation_id)] == [
        "hi",
        REPLIES.text("welcome", Language.ENGLISH),
    ]
    assert world.timers.timers == []
    assert world.texter().opted_out is False


def test_help_as_first_text_opens_no_conversation(world: EngineWorld) -> None:
    # given a number that never texted
    # when its first text is HELP
    world.text("HELP")

    # then it gets the help text and no conversation is opened
    assert world.outbound.purposes() == ["help"]
    assert world.repository.conversations == {}


# ---------------------------------------------------------------- replays and races
def test_replayed_text_requeues_exactly_the_same_texts_and_timers(world: EngineWorld) -> None:
    # given a first text that was applied
    first = world.inbound("hi")
    world.engine.handle_text(first)
    sent = [(t.outbound_id, t.body) for t in world.outbound.texts]
    timers = list(world.timers.timers)
    world.outbound.clear()
    world.timers.clear()

    # when the same MessageSid arrives again
    outcome = world.engine.handle_text(first)

    # then the same texts (same ids, so deduplicated downstream) and timers are queued again
    assert outcome is Outcome.REPLAYED
    assert [(t.outbound_id, t.body) for t in world.outbound.texts] == sent
    assert world.timers.timers == timers


def test_replayed_text_changes_nothing_stored(world: EngineWorld) -> None:
    # given a conversation in which the texter said yes
    world.text("hi")
    answer = world.inbound("yes")
    world.engine.handle_text(answer)
    before = _snapshot(world)
    commits = world.repository.commits

    # when the answer is replayed, later
    world.clock.advance(60)
    world.engine.handle_text(answer)

    # then nothing stored changed
    assert world.repository.commits == commits
    assert _snapshot(world) == before


def test_replayed_text_after_later_texts_is_not_decided_again(world: EngineWorld) -> None:
    # given a first text, then an answer
    first = world.inbound("hi")
    world.engine.handle_text(first)
    world.text("no")
    world.outbound.clear()

    # when the first text is replayed
    world.engine.handle_text(first)

    # then it re-queues its own welcome only (no second conversation, no finding text)
    assert world.outbound.purposes() == ["welcome"]
    assert len(world.repository.conversations) == 1


def test_replayed_text_after_stop_sends_nothing(world: EngineWorld) -> None:
    # given a texter who texted, then opted out
    first = world.inbound("hi")
    world.engine.handle_text(first)
    world.text("STOP")
    world.outbound.clear()

    # when their first text is replayed (a captured webhook has no timestamp)
    world.clock.advance(2 * 24 * 3600)
    world.engine.handle_text(first)

    # then nothing more is texted to them
    assert world.outbound.texts == []


def test_lost_race_is_decided_again_and_applied_once(world: EngineWorld) -> None:
    # given a repository that will report one concurrent update
    world.repository.fail_next_commits(1)

    # when a first text is handled
    outcome = world.text("hi")

    # then the engine re-read and succeeded: one conversation, one welcome
    assert outcome is Outcome.APPLIED
    assert world.outbound.purposes() == ["welcome"]
    assert len(world.repository.conversations) == 1


class _RacingRepository(InMemoryConversationRepository):
    """Lets another worker commit between the engine's read and its commit, once."""

    def __init__(self) -> None:
        super().__init__()
        self.before_next_commit = None

    def commit(self, change):  # type: ignore[no-untyped-def]
        if self.before_next_commit is not None:
            interloper, self.before_next_commit = self.before_next_commit, None
            interloper()
        super().commit(change)


def test_answer_racing_the_consent_timer_is_decided_on_the_new_state() -> None:
    # given a welcomed texter whose consent timer fires while their YES is being decided
    world = EngineWorld(repository=_RacingRepository())
    world.text("hi")
    [consent_timer] = world.timers.timers
    world.clock.advance(world.settings.consent_timeout_seconds)
    world.outbound.clear()
    world.repository.before_next_commit = lambda: world.engine.handle_timer(consent_timer)

    # when the YES is handled
    world.text("yes")

    # then the timer queued the texter, and the YES was re-decided as a late answer: one finding text, not two
    assert world.conversation().state is ConversationState.WAITING
    assert world.conversation().consent is Consent.GIVEN
    assert world.outbound.purposes() == ["finding", "consent_given"]


def test_engine_gives_up_after_losing_every_race(world: EngineWorld) -> None:
    # given a repository where every commit loses
    world.repository.fail_next_commits(100)

    # when a text is handled
    # then the error surfaces (the queue retries the message) and nothing was queued
    with pytest.raises(ConcurrentUpdateError):
        world.text("hi")
    assert world.outbound.texts == []


# ---------------------------------------------------------------- timers
def _timer(world: EngineWorld, kind: TimerKind) -> ConversationTimer:
    [timer] = world.timers.of_kind(kind)
    return timer


def test_consent_timeout_queues_a_texter_who_never_answered(world: EngineWorld) -> None:
    # given a welcomed texter who never answers
    world.text("hi")
    timer = _timer(world, TimerKind.CONSENT_TIMEOUT)
    world.outbound.clear()
    world.timers.clear()
    world.clock.advance(world.settings.consent_timeout_seconds)

    # when the consent timer fires
    outcome = world.engine.handle_timer(timer)

    # then they are queued with consent unknown, told we are finding someone, and a still-waiting timer is set
    assert outcome is Outcome.APPLIED
    assert world.conversation().state is ConversationState.WAITING
    assert world.conversation().consent is Consent.UNKNOWN
    assert world.outbound.purposes() == ["finding"]
    assert [t.kind for t in world.timers.timers] == [TimerKind.STILL_WAITING]


def test_stale_consent_timer_does_nothing(world: EngineWorld) -> None:
    # given a texter who answered before the consent timer fired
    world.text("hi")
    timer = _timer(world, TimerKind.CONSENT_TIMEOUT)
    world.text("yes")
    before = _snapshot(world)
    world.outbound.clear()
    world.timers.clear()
    world.clock.advance(world.settings.consent_timeout_seconds)

    # when the consent timer fires
    outcome = world.engine.handle_timer(timer)

    # then nothing is sent or changed
    assert outcome is Outcome.STALE
    assert world.outbound.texts == []
    assert world.timers.timers == []
    assert _snapshot(world) == before


def test_still_waiting_timer_sends_crisis_resources_and_keeps_the_texter_queued(world: EngineWorld) -> None:
    # given a queued texter nobody has picked up
    world.text("hi")
    world.text("yes")
    timer = _timer(world, TimerKind.STILL_WAITING)
    world.outbound.clear()
    world.clock.advance(world.settings.still_waiting_seconds)

    # when the still-waiting timer fires
    outcome = world.engine.handle_timer(timer)

    # then the texter gets the resources and stays in the queue
    assert outcome is Outcome.APPLIED
    assert world.outbound.purposes() == ["still_waiting"]
    assert EMERGENCY in world.sent_bodies()[0]
    assert world.conversation().state is ConversationState.WAITING
    assert world.conversation().resources_sent is True


def test_still_waiting_resources_are_sent_only_once(world: EngineWorld) -> None:
    # given a queued texter who was already sent the resources
    world.text("hi")
    world.text("yes")
    timer = _timer(world, TimerKind.STILL_WAITING)
    world.clock.advance(world.settings.still_waiting_seconds)
    world.engine.handle_timer(timer)
    world.outbound.clear()

    # when another still-waiting timer fires for the same conversation
    another = timer.model_copy(update={"timer_id": "another-timer"})
    outcome = world.engine.handle_timer(another)

    # then nothing more is sent
    assert outcome is Outcome.STALE
    assert world.outbound.texts == []


def test_timer_of_a_deleted_conversation_does_nothing(world: EngineWorld) -> None:
    # given a conversation closed without consent (so deleted)
    world.text("hi")
    timer = _timer(world, TimerKind.CONSENT_TIMEOUT)
    world.text("STOP")
    world.text("START")
    world.outbound.clear()
    world.clock.advance(world.settings.consent_timeout_seconds)

    # when its timer fires
    outcome = world.engine.handle_timer(timer)

    # then nothing happens
    assert outcome is Outcome.STALE
    assert world.outbound.texts == []


def test_timer_of_a_closed_conversation_does_nothing(world: EngineWorld) -> None:
    # given a conversation closed with consent (so kept, closed) and a texter who came back
    world.text("hi")
    world.text("yes")
    timer = _timer(world, TimerKind.STILL_WAITING)
    world.text("STOP")
    world.text("START")
    world.outbound.clear()
    world.clock.advance(world.settings.still_waiting_seconds)

    # when the old conversation's timer fires
    outcome = world.engine.handle_timer(timer)

    # then nothing happens
    assert outcome is Outcome.STALE
    assert world.outbound.texts == []


def test_timer_of_an_opted_out_texter_does_nothing(world: EngineWorld) -> None:
    # given a texter who opted out while a timer was pending (conversation kept because of consent)
    world.text("hi")
    world.text("yes")
    timer = _timer(world, TimerKind.STILL_WAITING)
    world.text("STOP")
    world.outbound.clear()
    world.clock.advance(world.settings.still_waiting_seconds)

    # when the timer fires
    outcome = world.engine.handle_timer(timer)

    # then nothing is sent
    assert outcome is Outcome.STALE
    assert world.outbound.texts == []


def test_timer_due_in_the_future_is_scheduled_again(world: EngineWorld) -> None:
    # given a timer due after the queue's longest delay
    world.text("hi")
    timer = _timer(world, TimerKind.CONSENT_TIMEOUT).model_copy(update={"fire_at": START + timedelta(hours=1)})
    world.timers.clear()
    world.outbound.clear()
    before = _snapshot(world)
    world.clock.advance(900)

    # when it is delivered early
    outcome = world.engine.handle_timer(timer)

    # then it is delayed again, unchanged, and nothing else happens
    assert outcome is Outcome.RESCHEDULED
    assert world.timers.timers == [timer]
    assert world.outbound.texts == []
    assert _snapshot(world) == before


def test_replayed_timer_requeues_the_same_text(world: EngineWorld) -> None:
    # given a still-waiting timer that was applied
    world.text("hi")
    world.text("yes")
    timer = _timer(world, TimerKind.STILL_WAITING)
    world.clock.advance(world.settings.still_waiting_seconds)
    world.engine.handle_timer(timer)
    first_ids = [t.outbound_id for t in world.outbound.texts[-1:]]
    world.outbound.clear()

    # when the same timer is delivered again
    outcome = world.engine.handle_timer(timer)

    # then the same text (same id) is queued again, to be deduplicated downstream
    assert outcome is Outcome.REPLAYED
    assert [t.outbound_id for t in world.outbound.texts] == first_ids


# ---------------------------------------------------------------- close and privacy
def test_close_without_consent_leaves_only_counters(world: EngineWorld) -> None:
    # given a conversation where the texter said no, and wrote to the line
    world.text("hi")
    world.text("no")
    world.text("I don't know what to do")
    conversation_id = world.conversation().conversation_id

    # when it closes
    world.text("STOP")

    # then the conversation and its messages are gone; the counters remain
    assert world.repository.conversations == {}
    assert world.repository.messages == {}
    assert world.repository.counters[f"conversations_started#{START:%Y-%m-%d}"] == 1
    assert world.repository.counters[f"conversations_closed#{START:%Y-%m-%d}"] == 1
    assert conversation_id not in json.dumps(world.repository.counters)


def test_close_without_consent_leaves_no_trace_of_the_conversation(world: EngineWorld) -> None:
    # given a conversation without consent
    world.text("hi")
    conversation_id = world.conversation().conversation_id

    # when it closes
    world.text("STOP")

    # then its id appears nowhere in what is stored
    assert conversation_id not in json.dumps(world.repository.stored_records())


def test_close_with_consent_keeps_metadata_with_a_retention_expiry_and_no_bodies(world: EngineWorld) -> None:
    # given a conversation where the texter said yes, and wrote to the line
    world.text("hi")
    world.text("yes")
    world.text("I don't know what to do")
    conversation_id = world.conversation().conversation_id
    world.clock.advance(600)

    # when it closes
    world.text("STOP")

    # then its metadata stays, closed, expiring after the retention period; no message body remains
    kept = world.repository.get_conversation(conversation_id)
    assert kept is not None
    assert kept.state is ConversationState.CLOSED
    assert kept.closed_at == world.clock()
    assert kept.close_reason == "opted_out"
    assert kept.inbound_count == 2
    assert kept.expires_at == int((world.clock() + timedelta(days=world.settings.retention_days)).timestamp())
    assert world.repository.messages == {}
    assert "I don't know what to do" not in json.dumps(world.repository.stored_records())


def test_no_phone_number_is_stored_anywhere(world: EngineWorld) -> None:
    # given a texter who goes through the whole path
    for body in ("hi", "yes", "it's bad tonight", "HELP", "STOP", "START", "no"):
        world.text(body)

    # then no stored record holds the number in any form, only its ciphertext and its HMAC
    stored = json.dumps(world.repository.stored_records())
    assert NUMBER not in stored
    assert NUMBER.removeprefix("+") not in stored
    assert "5555550001" not in stored
    texter = world.texter()
    assert texter.texter_id == texter_id_for(NUMBER, PEPPER)
    assert world.vault.decrypt(texter.encrypted_number, texter_number(texter.texter_id)) == NUMBER


def test_texters_are_kept_apart(world: EngineWorld) -> None:
    # given two texters
    world.text("hi", number="+15555550001")
    world.text("hola", number="+15555550002")

    # when one opts out
    world.text("STOP", number="+15555550001")

    # then the other's conversation is untouched
    assert world.texter("+15555550002").opted_out is False
    assert world.conversation("+15555550002").state is ConversationState.CONSENT_PENDING


# ---------------------------------------------------------------- the state machine
def _conversation(state: ConversationState) -> ConversationRecord:
    return ConversationRecord(conversation_id="c1", texter_id="t" * 64, state=state, created_at=START, expires_at=0)


@pytest.mark.parametrize(
    ("from_state", "to_state"),
    [
        (ConversationState.NEW, ConversationState.WAITING),
        (ConversationState.NEW, ConversationState.ACTIVE),
        (ConversationState.CONSENT_PENDING, ConversationState.ACTIVE),
        (ConversationState.CONSENT_PENDING, ConversationState.NEW),
        (ConversationState.WAITING, ConversationState.CONSENT_PENDING),
        (ConversationState.ACTIVE, ConversationState.OFFERED),
        (ConversationState.CLOSED, ConversationState.WAITING),
        (ConversationState.CLOSED, ConversationState.CLOSED),
    ],
)
def test_invalid_transition_is_refused(from_state: ConversationState, to_state: ConversationState) -> None:
    # given a conversation in from_state
    conversation = _conversation(from_state)

    # when / then moving it to a state the machine does not allow raises
    with pytest.raises(InvalidTransitionError):
        transition(conversation, to_state)


@pytest.mark.parametrize(
    ("from_state", "to_state"),
    [
        (ConversationState.NEW, ConversationState.CONSENT_PENDING),
        (ConversationState.CONSENT_PENDING, ConversationState.WAITING),
        (ConversationState.WAITING, ConversationState.OFFERED),
        (ConversationState.OFFERED, ConversationState.ACTIVE),
        (ConversationState.OFFERED, ConversationState.WAITING),
        (ConversationState.ACTIVE, ConversationState.CLOSED),
    ],
)
def test_valid_transition_changes_only_the_state(from_state: ConversationState, to_state: ConversationState) -> None:
    # given a conversation in from_state
    conversation = _conversation(from_state)

    # when it moves along the state machine
    moved = transition(conversation, to_state)

    # then only its state changed, and the original is untouched
    assert moved.state is to_state
    assert moved.model_copy(update={"state": from_state}) == conversation
    assert conversation.state is from_state


# ---------------------------------------------------------------- the whole path: engine, router and crisis desk
CRISIS = "i took 20 tylenol an hour ago"
CRISIS_ES = "necesito ayuda, me tomé 20 pastillas hace una hora"
TRIAGE = {
    CRISIS: StubAssessment(level="imminent", categories=["overdose"], rules=["en.overdose.taken"]),
    CRISIS_ES: StubAssessment(level="imminent", categories=["overdose"], rules=["es.overdose.taken"]),
}


class LineWorld:
    """The engine and the router on one repository, with a stub triage and a crisis desk: a texter's whole path,
    from the first text to a volunteer joining and closing."""

    def __init__(self, **engine_settings: int) -> None:
        self.clock = FakeClock()
        self.vault = ReversibleVault()
        self.repository = EscalatingRoutingRepository()
        self.outbound = RecordingOutboundQueue()
        self.timers = RecordingTimerQueue()
        directory = InMemoryOnCallDirectory(self.vault)
        directory.add("Dr Ana", "+15555559001")
        escalation_settings = EscalationSettings()
        notifier = RecordingNotifier()
        service = EscalationService(
            self.repository.escalations,
            directory,
            self.outbound,
            self.timers,
            notifier,
            escalation_settings,
            clock=self.clock,
        )
        desk = CrisisDesk(directory=directory, service=service, notifier=notifier, settings=escalation_settings)
        self.router = Router(
            self.repository, self.outbound, self.timers, REPLIES, RoutingSettings(), clock=self.clock, crisis=desk
        )
        self.settings = EngineSettings(**engine_settings)
        self.engine = ConversationEngine(
            self.repository,
            self.outbound,
            self.timers,
            REPLIES,
            self.settings,
            clock=self.clock,
            on_queued=self.router.route_waiting,
            triage=StubTriage(TRIAGE),
            crisis=desk,
        )
        self.repository.add_volunteer(
            make_volunteer("ana", languages=[Language.ENGLISH, Language.SPANISH], status=VolunteerStatus.AVAILABLE)
        )
        self._sids = 0

    def text(self, body: str, *, sid: str | None = None) -> Outcome:
        self._sids += 1
        return self.engine.handle_text(
            InboundText(
                message_sid=sid or f"SM{self._sids:032d}",
                texter_id=texter_id_for(NUMBER, PEPPER),
                encrypted_number=self.vault.encrypt(NUMBER, texter_number(texter_id_for(NUMBER, PEPPER))),
                body=body,
                received_at=self.clock(),
            )
        )

    def texter(self) -> TexterRecord:
        texter = self.repository.get_texter(texter_id_for(NUMBER, PEPPER))
        assert texter is not None
        return texter

    def conversation(self) -> ConversationRecord:
        conversation_id = self.texter().open_conversation_id
        assert conversation_id is not None
        conversation = self.repository.get_conversation(conversation_id)
        assert conversation is not None
        return conversation

    def volunteer(self) -> VolunteerRecord:
        volunteer = self.repository.get_volunteer("ana")
        assert volunteer is not None
        return volunteer

    def to_texter(self) -> list[OutboundText]:
        """Every text queued to the texter, in order (pages to on-call left out)."""
        return [text for text in self.outbound.texts if text.recipient_id == texter_id_for(NUMBER, PEPPER)]

    def accept(self) -> ConversationRecord:
        """The volunteer accepts the conversation offered to them."""
        conversation = self.conversation()
        assert conversation.state is ConversationState.OFFERED, conversation.state
        return self.router.accept("ana", conversation.conversation_id)

    def close(self) -> None:
        self.router.close(self.volunteer(), self.conversation().conversation_id, outcome="supported", tags=[])

    def transcript(self) -> list[tuple[str, str | None]]:
        """What the volunteer reads: (direction, purpose) of every message, in the API's order."""
        conversation_id = self.conversation().conversation_id
        return [(m.direction, m.purpose) for m in self.router.messages(self.volunteer(), conversation_id)]


@pytest.fixture
def line() -> LineWorld:
    return LineWorld()


def _crisis_world() -> CrisisWorld:
    return CrisisWorld(triage_table=TRIAGE)


def _to_texter(world: CrisisWorld) -> list[str]:
    return [text.purpose for text in world.outbound.texts if text.recipient_id == world.texter().texter_id]


# ---------------------------------------------------------------- crisis: only what helps
def test_a_crisis_first_text_gets_the_safety_text_and_no_welcome_or_consent_question() -> None:
    # given a number that never texted the line
    crisis = _crisis_world()

    # when its first text is a crisis
    crisis.text(CRISIS)

    # then the texter gets the safety text alone: no welcome, no consent question, no "finding" text
    assert _to_texter(crisis) == ["safety"]
    assert all("YES or NO" not in text.body for text in crisis.outbound.texts)


def test_a_crisis_first_text_never_schedules_the_consent_question() -> None:
    # given / when a crisis first text
    crisis = _crisis_world()
    crisis.text(CRISIS)

    # then no consent timer is set and consent stays unknown (so nothing is kept after close)
    assert crisis.timers.of_kind(TimerKind.CONSENT_TIMEOUT) == []
    assert crisis.conversation().consent is Consent.UNKNOWN
    assert crisis.conversation().state is ConversationState.WAITING


def test_a_spanish_crisis_first_text_gets_only_the_spanish_safety_text() -> None:
    # given / when a crisis first text in Spanish
    crisis = _crisis_world()
    crisis.text(CRISIS_ES)

    # then only the Spanish safety text goes out
    [safety] = [text for text in crisis.outbound.texts if text.recipient_id == crisis.texter().texter_id]
    assert safety.body == REPLIES.text("safety", Language.SPANISH)


def test_a_crisis_text_while_consent_is_pending_gets_the_safety_text_and_no_finding_text() -> None:
    # given a texter who was welcomed and asked about consent
    crisis = _crisis_world()
    crisis.text("hi")
    crisis.clear_queues()

    # when their next text, instead of an answer, is a crisis
    crisis.text(CRISIS)

    # then only the safety text goes to them, and they are queued at once
    assert _to_texter(crisis) == ["safety"]
    assert crisis.conversation().state is ConversationState.WAITING


@pytest.mark.parametrize("answer", ["no", "yes"])
def test_yes_or_no_after_a_crisis_is_kept_for_the_volunteer_not_taken_as_consent(answer: str) -> None:
    # given a texter whose conversation turned into a crisis (the consent question was never answered)
    crisis = _crisis_world()
    crisis.text("hi")
    crisis.text(CRISIS)
    crisis.clear_queues()

    # when they text "no" or "yes" (an answer to someone, not to a consent question)
    crisis.text(answer)

    # then consent stays unknown, nobody thanks them for it, and the text is kept for the volunteer
    conversation = crisis.conversation()
    assert conversation.consent is Consent.UNKNOWN
    assert _to_texter(crisis) == []
    assert [m["body"] for m in crisis.repository.texter_messages_of(conversation.conversation_id)][-1] == answer


def test_the_volunteer_joining_a_crisis_says_someone_is_joining_and_asks_nothing(line: LineWorld) -> None:
    # given a crisis first text, offered to an available volunteer
    line.text(CRISIS)

    # when the volunteer accepts
    line.accept()

    # then the texter has had exactly the safety text, then "someone is joining you now"
    texts = line.to_texter()
    assert [text.purpose for text in texts] == ["safety", "joined"]
    assert texts[1].body == REPLIES.text("joined_crisis", Language.ENGLISH, name="Peer Ana")
    assert "What's on your mind" not in texts[1].body


def test_the_volunteer_joining_a_spanish_crisis_is_announced_in_spanish(line: LineWorld) -> None:
    # given a Spanish crisis first text, offered to a volunteer who speaks Spanish
    line.text(CRISIS_ES)

    # when the volunteer accepts
    line.accept()

    # then the joining text is the Spanish crisis one
    assert [text.body for text in line.to_texter()][1] == REPLIES.text(
        "joined_crisis", Language.SPANISH, name="Peer Ana"
    )


def test_the_volunteer_joining_an_ordinary_conversation_is_announced_as_before(line: LineWorld) -> None:
    # given a texter who answered the consent question
    line.text("hi")
    line.text("yes")

    # when the volunteer accepts
    line.accept()

    # then the ordinary joining text goes out
    assert line.to_texter()[-1].body == REPLIES.text("joined", Language.ENGLISH, name="Peer Ana")


# ---------------------------------------------------------------- the line's own texts in the transcript
def test_the_welcome_is_kept_in_the_transcript_after_the_first_text(world: EngineWorld) -> None:
    # given / when a first text
    world.text("hi")

    # then the transcript holds the text, then the welcome, marked automatic, with the id of the text sent
    [first, welcome] = world.repository.transcript(world.conversation().conversation_id)
    assert (first["direction"], first["body"]) == ("inbound", "hi")
    assert (welcome["direction"], welcome["purpose"]) == ("automatic", "welcome")
    assert welcome["body"] == REPLIES.text("welcome", Language.ENGLISH)
    assert welcome["message_id"] == world.outbound.texts[0].outbound_id


def test_the_consent_thanks_and_finding_texts_are_kept_in_the_order_sent(world: EngineWorld) -> None:
    # given a welcomed texter
    world.text("hi")

    # when they answer yes
    world.text("yes")

    # then the transcript reads as the texter saw it
    transcript = world.repository.transcript(world.conversation().conversation_id)
    assert [(m["direction"], m["purpose"]) for m in transcript] == [
        ("inbound", None),
        ("automatic", "welcome"),
        ("automatic", "consent_given"),
        ("automatic", "finding"),
    ]


def test_the_still_waiting_text_is_kept_in_the_transcript(world: EngineWorld) -> None:
    # given a queued texter
    world.text("hi")
    world.text("yes")
    timer = _timer(world, TimerKind.STILL_WAITING)
    conversation_id = world.conversation().conversation_id

    # when the still-waiting timer fires
    world.clock.advance(world.settings.still_waiting_seconds)
    world.engine.handle_timer(timer)

    # then the resources text they got is the transcript's last message
    last = world.repository.transcript(conversation_id)[-1]
    assert (last["direction"], last["purpose"]) == ("automatic", "still_waiting")


def test_the_safety_text_is_kept_after_the_crisis_text_and_the_page_is_not() -> None:
    # given a welcomed texter
    crisis = _crisis_world()
    crisis.text("hi")

    # when they send a crisis text
    crisis.text(CRISIS)

    # then the safety text follows their text in the transcript; the page to on-call is nowhere in it
    transcript = crisis.repository.transcript(crisis.conversation().conversation_id)
    assert [(m["direction"], m["purpose"]) for m in transcript] == [
        ("inbound", None),
        ("automatic", "welcome"),
        ("inbound", None),
        ("automatic", "safety"),
    ]
    assert all("RISK" not in m["body"] for m in transcript)


def test_a_replayed_text_stores_its_automatic_texts_once(world: EngineWorld) -> None:
    # given a first text, applied
    text = world.inbound("hi")
    world.engine.handle_text(text)
    before = _snapshot(world)

    # when it is delivered again
    world.engine.handle_text(text)

    # then nothing more is stored: the welcome is in the transcript once
    assert _snapshot(world) == before
    purposes = [m["purpose"] for m in world.repository.transcript(world.conversation().conversation_id)]
    assert purposes.count("welcome") == 1


def test_a_text_decided_again_after_a_lost_race_stores_its_automatic_texts_once(world: EngineWorld) -> None:
    # given a welcomed texter whose next text loses a race once
    world.text("hi")
    world.repository.fail_next_commits(1)

    # when it is decided again and applied
    world.text("yes")

    # then its automatic texts are stored once each
    purposes = [m["purpose"] for m in world.repository.transcript(world.conversation().conversation_id)]
    assert purposes == [None, "welcome", "consent_given", "finding"]


def test_automatic_texts_are_purged_with_every_body_at_stop(world: EngineWorld) -> None:
    # given a conversation whose transcript holds automatic texts
    world.text("hi")
    world.text("yes")

    # when the texter stops
    world.text("STOP")

    # then no body is left, and the opt-out confirmation was not stored either
    assert world.repository.messages == {}


def test_the_joined_text_is_kept_in_the_transcript(line: LineWorld) -> None:
    # given a queued texter
    line.text("hi")
    line.text("no")

    # when the volunteer accepts
    line.accept()

    # then the volunteer's transcript ends with the "you're now texting with" text the texter got
    assert line.transcript()[-1] == ("automatic", "joined")
    [joined] = [m for m in line.router.messages(line.volunteer(), line.conversation().conversation_id)][-1:]
    assert joined.message_id == line.to_texter()[-1].outbound_id


def test_a_volunteers_escalation_keeps_its_safety_text_in_the_transcript(line: LineWorld) -> None:
    # given an active conversation
    line.text("hi")
    line.text("yes")
    line.accept()

    # when the volunteer escalates
    line.router.escalate(line.volunteer(), line.conversation().conversation_id)

    # then the safety text the texter got is in the transcript
    assert line.transcript()[-1] == ("automatic", "safety")


def test_texts_after_close_are_not_kept(line: LineWorld) -> None:
    # given an active conversation
    line.text("hi")
    line.text("yes")
    conversation_id = line.accept().conversation_id

    # when the volunteer closes it
    line.close()

    # then the closing text goes out, and nothing of the conversation is stored
    assert line.to_texter()[-1].purpose == "closed"
    assert line.repository.messages_of(conversation_id) == []


# ---------------------------------------------------------------- a returning texter
def _closed_after(line: LineWorld, answer: str) -> None:
    """A texter who answered ``answer`` to the consent question, talked with a volunteer, and was closed."""
    line.text("hi")
    line.text(answer)
    line.accept()
    line.close()
    line.outbound.clear()
    line.timers.clear()


@pytest.mark.parametrize(("answer", "consent"), [("yes", Consent.GIVEN), ("no", Consent.REFUSED)])
def test_a_texter_back_within_the_window_gets_a_short_welcome_and_keeps_their_answer(
    line: LineWorld, answer: str, consent: Consent
) -> None:
    # given a texter whose conversation closed
    _closed_after(line, answer)

    # when they text again within the returning window
    line.clock.advance(line.settings.returning_window_minutes * 60 - 1)
    line.text("hi again, it's getting worse")

    # then they get the short welcome back (no consent question), are queued, and their answer stands
    [welcome_back] = line.to_texter()
    assert welcome_back.body == REPLIES.text("returning", Language.ENGLISH)
    assert "YES or NO" not in welcome_back.body
    conversation = line.conversation()
    assert conversation.consent is consent
    assert conversation.state in (ConversationState.WAITING, ConversationState.OFFERED)
    assert line.timers.of_kind(TimerKind.CONSENT_TIMEOUT) == []


def test_a_spanish_texter_back_within_the_window_is_welcomed_back_in_spanish(line: LineWorld) -> None:
    # given a texter whose conversation closed
    _closed_after(line, "sí")

    # when they text again in Spanish within the window
    line.text("hola otra vez")

    # then the short welcome back is the Spanish one
    assert [text.body for text in line.to_texter()] == [REPLIES.text("returning", Language.SPANISH)]


def test_a_texter_back_after_the_window_gets_the_full_welcome(line: LineWorld) -> None:
    # given a texter whose conversation closed
    _closed_after(line, "yes")

    # when they text again after the returning window
    line.clock.advance(line.settings.returning_window_minutes * 60 + 1)
    line.text("hi")

    # then they get the full welcome with the consent question, which is open again
    assert [text.purpose for text in line.to_texter()] == ["welcome"]
    assert line.conversation().consent is Consent.UNKNOWN


def test_a_texter_who_stopped_and_started_again_gets_the_full_welcome(line: LineWorld) -> None:
    # given a texter whose conversation closed, who then opted out
    _closed_after(line, "yes")
    line.text("STOP")

    # when they opt back in within the window and text
    line.text("START")

    # then it is the full welcome again (STOP forgets the earlier answer), consent unknown
    assert [text.purpose for text in line.to_texter()] == ["stopped", "welcome_back", "welcome"]
    assert line.conversation().consent is Consent.UNKNOWN


def test_the_returning_window_is_a_setting() -> None:
    # given a line whose returning window is 5 minutes
    line = LineWorld(returning_window_minutes=5)
    _closed_after(line, "yes")

    # when the texter is back after 6 minutes
    line.clock.advance(6 * 60)
    line.text("hi")

    # then it is the full welcome
    assert [text.purpose for text in line.to_texter()] == ["welcome"]


def test_the_texter_record_keeps_only_when_the_last_conversation_closed_and_the_answer(line: LineWorld) -> None:
    # given a texter whose conversation closed
    _closed_after(line, "yes")

    # then their record holds the close time and their answer, and nothing that points at the conversation
    texter = line.texter()
    assert texter.last_closed_at == line.clock()
    assert texter.last_consent is Consent.GIVEN
    assert texter.open_conversation_id is None


def test_the_returning_memory_is_forgotten_once_the_next_conversation_opens(line: LineWorld) -> None:
    # given a texter whose conversation closed
    _closed_after(line, "yes")

    # when they come back
    line.text("hi again")

    # then the record no longer holds the earlier close or answer (the new conversation carries the answer)
    texter = line.texter()
    assert texter.last_closed_at is None
    assert texter.last_consent is Consent.UNKNOWN


def test_a_returning_texter_in_crisis_gets_only_the_safety_text(line: LineWorld) -> None:
    # given a texter whose conversation closed
    _closed_after(line, "yes")

    # when they come back with a crisis text
    line.text(CRISIS)

    # then the safety text is all they get
    assert [text.purpose for text in line.to_texter()] == ["safety"]
