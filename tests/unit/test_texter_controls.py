"""A texter's DELETE / BORRAR, a supervisor's erase, block and unblock by alias, the per-texter rate limit, and
escalation records unlinked from texter and conversation once the conversation is closed — against in-memory fakes.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from peerline.conversation import EngineSettings, Outcome
from peerline.escalation import UNLINKED_ALIAS, repage_timer
from peerline.keywords import Keyword, classify_keyword
from peerline.models import ConversationState, EscalationStatus, Language, TexterRecord
from peerline.number_context import texter_number
from peerline.phone import texter_alias
from peerline.replies import _TEXTS
from peerline.routing import ConflictError, NotFoundError
from peerline.texter_controls import TexterControls

from .audit_fakes import InMemoryAuditLog
from .escalation_fakes import EscalatingRoutingRepository, StubAssessment
from .fakes import EMERGENCY, EMERGENCY_ES
from .world import REPLIES, CrisisRoutingWorld, CrisisWorld

NUMBER = "+15555550001"
IMMINENT = "i saved up all my pills and tonight im going to the bridge"
HIGH = "i keep thinking about killing myself"
TRIAGE = {
    IMMINENT: StubAssessment(level="imminent", categories=["suicide"], rules=["en.suicide.plan_timeframe"]),
    HIGH: StubAssessment(level="high", categories=["suicide"], rules=["en.suicide.ideation"]),
}


@pytest.fixture
def line() -> CrisisWorld:
    return CrisisWorld(triage_table=TRIAGE)


def _waiting(world: CrisisWorld, *, consent: str | None = None) -> None:
    """A queued texter (who answered the consent question with ``consent``, or ignored it); queues cleared."""
    world.text("hi")
    world.text(consent or "just having a rough week")
    world.clear_queues()


def _blocked(world: CrisisWorld, hours: int = 24) -> TexterRecord:
    """The texter's record blocked by a supervisor for ``hours`` (as ``TexterControls.block`` writes it)."""
    texter = world.texter()
    world.repository.texters[texter.texter_id]["blocked_until"] = (world.clock() + timedelta(hours=hours)).isoformat()
    return world.texter()


# ---------------------------------------------------------------- the keyword
@pytest.mark.parametrize("body", ["DELETE", "delete", "Delete.", " delete! ", "BORRAR", "borrar", "Borrar."])
def test_delete_and_borrar_are_keywords_in_any_case_and_punctuation(body: str) -> None:
    assert classify_keyword(body) is Keyword.DELETE


@pytest.mark.parametrize("body", ["delete my number please", "please delete", "borrar todo", "deleted"])
def test_delete_inside_a_sentence_is_not_the_keyword(body: str) -> None:
    assert classify_keyword(body) is None


# ---------------------------------------------------------------- a texter's own erasure
def test_delete_erases_the_texter_their_conversation_and_its_bodies(line: CrisisWorld) -> None:
    # given a texter who consented and is waiting for a volunteer
    _waiting(line, consent="yes")
    texter = line.texter()
    conversation_id = line.conversation().conversation_id

    # when they text DELETE
    outcome = line.text("Delete")

    # then their record, their conversation (consented metadata too) and its bodies are gone
    assert outcome is Outcome.APPLIED
    assert line.repository.get_texter(texter.texter_id) is None
    assert line.repository.get_conversation(conversation_id) is None
    assert line.repository.messages_of(conversation_id) == []
    # and one confirmation goes to the number the record held, naming no texter and no conversation
    [confirmation] = line.outbound.texts
    assert confirmation.purpose == "erased"
    assert line.vault.decrypt(confirmation.encrypted_to, texter_number(texter.texter_id)) == NUMBER
    assert confirmation.body == REPLIES.text("erased", texter.language)
    assert "start fresh" in confirmation.body and EMERGENCY in confirmation.body
    assert (confirmation.texter_id, confirmation.conversation_id) == (None, None)
    # and the audit log holds an anonymous entry: who is "texter", no alias, no id
    [entry] = line.audit.entries
    assert (entry.actor_id, entry.action, entry.subject) == ("texter", "erase_texter", "")
    assert texter.texter_id[:4] not in entry.model_dump_json().lower()


def test_borrar_confirms_in_spanish(line: CrisisWorld) -> None:
    # given a Spanish-speaking texter
    line.text("hola, necesito hablar con alguien")
    line.clear_queues()

    # when they text BORRAR
    line.text("BORRAR")

    # then the confirmation is in Spanish
    [confirmation] = line.outbound.texts
    assert "empiezas de cero" in confirmation.body and EMERGENCY_ES in confirmation.body


def test_texting_again_after_delete_starts_fresh(line: CrisisWorld) -> None:
    # given a texter who erased themselves
    _waiting(line, consent="yes")
    line.text("DELETE")
    line.clear_queues()

    # when they text again
    line.text("hi again")

    # then they get the full welcome with the consent question, as a first-time texter
    assert line.outbound.purposes() == ["welcome"]
    assert line.conversation().consent == "unknown"


def test_delete_from_an_unknown_number_confirms_and_keeps_nothing(line: CrisisWorld) -> None:
    # when someone the line has never heard from texts BORRAR
    line.text("borrar")

    # then nothing about them is stored, they hear (in Spanish) that nothing is kept, and it is audited anonymously
    assert line.repository.texters == {}
    assert line.outbound.purposes() == ["erased"]
    assert "empiezas de cero" in line.outbound.texts[0].body
    assert [entry.action for entry in line.audit.entries] == ["erase_texter"]


def test_an_opted_out_texters_delete_erases_them_without_a_text(line: CrisisWorld) -> None:
    # given a texter who opted out
    _waiting(line)
    line.text("STOP")
    texter_id = line.texter().texter_id
    line.clear_queues()

    # when they text DELETE
    line.text("DELETE")

    # then they are erased, and the line keeps its promise of silence
    assert line.repository.get_texter(texter_id) is None
    assert line.outbound.texts == []


def test_delete_unlinks_escalations_and_an_open_one_keeps_paging(line: CrisisWorld) -> None:
    # given a texter whose crisis text paged on-call, not yet acknowledged
    _waiting(line)
    line.text(IMMINENT)
    conversation_id = line.conversation().conversation_id
    line.clear_queues()

    # when they text DELETE
    line.text("DELETE")

    # then the escalation names neither the texter nor the conversation, but is still open
    escalation = line.escalations.only()
    assert (escalation.texter_id, escalation.conversation_id, escalation.texter_alias) == ("", None, UNLINKED_ALIAS)
    assert escalation.status is EscalationStatus.OPEN
    assert line.repository.get_conversation(conversation_id) is None
    # and its re-page timer (queued with the first page) still pages again, under the anonymous alias
    line.clear_queues()
    line.clock.advance(line.escalation_settings.repage_seconds)
    assert line.service.repage(repage_timer(escalation, escalation.page_count, line.clock(), line.escalation_settings))
    assert [text.purpose for text in line.outbound.texts] == ["page"]
    assert f"{UNLINKED_ALIAS} needs a professional now" in line.pages()[-1].body
    # and it can still be acknowledged by its code
    acknowledgement = line.service.acknowledge_code(escalation.code, actor="on-call:Dr Ana")
    assert acknowledgement is not None and not acknowledgement.already


def test_delete_without_a_texter_record_still_unlinks_their_escalations(line: CrisisWorld) -> None:
    # given an opted-out texter's escalation (no conversation), and their record since expired
    _waiting(line)
    line.text("STOP")
    line.text(IMMINENT)
    del line.repository.texters[line.escalations.only().texter_id]

    # when they text DELETE
    line.text("DELETE")

    # then the escalation names them no more
    assert line.escalations.only().texter_id == ""


def test_a_delete_racing_another_text_is_decided_again(line: CrisisWorld) -> None:
    # given a waiting texter, and another worker that commits first
    _waiting(line)
    texter_id = line.texter().texter_id
    line.repository.fail_next_commits(1)

    # when they text DELETE, then it is decided again on the fresh record and erases it
    line.text("DELETE")
    assert line.repository.get_texter(texter_id) is None
    assert line.outbound.purposes() == ["erased"]


# ---------------------------------------------------------------- a block
def test_a_blocked_texters_text_reaches_no_volunteer_and_gets_one_notice(line: CrisisWorld) -> None:
    # given a texter with an open conversation, blocked by a supervisor
    line.text("hi")
    conversation_id = line.conversation().conversation_id
    _blocked(line)
    line.clear_queues()

    # when they text twice
    first = line.text("you can't stop me")
    second = line.text("hello??")

    # then the open conversation closed, no conversation opens, and only the first text gets the notice
    assert (first, second) == (Outcome.IGNORED, Outcome.IGNORED)
    assert line.repository.get_conversation(conversation_id) is None
    assert line.texter().open_conversation_id is None
    assert line.outbound.purposes() == ["blocked"]
    assert line.outbound.texts[0].body == REPLIES.text("blocked", line.texter().language)
    assert line.repository.conversations == {}


def test_a_blocked_texters_crisis_text_gets_the_safety_text_and_pages_once(line: CrisisWorld) -> None:
    # given a blocked texter
    line.text("hi")
    _blocked(line)
    line.clear_queues()

    # when they send crisis texts
    line.text(IMMINENT)
    line.text(IMMINENT)
    line.text(HIGH)

    # then the first gets the safety text and pages on-call; the others join the open escalation
    assert line.outbound.purposes() == ["safety", "page"]
    # and the safety text was their one notice: a calmer text later gets none
    line.text("ok")
    assert line.outbound.purposes() == ["safety", "page"]
    escalation = line.escalations.only()
    assert escalation.texter_id == line.texter().texter_id and escalation.conversation_id is None


def test_a_block_lapses_by_itself(line: CrisisWorld) -> None:
    # given a texter blocked for an hour, who was told so
    line.text("hi")
    _blocked(line, hours=1)
    line.text("anyone?")
    line.clear_queues()

    # when the block has lapsed and they text again (after the returning window too)
    line.clock.advance(2 * 3600)
    line.text("hi, it's me again")

    # then they are answered as usual
    assert line.outbound.purposes() == ["welcome"]
    assert line.conversation().state is ConversationState.CONSENT_PENDING


# ---------------------------------------------------------------- the rate limit
def test_texts_above_the_rate_limit_are_kept_but_get_no_automatic_reply() -> None:
    # given a line that answers a texter's first 3 texts of a minute
    world = CrisisWorld(triage_table=TRIAGE, settings=EngineSettings(texter_texts_per_minute=3))
    world.text("hi")
    world.text("HELP")
    world.text("HELP")
    world.clear_queues()

    # when they text a fourth time within the minute
    world.text("HELP")

    # then nothing is texted back
    assert world.outbound.texts == []

    # and a crisis text above the limit is still kept, gets the safety text and pages
    world.text(IMMINENT)
    assert world.outbound.purposes() == ["safety", "page"]
    assert any(message["body"] == IMMINENT for message in world.repository.texter_messages_of(_open_id(world)))

    # and a minute later the line answers again
    world.clock.advance(60)
    world.clear_queues()
    world.text("HELP")
    assert world.outbound.purposes() == ["help"]


def _open_id(world: CrisisWorld) -> str:
    return world.conversation().conversation_id


# ---------------------------------------------------------------- escalations unlinked at close
@pytest.fixture
def desk() -> CrisisRoutingWorld:
    return CrisisRoutingWorld()


def _escalated_and_held(desk: CrisisRoutingWorld, **conversation: object) -> str:
    desk.volunteer("v1")
    desk.waiting("c1", **conversation)
    desk.active("c1", with_="v1")
    return desk.router.escalate(desk.record("v1"), "c1").escalation.escalation_id


def test_without_consent_a_closed_conversations_acknowledged_escalation_keeps_no_link(desk: CrisisRoutingWorld) -> None:
    # given an escalated conversation without consent, acknowledged
    escalation_id = _escalated_and_held(desk, consent="no")
    desk.service.acknowledge(escalation_id, actor="on-call:Dr Ana")

    # when the volunteer closes it
    desk.router.close(desk.record("v1"), "c1", outcome="safe", tags=[])

    # then the escalation keeps only anonymous facts
    escalation = desk.escalations.only()
    assert (escalation.texter_id, escalation.conversation_id, escalation.texter_alias) == ("", None, UNLINKED_ALIAS)
    assert (escalation.level, escalation.acknowledged_by) == ("high", "on-call:Dr Ana")


def test_with_consent_a_closed_conversations_escalation_keeps_only_the_anonymous_metadata_link(
    desk: CrisisRoutingWorld,
) -> None:
    # given an escalated, acknowledged conversation with consent
    escalation_id = _escalated_and_held(desk, consent="yes")
    desk.service.acknowledge(escalation_id, actor="on-call:Dr Ana")

    # when it closes
    desk.router.close(desk.record("v1"), "c1", outcome="safe", tags=[])

    # then the escalation points at the (anonymous) session metadata, never at the texter
    escalation = desk.escalations.only()
    assert (escalation.texter_id, escalation.conversation_id) == ("", "c1")
    assert desk.repository.get_conversation("c1") is not None


def test_an_escalation_still_paging_at_close_is_unlinked_when_acknowledged(desk: CrisisRoutingWorld) -> None:
    # given an escalated conversation without consent, closed before anyone acknowledged
    escalation_id = _escalated_and_held(desk, consent="unknown")
    texter_id = desk.escalations.only().texter_id
    desk.router.close(desk.record("v1"), "c1", outcome="safe", tags=[])

    # then while it is paged it keeps its links (its texter's next crisis text joins it)
    assert desk.escalations.only().texter_id == texter_id

    # and once acknowledged it keeps none
    desk.service.acknowledge(escalation_id, actor="on-call:Dr Ana")
    escalation = desk.escalations.only()
    assert (escalation.texter_id, escalation.conversation_id) == ("", None)


# ---------------------------------------------------------------- a supervisor's controls, by alias
class AliasRepository(EscalatingRoutingRepository):
    def texters_with_alias(self, alias: str) -> list[TexterRecord]:
        return [
            texter
            for item in self.texters.values()
            if texter_alias((texter := TexterRecord(**item)).texter_id) == alias
        ]


@pytest.fixture
def controls() -> tuple[CrisisRoutingWorld, TexterControls, InMemoryAuditLog]:
    world = CrisisRoutingWorld(repository=AliasRepository())
    audit = InMemoryAuditLog()
    texters = TexterControls(
        store=world.repository,
        router=world.router,
        escalations=world.service,
        outbound=world.outbound,
        audit=audit,
        replies=REPLIES,
        retention_days=90,
        clock=world.clock,
    )
    return world, texters, audit


def test_a_supervisors_erase_closes_the_conversation_releases_the_volunteer_and_is_audited(
    controls: tuple[CrisisRoutingWorld, TexterControls, InMemoryAuditLog],
) -> None:
    world, texters, audit = controls
    # given a texter in an active conversation
    world.volunteer("v1")
    conversation = world.waiting("c1")
    world.active("c1", with_="v1")
    alias = texter_alias(conversation.texter_id)
    world.outbound.clear()

    # when a supervisor erases them by alias
    texters.erase("sup-1", alias, reason="asked us by phone")

    # then the texter and conversation are gone, the volunteer is free, the texter is told, and it is audited
    assert world.repository.get_texter(conversation.texter_id) is None
    assert world.repository.get_conversation("c1") is None
    assert world.load("v1") == 0
    assert world.outbound.purposes() == ["erased"]
    [entry] = audit.entries
    assert (entry.actor_id, entry.action, entry.subject, entry.reason) == (
        "sup-1",
        "erase_texter",
        alias,
        "asked us by phone",
    )


def test_a_supervisors_block_is_audited_with_its_reason_and_lapses(
    controls: tuple[CrisisRoutingWorld, TexterControls, InMemoryAuditLog],
) -> None:
    world, texters, audit = controls
    # given a waiting texter
    conversation = world.waiting("c1")
    alias = texter_alias(conversation.texter_id)

    # when a supervisor blocks them for 2 hours
    block = texters.block("sup-1", alias, reason="abusive texts to volunteers", hours=2)

    # then the texter is blocked until then, and the audit says who, what, whom and why
    texter = world.repository.get_texter(conversation.texter_id)
    assert texter is not None and texter.blocked_until == block.blocked_until == world.clock() + timedelta(hours=2)
    assert texter.is_blocked(world.clock()) and not texter.is_blocked(world.clock() + timedelta(hours=2))
    [entry] = audit.entries
    assert (entry.actor_id, entry.action, entry.subject) == ("sup-1", "block_texter", alias)
    assert "abusive texts to volunteers" in entry.reason

    # and lifting it is audited too
    texters.unblock("sup-1", alias, reason="talked it through")
    assert world.repository.get_texter(conversation.texter_id).blocked_until is None  # type: ignore[union-attr]
    assert [entry.action for entry in audit.entries] == ["block_texter", "unblock_texter"]


def test_a_supervisors_block_closes_an_open_conversation_at_once_and_tells_its_volunteer(
    controls: tuple[CrisisRoutingWorld, TexterControls, InMemoryAuditLog],
) -> None:
    world, texters, _ = controls
    # given a texter without consent in an active conversation with v1
    world.volunteer("v1")
    conversation = world.waiting("c1", consent="no")
    world.active("c1", with_="v1")
    world.inbound("c1", "some abusive text")

    # when a supervisor blocks them
    texters.block("sup-1", texter_alias(conversation.texter_id), reason="abuse", hours=1)

    # then the conversation is closed (nothing kept without consent), its bodies are gone, v1 is free and told why
    assert world.repository.get_conversation("c1") is None
    assert world.repository.messages_of("c1") == []
    assert world.load("v1") == 0
    assert "a supervisor blocked the texter" in world.record("v1").notices[-1]
    texter = world.repository.get_texter(conversation.texter_id)
    assert texter is not None and texter.open_conversation_id is None and texter.blocked_until is not None


def test_an_unknown_alias_is_not_found_and_an_ambiguous_one_is_a_conflict(
    controls: tuple[CrisisRoutingWorld, TexterControls, InMemoryAuditLog],
) -> None:
    world, texters, audit = controls
    with pytest.raises(NotFoundError):
        texters.block("sup-1", "Texter FFFF", reason="abuse", hours=1)
    # given two texters whose ids start alike
    world.waiting("c1", texter_id="abcd" + "1" * 60)
    world.waiting("c2", texter_id="abcd" + "2" * 60)
    with pytest.raises(ConflictError):
        texters.erase("sup-1", "Texter ABCD")
    assert audit.entries == []


def test_the_spanish_texts_never_assume_a_gender_of_the_volunteer_or_the_texter() -> None:
    # Sofía is not "un voluntario", and a texter in Spanish is not always "solo".
    gendered = ("un voluntario", "el voluntario", "próximo voluntario", "estás solo", "estás sola")
    for name in _TEXTS:
        text = REPLIES.text(name, Language.SPANISH, name="Sofía", code="1234", minutes="5").lower()
        assert not any(phrase in text for phrase in gendered), (name, text)
