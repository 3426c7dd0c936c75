"""Frames combine across a texter's texts: the engine keeps each text's frame signals on the conversation."""

from __future__ import annotations

from collections.abc import Sequence

from peerline.triage import RiskLevel, TriageResult, triage

from .world import CrisisWorld


def rules_and_frames(text: str, *, context: Sequence[str] = ()) -> TriageResult:
    """Triage without the learned stage: these tests are about frames combining across texts."""
    return triage(text, context=context, use_model=False)


def test_means_in_one_text_and_the_time_in_the_next_escalate_the_second() -> None:
    # given: a first text that names means but no time, a second that names a time and nothing else
    first, second = "i have my dads pills here", "tonight"
    assert rules_and_frames(first).level.rank < RiskLevel.HIGH.rank
    assert rules_and_frames(second).level is RiskLevel.NONE
    world = CrisisWorld(scorer=rules_and_frames)
    # when
    world.text(first)
    assert world.pages() == []
    world.text(second)
    # then: the conversation is imminent, on-call is paged, and only signal names were kept (never words)
    conversation = world.conversation()
    assert conversation.risk_level == "imminent"
    assert len(world.pages()) == 1
    assert conversation.risk_signals
    assert all(signal.isidentifier() for signal in conversation.risk_signals)
    assert "pills" not in " ".join(conversation.risk_signals)


def test_the_context_alone_does_not_escalate_an_ordinary_texter() -> None:
    world = CrisisWorld(scorer=rules_and_frames)
    world.text("hi, can i talk to someone about school")
    world.text("tonight maybe? im free after 8")
    assert world.conversation().risk_level == "none"
    assert world.pages() == []


def test_a_text_completes_a_frame_only_with_the_texters_own_context() -> None:
    # given: the same two texts from two different texters
    world = CrisisWorld(scorer=rules_and_frames)
    world.text("i have my dads pills here", number="+15555550001")
    world.text("tonight", number="+15555550002")
    # then: the second texter is not raised by the first one's signals
    assert world.conversation("+15555550002").risk_level == "none"


def test_triage_reports_when_the_context_completed_the_frame() -> None:
    alone = rules_and_frames("tonight")
    together = rules_and_frames("tonight", context=rules_and_frames("i have my dads pills here").signals)
    assert alone.level is RiskLevel.NONE
    assert together.level is RiskLevel.IMMINENT
    assert "conversation" in together.modifiers


def test_a_closed_conversation_keeps_no_frame_signals() -> None:
    # given: a consenting texter whose texts left signals on the conversation
    world = CrisisWorld(scorer=rules_and_frames)
    world.text("i have my dads pills here")
    world.text("yes")
    conversation_id = world.texter().open_conversation_id
    assert conversation_id is not None
    assert world.conversation().risk_signals
    # when: the texter stops (the conversation closes; with consent its metadata stays)
    world.text("STOP")
    # then
    closed = world.repository.get_conversation(conversation_id)
    assert closed is not None, "with consent, the closed conversation's metadata stays"
    assert closed.closed_at is not None
    assert closed.risk_signals == []
