"""Crisis escalation against in-memory fakes: the safety text, the page, re-paging, acknowledgement, the audit trail.

Triage is a stub (a table from text to level), so these tests pin down what the engine and the escalation service do
with a level, whatever the real rules decide.
"""

from __future__ import annotations

import re

import pytest

from peerline.conversation import Outcome
from peerline.escalation import PROMPTS, escalation_code, parse_ack
from peerline.models import (
    ConversationState,
    ConversationTimer,
    EscalationRecord,
    EscalationStatus,
    TimerKind,
)
from peerline.number_context import recipient_of
from peerline.risk import RiskLevel
from peerline.routing import NotFoundError

from .escalation_fakes import StubAssessment
from .fakes import EMERGENCY, EMERGENCY_ES
from .world import ON_CALL_NUMBERS, CrisisRoutingWorld, CrisisWorld

NUMBER = "+15555550001"
OTHER_NUMBER = "+15555550002"

IMMINENT = "i saved up all my pills and tonight im going to the bridge"
METHOD_WORDS = ("pills", "bridge", "tonight", "saved")
HIGH = "i keep thinking about killing myself"
HIGH_AGAIN = "honestly killing myself seems like the only way out"
HIGH_ES = "me quiero morir"
CONCERN = "i dont see the point of anything anymore"
CALM = "thanks, talking helps"

TRIAGE = {
    IMMINENT: StubAssessment(
        level="imminent",
        categories=["suicide", "overdose", "suicide"],
        rules=["en.suicide.plan_timeframe", "en.overdose.stockpile"],
    ),
    HIGH: StubAssessment(level="high", categories=["suicide"], rules=["en.suicide.ideation"]),
    HIGH_AGAIN: StubAssessment(level="high", categories=["suicide"], rules=["en.suicide.ideation"]),
    HIGH_ES: StubAssessment(level="high", categories=["suicide"], rules=["es.suicide.ideation"]),
    CONCERN: StubAssessment(level="concern", categories=["hopelessness"], rules=["en.hopelessness"]),
}


@pytest.fixture
def crisis() -> CrisisWorld:
    return CrisisWorld(triage_table=TRIAGE)


def _waiting(world: CrisisWorld, number: str = NUMBER) -> None:
    """A texter who ignored the consent question and is now queued; queues cleared."""
    world.text("hi", number=number)
    world.text("just having a rough week", number=number)
    world.clear_queues()


def _escalated(world: CrisisWorld, body: str = IMMINENT) -> EscalationRecord:
    """A queued texter who sent a crisis text; queues cleared; the escalation it opened."""
    _waiting(world)
    world.text(body)
    escalation = world.escalations.only()
    world.clear_queues()
    return escalation


def _repage_timers(world: CrisisWorld) -> list[ConversationTimer]:
    return world.timers.of_kind(TimerKind.ESCALATION_REPAGE)


def _fire_latest_repage(world: CrisisWorld) -> bool:
    """Let the re-page time pass and fire the newest re-page timer."""
    timer = _repage_timers(world)[-1]
    world.clock.now = timer.fire_at
    return world.service.repage(timer)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


# ---------------------------------------------------------------- imminent: everything in the same event
def test_imminent_text_queues_the_safety_text_first(crisis: CrisisWorld) -> None:
    # given a queued texter
    _waiting(crisis)

    # when they send an imminent-risk text
    crisis.text(IMMINENT)

    # then the safety text is the first thing queued, before the page
    assert crisis.outbound.purposes() == ["safety", "page"]
    assert crisis.outbound.texts[0].recipient_id == crisis.texter().texter_id


def test_safety_text_is_warm_and_carries_the_emergency_resources(crisis: CrisisWorld) -> None:
    # given a queued texter
    _waiting(crisis)

    # when they send an imminent-risk text
    crisis.text(IMMINENT)

    # then the safety text is warm and says how to reach emergency help
    safety = crisis.outbound.of_purpose("safety")[0]
    assert "glad you reached out" in safety.body
    assert EMERGENCY in safety.body
    assert crisis.vault.decrypt(safety.encrypted_to, recipient_of(safety)) == NUMBER


def test_safety_text_never_repeats_the_method_the_texter_named(crisis: CrisisWorld) -> None:
    # given a queued texter
    _waiting(crisis)

    # when their text names a method (pills, a bridge) and a time
    crisis.text(IMMINENT)

    # then the safety text repeats none of it
    safety = crisis.outbound.of_purpose("safety")[0]
    assert _words(safety.body).isdisjoint(METHOD_WORDS)


def test_a_spanish_crisis_text_gets_the_spanish_safety_text(crisis: CrisisWorld) -> None:
    # given a Spanish-speaking texter's first text, at high risk
    # when it arrives
    crisis.text(HIGH_ES)

    # then the safety text is in Spanish, with the Spanish emergency resources
    safety = crisis.outbound.of_purpose("safety")[0]
    assert EMERGENCY_ES in safety.body
    assert "seguridad" in safety.body


def test_imminent_text_raises_the_conversation_to_imminent(crisis: CrisisWorld) -> None:
    # given a queued texter
    _waiting(crisis)

    # when they send an imminent-risk text
    crisis.text(IMMINENT)

    # then the conversation goes to the top of the queue, marked with its level and categories
    conversation = crisis.conversation()
    assert conversation.priority is RiskLevel.IMMINENT
    assert conversation.risk_level == "imminent"
    assert conversation.risk_categories == ["overdose", "suicide"]
    assert conversation.volunteer_prompt == PROMPTS["imminent"]


def test_imminent_text_records_an_escalation_audited_with_rule_ids(crisis: CrisisWorld) -> None:
    # given a queued texter
    _waiting(crisis)

    # when they send an imminent-risk text
    crisis.text(IMMINENT)

    # then one open escalation is recorded: what triggered it (rule ids) and who was paged
    escalation = crisis.escalations.only()
    assert escalation.status is EscalationStatus.OPEN
    assert escalation.level == "imminent"
    assert escalation.rules == ["en.overdose.stockpile", "en.suicide.plan_timeframe"]
    assert escalation.conversation_id == crisis.conversation().conversation_id
    assert crisis.conversation().escalation_id == escalation.escalation_id
    assert [event.action for event in escalation.audit] == ["escalated", "paged"]
    assert escalation.audit[0].actor == "triage"
    assert "en.suicide.plan_timeframe" in escalation.audit[0].detail
    assert "Dr Ana" in escalation.audit[1].detail


def test_the_escalation_record_never_holds_the_texters_words_or_number(crisis: CrisisWorld) -> None:
    # given a queued texter
    _waiting(crisis)

    # when they send an imminent-risk text
    crisis.text(IMMINENT)

    # then nothing stored about the escalation quotes them or holds their number
    stored = crisis.escalations.only().model_dump_json().lower()
    assert _words(stored).isdisjoint(METHOD_WORDS)
    assert "5555550001" not in stored


def test_imminent_text_pages_the_first_person_on_call(crisis: CrisisWorld) -> None:
    # given a queued texter and a rota of three
    _waiting(crisis)

    # when they send an imminent-risk text
    crisis.text(IMMINENT)

    # then the first person on the rota is paged by SMS, at their own number
    [page] = crisis.pages()
    assert crisis.paged_names() == ["Dr Ana"]
    assert crisis.vault.decrypt(page.encrypted_to, recipient_of(page)) == ON_CALL_NUMBERS["Dr Ana"]


def test_the_page_carries_alias_level_categories_and_how_to_acknowledge(crisis: CrisisWorld) -> None:
    # given a queued texter
    _waiting(crisis)

    # when they send an imminent-risk text
    crisis.text(IMMINENT)

    # then the page says who (alias), how bad, what kind, and to reply ACK <code>
    page = crisis.pages()[0].body
    escalation = crisis.escalations.only()
    assert escalation.texter_alias in page
    assert "IMMINENT" in page
    assert "overdose, suicide" in page
    assert f"ACK {escalation.code}" in page


def test_the_page_carries_neither_the_texters_number_nor_their_words(crisis: CrisisWorld) -> None:
    # given a queued texter
    _waiting(crisis)

    # when they send an imminent-risk text
    crisis.text(IMMINENT)

    # then the page (SMS and topic) has no digit of their number and none of what they wrote
    for body in (crisis.pages()[0].body, crisis.notifier.notifications[0].message):
        assert "5555550001" not in re.sub(r"\D", "", body)
        assert _words(body).isdisjoint(METHOD_WORDS)


def test_the_page_is_also_published_on_the_paging_topic(crisis: CrisisWorld) -> None:
    # given a queued texter
    _waiting(crisis)

    # when they send an imminent-risk text
    crisis.text(IMMINENT)

    # then the topic gets the same page, with the code in its subject
    [notification] = crisis.notifier.notifications
    assert notification.message == crisis.pages()[0].body
    assert crisis.escalations.only().code in notification.subject


def test_the_page_is_followed_by_a_repage_timer(crisis: CrisisWorld) -> None:
    # given a queued texter
    _waiting(crisis)

    # when they send an imminent-risk text
    crisis.text(IMMINENT)

    # then a re-page timer is set for the configured time, for this escalation and its first page
    [timer] = _repage_timers(crisis)
    assert (timer.fire_at - crisis.clock()).total_seconds() == 300
    assert timer.escalation_id == crisis.escalations.only().escalation_id
    assert timer.page_count == 1


def test_a_first_text_in_crisis_is_queued_at_once_without_waiting_for_consent(crisis: CrisisWorld) -> None:
    # given a number that never texted the line
    # when its first text is a crisis
    crisis.text(IMMINENT)

    # then the conversation is in the queue now (the router is asked to offer it); the texter gets the safety text
    # only (no welcome, no consent question in a crisis)
    conversation = crisis.conversation()
    assert conversation.state is ConversationState.WAITING
    assert conversation.waiting_since == crisis.clock()
    assert crisis.queued_calls == 1
    assert crisis.outbound.purposes() == ["safety", "page"]


def test_a_high_risk_text_pages_too(crisis: CrisisWorld) -> None:
    # given a queued texter
    _waiting(crisis)

    # when they send a high-risk text
    crisis.text(HIGH)

    # then they get the safety text, the conversation is high priority, and on-call is paged
    assert crisis.outbound.purposes() == ["safety", "page"]
    assert crisis.conversation().priority is RiskLevel.HIGH
    assert crisis.escalations.only().level == "high"


def test_concern_raises_priority_and_prompts_to_ask_about_suicide_without_paging(crisis: CrisisWorld) -> None:
    # given a queued texter
    _waiting(crisis)

    # when they send a text of concern
    crisis.text(CONCERN)

    # then the volunteer is prompted to ask directly, the priority rises, and no one is paged or texted
    conversation = crisis.conversation()
    assert conversation.priority is RiskLevel.CONCERN
    assert conversation.risk_level == "concern"
    assert conversation.volunteer_prompt == PROMPTS["concern"]
    assert "suicide" in conversation.volunteer_prompt
    assert crisis.outbound.texts == []
    assert crisis.escalations.all() == []
    assert crisis.notifier.notifications == []


def test_a_later_calm_text_does_not_lower_the_level(crisis: CrisisWorld) -> None:
    # given a texter whose conversation was raised to imminent
    _escalated(crisis)

    # when they then send a text that scores none
    crisis.text(CALM)

    # then the conversation keeps the highest level of their recent texts
    conversation = crisis.conversation()
    assert conversation.risk_level == "imminent"
    assert conversation.priority is RiskLevel.IMMINENT
    assert conversation.volunteer_prompt == PROMPTS["imminent"]


def test_a_later_concern_does_not_lower_a_high_level(crisis: CrisisWorld) -> None:
    # given a texter whose conversation was raised to high
    _escalated(crisis, HIGH)

    # when they then send a text of concern
    crisis.text(CONCERN)

    # then the level, priority and prompt stay high
    conversation = crisis.conversation()
    assert conversation.risk_level == "high"
    assert conversation.priority is RiskLevel.HIGH
    assert conversation.volunteer_prompt == PROMPTS["high"]


def test_a_second_high_text_does_not_page_again(crisis: CrisisWorld) -> None:
    # given a texter already escalated at high
    _escalated(crisis, HIGH)

    # when they send another high-risk text
    crisis.text(HIGH_AGAIN)

    # then no new escalation, no second safety text, no second page
    assert len(crisis.escalations.all()) == 1
    assert crisis.outbound.texts == []
    assert crisis.notifier.notifications == []


def test_rising_from_high_to_imminent_pages_again(crisis: CrisisWorld) -> None:
    # given a texter already escalated at high
    first = _escalated(crisis, HIGH)

    # when they then send an imminent-risk text
    crisis.text(IMMINENT)

    # then a second, imminent escalation is opened and paged, and the conversation points at it
    escalations = {escalation.level: escalation for escalation in crisis.escalations.all()}
    assert set(escalations) == {"high", "imminent"}
    assert crisis.outbound.purposes() == ["safety", "page"]
    assert crisis.conversation().escalation_id == escalations["imminent"].escalation_id != first.escalation_id
    assert crisis.conversation().escalated_level == "imminent"


# ---------------------------------------------------------------- never lost: duplicates, races, crashes
def test_a_duplicate_trigger_opens_one_escalation_and_requeues_the_same_texts(crisis: CrisisWorld) -> None:
    # given a queued texter whose crisis text was applied
    _waiting(crisis)
    text = crisis.inbound(IMMINENT)
    crisis.engine.handle_text(text)
    first = [(t.outbound_id, t.purpose) for t in crisis.outbound.texts]
    crisis.clear_queues()

    # when Twilio delivers the same MessageSid again
    outcome = crisis.engine.handle_text(text)

    # then nothing new is decided: the same safety text and page (same ids, deduplicated downstream) are re-queued
    assert outcome is Outcome.REPLAYED
    assert len(crisis.escalations.all()) == 1
    assert [(t.outbound_id, t.purpose) for t in crisis.outbound.texts] == first
    assert [timer.page_count for timer in _repage_timers(crisis)] == [1]
    assert len(crisis.notifier.notifications) == 1


def test_an_escalation_lost_to_a_race_is_decided_again_and_created_once(crisis: CrisisWorld) -> None:
    # given a queued texter, and another worker about to commit first
    _waiting(crisis)
    crisis.repository.fail_next_commits(1)

    # when their crisis text arrives
    outcome = crisis.engine.handle_text(crisis.inbound(IMMINENT))

    # then the engine decides again on fresh state: one escalation, one page
    assert outcome is Outcome.APPLIED
    assert len(crisis.escalations.all()) == 1
    assert crisis.outbound.purposes() == ["safety", "page"]


def test_a_trigger_redelivered_after_it_was_forgotten_does_not_page_again(crisis: CrisisWorld) -> None:
    # given a crisis text that was applied, and has since dropped out of the texter's replay memory
    _waiting(crisis)
    text = crisis.inbound(IMMINENT)
    crisis.engine.handle_text(text)
    texter_id = crisis.texter().texter_id
    crisis.repository.texters[texter_id]["recent_events"] = []
    crisis.clear_queues()

    # when the same text is delivered again, and decided afresh
    crisis.engine.handle_text(text)

    # then the conversation is already escalated at that level: no second escalation, page or safety text
    assert len(crisis.escalations.all()) == 1
    assert crisis.outbound.texts == []


def test_a_crash_after_commit_is_recovered_by_the_retry(crisis: CrisisWorld) -> None:
    # given a queued texter, and an outbound queue that fails once right after the commit
    _waiting(crisis)
    text = crisis.inbound(IMMINENT)
    crisis.outbound.fail_next(1)
    with pytest.raises(ConnectionError):
        crisis.engine.handle_text(text)
    assert crisis.outbound.texts == []

    # when the queue retries the text
    outcome = crisis.engine.handle_text(text)

    # then the safety text, the page, the re-page timer and the notification all go out, once
    assert outcome is Outcome.REPLAYED
    assert crisis.outbound.purposes() == ["safety", "page"]
    assert len(_repage_timers(crisis)) == 1
    assert len(crisis.notifier.notifications) == 1
    assert len(crisis.escalations.all()) == 1


def test_an_opted_out_texter_in_crisis_pages_on_call_but_is_not_texted(crisis: CrisisWorld) -> None:
    # given a texter who opted out
    _waiting(crisis)
    crisis.text("STOP")
    crisis.clear_queues()

    # when they send an imminent-risk text
    outcome = crisis.text(IMMINENT)

    # then on-call is paged (SMS and topic, with a re-page timer) and nothing at all is texted to them
    assert outcome is Outcome.IGNORED
    assert crisis.outbound.purposes() == ["page"]
    assert len(crisis.notifier.notifications) == 1
    assert len(_repage_timers(crisis)) == 1
    escalation = crisis.escalations.only()
    assert escalation.conversation_id is None
    assert escalation.texter_id == crisis.texter().texter_id


def test_an_opted_out_texters_crisis_replayed_is_still_not_texted(crisis: CrisisWorld) -> None:
    # given an opted-out texter whose crisis text paged on-call
    _waiting(crisis)
    crisis.text("STOP")
    text = crisis.inbound(IMMINENT)
    crisis.engine.handle_text(text)
    crisis.clear_queues()

    # when the same text is delivered again
    crisis.engine.handle_text(text)

    # then only the page is re-queued
    assert crisis.outbound.purposes() == ["page"]
    assert len(crisis.escalations.all()) == 1


def test_an_opted_out_texters_second_crisis_text_joins_their_open_escalation(crisis: CrisisWorld) -> None:
    # given an opted-out texter whose crisis text opened an escalation nobody has acknowledged yet
    _waiting(crisis)
    crisis.text("STOP")
    crisis.text(IMMINENT)
    crisis.clear_queues()

    # when they send another crisis text (at the same or a lower level)
    crisis.text(HIGH)
    crisis.text(IMMINENT)

    # then no second escalation or page cycle starts: the open one keeps paging until someone acknowledges
    assert len(crisis.escalations.all()) == 1
    assert crisis.outbound.purposes() == []

    # and once it is acknowledged, a new crisis text pages again
    crisis.service.acknowledge(crisis.escalations.only().escalation_id, actor="supervisor:Dr Ben")
    crisis.text(IMMINENT)
    assert len(crisis.escalations.all()) == 2
    assert crisis.outbound.purposes() == ["page"]


# ---------------------------------------------------------------- re-paging
def test_an_unacknowledged_escalation_is_paged_again_to_the_same_person(crisis: CrisisWorld) -> None:
    # given a queued texter whose crisis text paged the first person on call
    _waiting(crisis)
    crisis.text(IMMINENT)
    timer = _repage_timers(crisis)[-1]
    crisis.clear_queues()

    # when the re-page time passes unacknowledged
    crisis.clock.now = timer.fire_at
    repaged = crisis.service.repage(timer)

    # then page 2 goes to the same person, with a new re-page timer
    assert repaged is True
    assert crisis.paged_names() == ["Dr Ana"]
    assert crisis.pages()[0].outbound_id.endswith(":page:2")
    assert [t.page_count for t in _repage_timers(crisis)] == [2]
    assert crisis.escalations.only().page_count == 2


def test_the_third_page_goes_to_the_next_person_on_the_rota(crisis: CrisisWorld) -> None:
    # given a queued texter whose crisis text paged the first person on call
    _waiting(crisis)
    crisis.text(IMMINENT)

    # when two re-page times pass unacknowledged
    _fire_latest_repage(crisis)
    _fire_latest_repage(crisis)

    # then pages 1 and 2 went to the first person, page 3 to the second
    assert crisis.paged_names() == ["Dr Ana", "Dr Ana", "Dr Ben"]


def test_re_paging_wraps_around_the_rota_until_someone_acknowledges(crisis: CrisisWorld) -> None:
    # given a queued texter whose crisis text paged the first of three people on call
    _waiting(crisis)
    crisis.text(IMMINENT)

    # when six re-page times pass unacknowledged
    for _ in range(6):
        assert _fire_latest_repage(crisis)

    # then each person is paged twice in rota order, and then the first again
    assert crisis.paged_names() == ["Dr Ana", "Dr Ana", "Dr Ben", "Dr Ben", "Dr Cy", "Dr Cy", "Dr Ana"]
    assert len(crisis.notifier.notifications) == 7


def test_every_page_is_audited(crisis: CrisisWorld) -> None:
    # given a queued texter whose crisis text paged the first person on call
    _waiting(crisis)
    crisis.text(IMMINENT)

    # when two re-page times pass unacknowledged
    _fire_latest_repage(crisis)
    _fire_latest_repage(crisis)

    # then the audit trail has every page, in order, with whom and when
    audit = crisis.escalations.only().audit
    pages = [event for event in audit if event.action == "paged"]
    assert [event.detail for event in pages] == [
        "page 1 to Dr Ana (SMS, SNS)",
        "page 2 to Dr Ana (SMS, SNS)",
        "page 3 to Dr Ben (SMS, SNS)",
    ]
    assert [event.at for event in pages] == sorted(event.at for event in pages)
    assert pages[0].at < pages[2].at


def test_a_repage_timer_for_an_older_page_does_nothing(crisis: CrisisWorld) -> None:
    # given an escalation already re-paged once (page 2 is out)
    _waiting(crisis)
    crisis.text(IMMINENT)
    first_timer = _repage_timers(crisis)[0]
    _fire_latest_repage(crisis)
    crisis.clear_queues()

    # when the first page's timer fires again (a redelivery)
    repaged = crisis.service.repage(first_timer)

    # then it is stale: nothing is paged
    assert repaged is False
    assert crisis.pages() == []
    assert crisis.escalations.only().page_count == 2


def test_a_repage_timer_after_acknowledgement_does_nothing(crisis: CrisisWorld) -> None:
    # given an escalation acknowledged before its re-page time
    _waiting(crisis)
    crisis.text(IMMINENT)
    timer = _repage_timers(crisis)[-1]
    crisis.service.acknowledge(crisis.escalations.only().escalation_id, actor="supervisor:Dr Ana")
    crisis.clear_queues()

    # when the re-page timer fires
    crisis.clock.now = timer.fire_at
    repaged = crisis.service.repage(timer)

    # then nobody is paged, and no further timer is set
    assert repaged is False
    assert crisis.pages() == []
    assert _repage_timers(crisis) == []


def test_an_acknowledgement_racing_a_repage_wins(crisis: CrisisWorld) -> None:
    # given an escalation whose re-page is due, and an acknowledgement landing between its read and its write
    _waiting(crisis)
    crisis.text(IMMINENT)
    escalation_id = crisis.escalations.only().escalation_id
    timer = _repage_timers(crisis)[-1]
    crisis.clear_queues()
    crisis.escalations.before_next_replace(lambda: crisis.service.acknowledge(escalation_id, actor="supervisor:Dr Ben"))

    # when the re-page runs
    crisis.clock.now = timer.fire_at
    repaged = crisis.service.repage(timer)

    # then the re-page loses the race, re-reads, and pages nobody
    assert repaged is False
    assert crisis.pages() == []
    assert crisis.escalations.only().status is EscalationStatus.ACKNOWLEDGED


def test_a_repage_whose_dispatch_crashed_is_sent_when_the_timer_is_redelivered(crisis: CrisisWorld) -> None:
    # given a due re-page, and an outbound queue that fails once right after the page is committed
    _waiting(crisis)
    crisis.text(IMMINENT)
    timer = _repage_timers(crisis)[-1]
    crisis.clear_queues()
    crisis.clock.now = timer.fire_at
    crisis.outbound.fail_next(1)
    with pytest.raises(ConnectionError):
        crisis.service.repage(timer)

    # when the timer queue redelivers the same timer
    crisis.service.repage(timer)

    # then page 2 goes out after all, with the timer for page 3
    assert [page.outbound_id.rsplit(":", 1)[-1] for page in crisis.pages()] == ["2"]
    assert [t.page_count for t in _repage_timers(crisis)] == [2]


# ---------------------------------------------------------------- nobody on call
def test_with_nobody_on_call_the_escalation_is_still_recorded_and_retried() -> None:
    # given an empty rota and no fallback number
    world = CrisisWorld(triage_table=TRIAGE, rota={})
    _waiting(world)

    # when a crisis text arrives
    world.text(IMMINENT)

    # then the texter still gets the safety text; the escalation is recorded, the failure audited, a retry set
    assert world.outbound.purposes() == ["safety"]
    escalation = world.escalations.only()
    assert [event.action for event in escalation.audit] == ["escalated", "page_failed"]
    assert [t.page_count for t in _repage_timers(world)] == [0]


def test_with_an_empty_rota_the_fallback_number_is_paged() -> None:
    # given an empty rota and the deployment's fallback number
    world = CrisisWorld(triage_table=TRIAGE, rota={})
    world.directory.set_fallback("+15555559999")
    _waiting(world)

    # when a crisis text arrives
    world.text(IMMINENT)

    # then the fallback number is paged
    [page] = world.pages()
    assert world.vault.decrypt(page.encrypted_to, recipient_of(page)) == "+15555559999"
    assert world.paged_names() == ["fallback on-call"]


def test_someone_added_to_an_empty_rota_is_paged_by_the_retry() -> None:
    # given an escalation that found nobody on call
    world = CrisisWorld(triage_table=TRIAGE, rota={})
    _waiting(world)
    world.text(IMMINENT)

    # when someone is put on call before the retry fires
    world.directory.add("Dr Dee", "+15555559004")
    _fire_latest_repage(world)

    # then they get the first page
    assert world.paged_names() == ["Dr Dee"]
    assert world.escalations.only().page_count == 1


def test_a_retry_that_still_finds_nobody_on_call_keeps_retrying() -> None:
    # given an escalation that found nobody on call, whose first retry also finds nobody
    world = CrisisWorld(triage_table=TRIAGE, rota={})
    _waiting(world)
    world.text(IMMINENT)
    first_retry = _repage_timers(world)[-1]
    world.clear_queues()
    world.clock.now = first_retry.fire_at
    world.service.repage(first_retry)
    assert _repage_timers(world), "no further retry was set: the escalation is never paged"

    # when someone is put on call before the next retry fires
    world.directory.add("Dr Dee", "+15555559004")
    _fire_latest_repage(world)

    # then they are paged
    assert world.paged_names() == ["Dr Dee"]


# ---------------------------------------------------------------- acknowledging
def test_acknowledging_records_who_and_when(crisis: CrisisWorld) -> None:
    # given an open escalation
    escalation = _escalated(crisis)
    crisis.clock.advance(90)

    # when a supervisor acknowledges it
    acknowledged = crisis.service.acknowledge(escalation.escalation_id, actor="supervisor:Dr Ben")

    # then it is acknowledged, by them, now, and the audit trail says so
    stored = crisis.escalations.only()
    assert acknowledged is not None and acknowledged.escalation.audit == stored.audit
    assert not acknowledged.already
    assert stored.status is EscalationStatus.ACKNOWLEDGED
    assert stored.acknowledged_by == "supervisor:Dr Ben"
    assert stored.acknowledged_at == crisis.clock()
    assert (stored.audit[-1].action, stored.audit[-1].actor) == ("acknowledged", "supervisor:Dr Ben")
    assert crisis.service.open_escalations() == []


def test_acknowledging_twice_changes_nothing(crisis: CrisisWorld) -> None:
    # given an acknowledged escalation
    escalation = _escalated(crisis)
    first = crisis.service.acknowledge(escalation.escalation_id, actor="supervisor:Dr Ben")
    crisis.clock.advance(60)

    # when it is acknowledged again, by someone else
    second = crisis.service.acknowledge(escalation.escalation_id, actor="on-call:Dr Ana")

    # then the first acknowledgement stands, nothing is written, and the second one learns who was first
    assert first is not None and second is not None
    assert second.escalation.acknowledged_by == first.escalation.acknowledged_by == "supervisor:Dr Ben"
    assert second.escalation.acknowledged_at == first.escalation.acknowledged_at
    assert crisis.escalations.only().acknowledged_by == "supervisor:Dr Ben"
    assert [event.action for event in crisis.escalations.only().audit].count("acknowledged") == 1
    assert (first.already, second.already) == (False, True)
    assert "already acknowledged by Dr Ben (supervisor)" in second.message


def test_acknowledging_an_unknown_escalation_finds_nothing(crisis: CrisisWorld) -> None:
    # given no escalations
    # when an unknown id is acknowledged
    # then there is nothing to acknowledge
    assert crisis.service.acknowledge("esc-unknown", actor="supervisor:Dr Ben") is None


@pytest.mark.parametrize("form", ["ACK {code}", "ack {lower}", "ack: {code}", "  Ack   {lower}  ", "ACK #{code}."])
def test_ack_from_an_on_call_phone_acknowledges_the_escalation(crisis: CrisisWorld, form: str) -> None:
    # given an open escalation
    escalation = _escalated(crisis)

    # when a professional on the rota texts the code back, the way people type it
    outcome = crisis.text(
        form.format(code=escalation.code, lower=escalation.code.lower()), number=ON_CALL_NUMBERS["Dr Cy"]
    )

    # then the escalation is acknowledged by them
    stored = crisis.escalations.only()
    assert outcome is Outcome.APPLIED
    assert stored.status is EscalationStatus.ACKNOWLEDGED
    assert stored.acknowledged_by == "on-call:Dr Cy"


def test_ack_is_confirmed_to_the_professional_who_sent_it(crisis: CrisisWorld) -> None:
    # given an open escalation
    escalation = _escalated(crisis)

    # when a professional on the rota texts ACK <code>
    crisis.text(f"ACK {escalation.code}", number=ON_CALL_NUMBERS["Dr Ben"])

    # then they, and only they, get a confirmation naming the escalation
    [reply] = crisis.outbound.texts
    assert reply.purpose == "ack"
    assert reply.recipient_id == crisis.target("Dr Ben").target_id
    assert crisis.vault.decrypt(reply.encrypted_to, recipient_of(reply)) == ON_CALL_NUMBERS["Dr Ben"]
    assert escalation.code in reply.body
    assert "acknowledged" in reply.body


def test_ack_from_an_on_call_phone_opens_no_conversation(crisis: CrisisWorld) -> None:
    # given an open escalation
    escalation = _escalated(crisis)

    # when a professional on the rota texts ACK <code>
    crisis.text(f"ACK {escalation.code}", number=ON_CALL_NUMBERS["Dr Ana"])

    # then they are not treated as a texter: no texter record, no welcome
    assert crisis.repository.get_texter(crisis.target("Dr Ana").target_id) is None
    assert "welcome" not in crisis.outbound.purposes()


def test_ack_stops_the_re_paging(crisis: CrisisWorld) -> None:
    # given a queued texter whose crisis text paged on-call
    _waiting(crisis)
    crisis.text(IMMINENT)
    timer = _repage_timers(crisis)[-1]
    code = crisis.escalations.only().code

    # when the professional texts ACK <code> before the re-page time
    crisis.text(f"ACK {code}", number=ON_CALL_NUMBERS["Dr Ana"])
    crisis.clear_queues()
    crisis.clock.now = timer.fire_at
    repaged = crisis.service.repage(timer)

    # then the re-page does nothing
    assert repaged is False
    assert crisis.pages() == []


def test_ack_from_someone_not_on_call_is_an_ordinary_text(crisis: CrisisWorld) -> None:
    # given an open escalation
    escalation = _escalated(crisis)

    # when a number that is not on the rota texts ACK <code>
    crisis.text(f"ACK {escalation.code}", number=OTHER_NUMBER)

    # then nothing is acknowledged, and they are welcomed like any texter
    assert crisis.escalations.only().status is EscalationStatus.OPEN
    assert crisis.outbound.purposes() == ["welcome"]
    assert crisis.texter(OTHER_NUMBER).open_conversation_id is not None


def test_ack_with_an_unknown_code_tells_the_professional(crisis: CrisisWorld) -> None:
    # given an open escalation
    _escalated(crisis)

    # when a professional on the rota texts a code that matches nothing
    crisis.text("ACK ZZZZZZ", number=ON_CALL_NUMBERS["Dr Ana"])

    # then they are told so, and the escalation stays open
    [reply] = crisis.outbound.texts
    assert reply.recipient_id == crisis.target("Dr Ana").target_id
    assert "no escalation with code ZZZZZZ" in reply.body
    assert crisis.escalations.only().status is EscalationStatus.OPEN


def test_ack_by_the_fallback_number_acknowledges() -> None:
    # given an empty rota, and an escalation that paged the fallback number
    world = CrisisWorld(triage_table=TRIAGE, rota={})
    world.directory.set_fallback("+15555559999")
    escalation = _escalated(world)

    # when the fallback number texts ACK <code>
    world.text(f"ACK {escalation.code}", number="+15555559999")

    # then the escalation is acknowledged
    assert world.escalations.only().status is EscalationStatus.ACKNOWLEDGED


def test_the_ack_code_is_derived_from_the_escalation() -> None:
    # given / when the code of an escalation id is computed twice
    # then it is the same six characters, which parse back from an ACK text
    code = escalation_code("esc-abc")
    assert code == escalation_code("esc-abc")
    assert len(code) == 6
    assert parse_ack(f"ack {code.lower()}") == code


def test_a_text_that_merely_mentions_ack_is_not_an_ack() -> None:
    # given / when texts that say "ack" among other words
    # then none of them is read as an acknowledgement
    assert parse_ack("ack ABC234 please") is None
    assert parse_ack("i will ack later") is None
    assert parse_ack("ACK") is None


# ---------------------------------------------------------------- a volunteer's "escalate"
@pytest.fixture
def desk() -> CrisisRoutingWorld:
    return CrisisRoutingWorld()


def _held(desk: CrisisRoutingWorld, conversation_id: str = "c1", volunteer_id: str = "v1") -> None:
    desk.volunteer(volunteer_id)
    desk.waiting(conversation_id)
    desk.active(conversation_id, with_=volunteer_id)
    desk.outbound.clear()
    desk.timers.clear()


def test_a_volunteers_escalate_raises_the_conversation_to_at_least_high(desk: CrisisRoutingWorld) -> None:
    # given a volunteer in an active conversation with no risk flagged
    _held(desk)

    # when they press escalate
    escalation = desk.router.escalate(desk.record("v1"), "c1").escalation

    # then the conversation is high priority, and the escalation is recorded as theirs
    conversation = desk.conversation("c1")
    assert conversation.priority is RiskLevel.HIGH
    assert conversation.risk_level == "high"
    assert conversation.escalation_id == escalation.escalation_id
    assert desk.escalations.only().level == "high"
    assert desk.escalations.only().trigger == "volunteer:Peer V1"
    assert desk.escalations.only().rules == ["volunteer_escalation"]


def test_a_volunteers_escalate_keeps_an_imminent_level(desk: CrisisRoutingWorld) -> None:
    # given an active conversation triage marked imminent but that was never escalated
    desk.volunteer("v1")
    desk.waiting("c1", risk_level="imminent", priority=RiskLevel.IMMINENT)
    desk.active("c1", with_="v1")

    # when the volunteer presses escalate
    desk.router.escalate(desk.record("v1"), "c1")

    # then it is escalated at imminent, not lowered to high
    assert desk.escalations.only().level == "imminent"
    assert desk.conversation("c1").priority is RiskLevel.IMMINENT


def test_a_volunteers_escalate_texts_the_safety_text_and_pages(desk: CrisisRoutingWorld) -> None:
    # given a volunteer in an active conversation
    _held(desk)

    # when they press escalate
    desk.router.escalate(desk.record("v1"), "c1")

    # then the texter gets the safety text first, then the first person on call is paged (SMS, topic, timer)
    assert desk.outbound.purposes() == ["safety", "page"]
    assert desk.outbound.texts[0].recipient_id == "t-c1"
    assert (
        desk.vault.decrypt(desk.outbound.texts[1].encrypted_to, recipient_of(desk.outbound.texts[1]))
        == ON_CALL_NUMBERS["Dr Ana"]
    )
    assert len(desk.notifier.notifications) == 1
    assert len(desk.timers.of_kind(TimerKind.ESCALATION_REPAGE)) == 1


def test_pressing_escalate_twice_pages_once(desk: CrisisRoutingWorld) -> None:
    # given a volunteer who pressed escalate
    _held(desk)
    first = desk.router.escalate(desk.record("v1"), "c1")

    # when they press it again
    second = desk.router.escalate(desk.record("v1"), "c1")

    # then it is the same escalation, only one page (and one safety text) went out, and the second press says so
    assert second.escalation.escalation_id == first.escalation.escalation_id
    assert len(desk.escalations.all()) == 1
    assert desk.outbound.purposes() == ["safety", "page"]
    assert (first.outcome, second.outcome) == ("paged", "already_open")
    assert "No new page was sent" in second.message


def test_escalate_after_an_acknowledgement_says_who_acknowledged_and_pages_nobody(desk: CrisisRoutingWorld) -> None:
    # given an escalation a supervisor acknowledged
    _held(desk)
    first = desk.router.escalate(desk.record("v1"), "c1")
    assert desk.service.acknowledge(first.escalation.escalation_id, actor="supervisor:Dr Ben") is not None
    desk.outbound.clear()

    # when the volunteer presses escalate again
    again = desk.router.escalate(desk.record("v1"), "c1")

    # then nobody is paged, and the answer says it was acknowledged, by whom
    assert desk.outbound.purposes() == []
    assert again.outcome == "already_acknowledged"
    assert "Already acknowledged by Dr Ben (supervisor)" in again.message
    assert "paged" not in again.message.split("No new page")[0]


def test_a_volunteer_who_does_not_hold_the_conversation_cannot_escalate_it(desk: CrisisRoutingWorld) -> None:
    # given a conversation active with v1, and another volunteer
    _held(desk)
    desk.volunteer("v2")

    # when the other volunteer presses escalate on it
    with pytest.raises(NotFoundError):
        desk.router.escalate(desk.record("v2"), "c1")

    # then nothing is escalated or paged
    assert desk.escalations.all() == []
    assert desk.outbound.texts == []


def test_escalate_pressed_again_after_a_crash_pages(desk: CrisisRoutingWorld) -> None:
    # given a volunteer whose escalate crashed right after it was recorded
    _held(desk)
    desk.outbound.fail_next(1)
    with pytest.raises(ConnectionError):
        desk.router.escalate(desk.record("v1"), "c1")

    # when they press escalate again
    desk.router.escalate(desk.record("v1"), "c1")

    # then the page goes out after all, with its re-page timer
    assert "page" in desk.outbound.purposes()
    assert len(desk.timers.of_kind(TimerKind.ESCALATION_REPAGE)) == 1
