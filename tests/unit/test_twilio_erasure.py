"""Twilio forgets a conversation: each message's erasure waits for its conversation to close, and is never lost."""

from __future__ import annotations

import pytest

from peerline.twilio_erasure import (
    ErasureGaveUpError,
    ErasureOutcome,
    ErasureSettings,
    MessageErasure,
    erase_when_closed,
)

from .erasure_fakes import FakeTwilioAccount, RecordingErasureQueue, SetOfOpenConversations
from .world import EngineWorld

SETTINGS = ErasureSettings(recheck_seconds=300, in_flight_retry_seconds=120, max_in_flight_refusals=3)


def _erase(
    job: MessageErasure, twilio: FakeTwilioAccount, *open_ids: str
) -> tuple[ErasureOutcome, RecordingErasureQueue]:
    queue = RecordingErasureQueue()
    outcome = erase_when_closed(
        job, conversations=SetOfOpenConversations(*open_ids), twilio=twilio, queue=queue, settings=SETTINGS
    )
    return outcome, queue


# ---------------------------------------------------------------- the erasure job
def test_a_message_of_an_open_conversation_stays_at_twilio_and_its_job_waits() -> None:
    # given a message of conversation c1, still open (the texter may still be in it)
    twilio = FakeTwilioAccount("SM1")

    # when its job runs
    outcome, queue = _erase(MessageErasure(message_sid="SM1", conversation_id="c1"), twilio, "c1")

    # then nothing is deleted, and the same job comes back after the recheck delay
    assert outcome is ErasureOutcome.WAITING_FOR_CLOSE
    assert twilio.delete_calls == []
    assert queue.scheduled == [(MessageErasure(message_sid="SM1", conversation_id="c1"), 300)]


def test_a_message_of_a_closed_conversation_is_deleted_from_twilio() -> None:
    # given a message of conversation c1, closed (deleted without consent, or kept closed with it)
    twilio = FakeTwilioAccount("SM1")

    # when its job runs
    outcome, queue = _erase(MessageErasure(message_sid="SM1", conversation_id="c1"), twilio)

    # then Twilio no longer holds it, and nothing is queued again
    assert outcome is ErasureOutcome.ERASED
    assert twilio.held == set()
    assert queue.scheduled == []


def test_a_message_outside_any_conversation_is_deleted_at_once() -> None:
    # given a message that belongs to no conversation (a HELP answer, an opted-out texter's text)
    twilio = FakeTwilioAccount("SM1")

    # when its job runs
    outcome, _ = _erase(MessageErasure(message_sid="SM1"), twilio, "c1")

    # then it is deleted
    assert outcome is ErasureOutcome.ERASED
    assert twilio.held == set()


def test_a_message_twilio_still_processes_is_retried_later_never_dropped() -> None:
    # given a closed conversation's message Twilio is still delivering (20009)
    twilio = FakeTwilioAccount("SM1", in_flight=["SM1"])

    # when its job runs
    outcome, queue = _erase(MessageErasure(message_sid="SM1", conversation_id="c1"), twilio)

    # then the job comes back after the in-flight delay, counting the refusal
    assert outcome is ErasureOutcome.IN_FLIGHT
    assert twilio.held == {"SM1"}
    assert queue.scheduled == [(MessageErasure(message_sid="SM1", conversation_id="c1", in_flight_refusals=1), 120)]


def test_a_message_refused_past_the_bound_fails_its_job_for_the_dead_letter_queue() -> None:
    # given a message Twilio has refused to delete as often as the settings allow
    twilio = FakeTwilioAccount("SM1", in_flight=["SM1"])
    job = MessageErasure(message_sid="SM1", in_flight_refusals=SETTINGS.max_in_flight_refusals)

    # when its job runs again and Twilio refuses again
    # then the job fails (the queue retries it, then its DLQ keeps it and alarms), nothing is re-queued silently
    with pytest.raises(ErasureGaveUpError):
        _erase(job, twilio)


# ---------------------------------------------------------------- the engine queues each texter's text
def test_each_text_of_a_conversation_is_queued_for_erasure_after_its_close() -> None:
    # given a texter in a conversation
    world = EngineWorld()
    world.text("hi, I need to talk", sid="SM" + "1" * 32)
    conversation_id = world.conversation().conversation_id

    # when they text again, then STOP (which closes it)
    world.text("are you there?", sid="SM" + "2" * 32)
    world.text("STOP", sid="SM" + "3" * 32)

    # then every one of their texts waits for that conversation to close, STOP included
    assert world.erasures.jobs == [
        MessageErasure(message_sid="SM" + digit * 32, conversation_id=conversation_id) for digit in "123"
    ]


def test_a_text_outside_any_conversation_is_queued_for_erasure_at_once() -> None:
    # given a texter who opted out (no conversation)
    world = EngineWorld()
    world.text("hi")
    world.text("STOP")
    world.erasures.scheduled.clear()

    # when they text again (ignored: opted out means silence)
    world.text("hello?", sid="SM" + "4" * 32)

    # then that text is queued for erasure without waiting for any conversation
    assert world.erasures.jobs == [MessageErasure(message_sid="SM" + "4" * 32, conversation_id=None)]


def test_a_replayed_text_queues_its_erasure_again() -> None:
    # given a text applied once, whose erasure may not have been queued (the first attempt failed after the commit)
    world = EngineWorld()
    text = world.inbound("hi, I need to talk", sid="SM" + "5" * 32)
    world.engine.handle_text(text)
    world.erasures.scheduled.clear()

    # when the queue delivers it again
    world.engine.handle_text(text)

    # then its erasure is queued again, waiting for the conversation still open
    assert world.erasures.jobs == [
        MessageErasure(message_sid="SM" + "5" * 32, conversation_id=world.conversation().conversation_id)
    ]
