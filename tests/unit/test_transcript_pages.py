"""A transcript read a page at a time: the newest messages first (in the order they happened), then earlier ones."""

from __future__ import annotations

import pytest

from peerline.api_models import MessageList, cursor_of, message_key_of
from peerline.routing import MessagePage, NotFoundError

from .world import RoutingWorld


@pytest.fixture
def routing() -> RoutingWorld:
    # given Ana holds c1, whose transcript is the "you're now texting with" text and then m1…m6 from the texter
    world = RoutingWorld()
    world.volunteer("ana")
    world.volunteer("ben")
    world.waiting("c1")
    world.active("c1", with_="ana")
    for index in range(1, 7):
        world.clock.advance(5)
        world.inbound("c1", f"m{index}")
    return world


def bodies(page: MessagePage) -> list[str]:
    return [message.body for message in page.messages]


def test_the_first_page_is_the_newest_messages_in_the_order_they_happened(routing: RoutingWorld) -> None:
    page = routing.router.message_page(routing.record("ana"), "c1", limit=3)

    assert bodies(page) == ["m4", "m5", "m6"]
    assert page.older == page.messages[0].message_key


def test_following_older_reads_the_whole_transcript_once_and_ends_without_a_cursor(routing: RoutingWorld) -> None:
    # when Ana reads pages of 3 until there is no earlier one
    pages = [routing.router.message_page(routing.record("ana"), "c1", limit=3)]
    while pages[-1].older:
        pages.append(routing.router.message_page(routing.record("ana"), "c1", limit=3, before=pages[-1].older))

    # then the pages, newest first, hold the transcript once, and the last one says it starts the transcript
    assert [bodies(page)[-1] for page in pages] == ["m6", "m3", pages[-1].messages[-1].body]
    read = [message for page in reversed(pages) for message in page.messages]
    assert read == routing.router.messages(routing.record("ana"), "c1")
    assert pages[-1].older is None


def test_a_page_that_holds_the_rest_exactly_has_no_cursor(routing: RoutingWorld) -> None:
    everything = routing.router.messages(routing.record("ana"), "c1")

    page = routing.router.message_page(routing.record("ana"), "c1", limit=len(everything))

    assert (page.messages, page.older) == (everything, None)


def test_a_volunteer_who_does_not_hold_it_cannot_page_it(routing: RoutingWorld) -> None:
    with pytest.raises(NotFoundError):
        routing.router.message_page(routing.record("ben"), "c1", limit=3)


def test_the_cursor_is_opaque_and_gives_back_the_message_key(routing: RoutingWorld) -> None:
    page = routing.router.message_page(routing.record("ana"), "c1", limit=3)

    listed = MessageList.of(page)

    assert listed.next_cursor is not None and "#" not in listed.next_cursor
    assert message_key_of(listed.next_cursor) == page.older
    assert MessageList.of(MessagePage(messages=[], older=None)).next_cursor is None


@pytest.mark.parametrize("cursor", ["not-base64-#", cursor_of("no separator"), "AAAA"])
def test_a_cursor_the_api_did_not_give_is_refused(cursor: str) -> None:
    assert message_key_of(cursor) is None
