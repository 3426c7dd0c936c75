"""Closing forgets, and bodies go first (issue 12): a STOP with consent unlinks the texter like any close, and the
bodies of a closed conversation are purged before the closing text is queued — a failed send can't leave them."""

from __future__ import annotations

import json

from .fakes import RecordingOutboundQueue
from .routing_fakes import InMemoryRoutingRepository
from .world import EngineWorld, RoutingWorld


class PurgeWatchingRepository(InMemoryRoutingRepository):
    """Remembers how many texts were queued when each purge ran (the engine's and the router's store alike)."""

    def __init__(self, outbound: RecordingOutboundQueue) -> None:
        super().__init__()
        self._outbound = outbound
        self.texts_queued_at_purge: list[int] = []

    def delete_messages(self, conversation_id: str) -> int:
        self.texts_queued_at_purge.append(len(self._outbound.texts))
        return super().delete_messages(conversation_id)


def test_a_stop_with_consent_leaves_nothing_on_the_texter_that_links_to_the_conversation() -> None:
    # given a texter who said YES to keeping anonymous information
    world = EngineWorld()
    world.text("hi, I need to talk")
    world.text("yes")
    conversation_id = world.conversation().conversation_id

    # when they text STOP
    world.text("STOP")

    # then their record names the conversation nowhere (its metadata is kept, unlinked, as for any close)
    texter = world.texter()
    assert texter.open_conversation_id is None
    assert conversation_id not in json.dumps(texter.model_dump(mode="json"))
    assert world.repository.conversations[conversation_id]["texter_id"] == ""


def test_a_stop_purges_the_bodies_before_its_confirmation_is_queued() -> None:
    # given a texter with a conversation and kept texts
    outbound = RecordingOutboundQueue()
    repository = PurgeWatchingRepository(outbound)
    world = EngineWorld(repository=repository, outbound=outbound)
    world.text("hi, I need to talk")
    world.text("it's been a hard week")
    queued_before_stop = len(outbound.texts)

    # when they text STOP
    world.text("STOP")

    # then the purge ran before the confirmation was queued
    assert repository.texts_queued_at_purge == [queued_before_stop]
    assert len(outbound.texts) == queued_before_stop + 1


def test_a_volunteers_close_purges_the_bodies_before_the_closing_text_is_queued() -> None:
    # given an active conversation with a text kept
    outbound = RecordingOutboundQueue()
    repository = PurgeWatchingRepository(outbound)
    routing = RoutingWorld(repository=repository, outbound=outbound)
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.inbound("c1", "thanks for listening")
    routing.active("c1", with_="ana")
    queued_before_close = len(outbound.texts)

    # when the volunteer closes it
    routing.router.close(routing.record("ana"), "c1", outcome="supported", tags=[])

    # then the bodies were gone before the closing text was queued
    assert repository.texts_queued_at_purge == [queued_before_close]
    assert repository.messages_of("c1") == []
    assert len(outbound.texts) == queued_before_close + 1


def test_a_failed_purge_still_sends_the_closing_text() -> None:
    # given a store whose purge fails
    class FailingPurge(InMemoryRoutingRepository):
        def delete_messages(self, conversation_id: str) -> int:
            raise ConnectionError("DynamoDB is unreachable")

    routing = RoutingWorld(repository=FailingPurge())
    routing.volunteer("ana")
    routing.waiting("c1")
    routing.active("c1", with_="ana")
    before = len(routing.outbound.texts)

    # when the volunteer closes it, the close stands and the texter is still told (the TTL removes the bodies)
    routing.router.close(routing.record("ana"), "c1", outcome="supported", tags=[])
    assert len(routing.outbound.texts) == before + 1
    assert routing.outbound.texts[-1].purpose == "closed"
