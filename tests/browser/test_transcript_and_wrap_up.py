"""The dashboard in real Chromium: a long transcript loads its earlier pages on demand, and the wrap-up offers the
line's own outcomes and tags (the template's SessionOutcomes / SessionTags) instead of free text."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from dashboard_kit import Api, Audit, Steps, demo_user, eventually, sign_in, text_line, transcript
from playwright.sync_api import Page, Route, expect

pytestmark = pytest.mark.e2e

LINE_PARAMETERS = {"SessionOutcomes": "supported,referred", "SessionTags": "grief,work,school"}
PAGING_TEXTER = "+15555550901"
CLOSING_TEXTER = "+15555550902"
READ_TEXTER = "+15555550903"

expect.set_options(timeout=10_000)


@pytest.fixture(autouse=True)
def _watch_numbers(audit: Audit) -> None:
    audit.numbers.update({PAGING_TEXTER, CLOSING_TEXTER, READ_TEXTER})


def active_conversation(line: dict[str, Any], apis: dict[str, Api], number: str, replies: int = 0) -> dict[str, Any]:
    """volunteer.en holds the texter's conversation (offered, accepted through the API), with ``replies`` replies."""
    api = apis["volunteer.en"]
    for username, other in apis.items():
        status = "available" if username == "volunteer.en" else "offline"
        assert other.call("PUT", "/volunteer/me/availability", {"status": status}).status_code == 200
    text_line(line, number, "hi, is anyone there?")
    text_line(line, number, "NO")
    offers = eventually(lambda: [c for c in api.conversations() if c["status"] == "offered"], 15)
    assert offers, "the line never offered the conversation (API)"
    conversation = dict(offers[0])
    assert api.call("POST", f"/volunteer/conversations/{conversation['id']}/accept").status_code == 200
    for index in range(replies):
        body = {"body": f"reply {index + 1}"}
        assert api.call("POST", f"/volunteer/conversations/{conversation['id']}/messages", body).status_code == 200
    return conversation


def three_a_page(route: Route) -> None:
    """Transcript pages of 3 rather than the dashboard's 50, so that 8 messages make three pages."""
    route.continue_(url=re.sub(r"limit=\d+", "limit=3", route.request.url))


def test_earlier_messages_load_on_demand_until_the_transcript_starts(
    line: dict[str, Any], dashboard_url: str, apis: dict[str, Api], open_page: Callable[..., Page], steps: Steps
) -> None:
    # given a conversation of 8 messages, and a dashboard whose transcript pages hold 3 (rather than 50)
    conversation = active_conversation(line, apis, PAGING_TEXTER, replies=3)
    everything = [m["id"] for m in apis["volunteer.en"].transcript(conversation["id"])]
    assert len(everything) == 8
    page = open_page("volunteer")
    page.route(re.compile(r".*/messages\?.*"), three_a_page)
    sign_in(page, dashboard_url, "volunteer.en", demo_user(line, "volunteer.en")["password"])
    page.get_by_role("tab", name=conversation["texter_alias"]).click()

    # then the newest three show, with a way to the earlier ones
    messages = transcript(page).locator("[data-message-id]")
    expect(messages).to_have_count(3)
    expect(messages.last).to_contain_text("reply 3")
    earlier = page.get_by_role("button", name="Earlier messages", exact=True)
    expect(earlier).to_be_visible()
    steps(page, "the newest page")

    # when the volunteer asks for earlier messages until there are none
    earlier.click()
    expect(messages).to_have_count(6)
    earlier.click()
    expect(messages).to_have_count(8)

    # then the whole transcript shows once, in order, and the button is gone
    expect(earlier).to_be_hidden()
    shown = messages.evaluate_all("elements => elements.map(e => e.getAttribute('data-message-id'))")
    assert shown == everything
    steps(page, "the whole transcript")


def test_the_wrap_up_offers_the_lines_outcomes_and_tags_only(
    line: dict[str, Any], dashboard_url: str, apis: dict[str, Api], open_page: Callable[..., Page], steps: Steps
) -> None:
    # given volunteer.en holds a conversation on a line whose lists are two outcomes and three tags
    conversation = active_conversation(line, apis, CLOSING_TEXTER)
    page = open_page("volunteer")
    sign_in(page, dashboard_url, "volunteer.en", demo_user(line, "volunteer.en")["password"])
    page.get_by_role("tab", name=conversation["texter_alias"]).click()

    # when she opens the wrap-up
    page.get_by_role("button", name="Close conversation", exact=True).click()

    # then she chooses from those lists, and there is no free text to type
    outcome = page.get_by_label("Outcome", exact=True)
    options = outcome.locator("option").evaluate_all("options => options.map(o => o.value)")
    assert options == ["", "supported", "referred"]
    tags = page.get_by_role("group", name="Tags")
    expect(tags.get_by_role("checkbox")).to_have_count(3)
    for tag in ("grief", "work", "school"):
        expect(tags.get_by_role("checkbox", name=tag, exact=True)).to_be_visible()
    expect(page.get_by_role("form", name="Wrap-up").get_by_role("textbox")).to_have_count(0)
    steps(page, "the wrap-up's choices")

    # when she closes with one outcome and two tags
    outcome.select_option("referred")
    tags.get_by_role("checkbox", name="grief", exact=True).check()
    tags.get_by_role("checkbox", name="work", exact=True).check()
    page.get_by_role("button", name="Close and wrap up", exact=True).click()

    # then the line closed it
    expect(page.get_by_role("tab", name=conversation["texter_alias"])).to_have_count(0)
    held = lambda: [c for c in apis["volunteer.en"].conversations() if c["id"] == conversation["id"]]  # noqa: E731
    assert eventually(lambda: not held()), "not closed (API)"


def test_a_supervisor_reads_a_long_transcript_page_by_page(
    line: dict[str, Any], dashboard_url: str, apis: dict[str, Api], open_page: Callable[..., Page], steps: Steps
) -> None:
    # given volunteer.en holds a conversation of 8 messages, and pages of 3
    conversation = active_conversation(line, apis, READ_TEXTER, replies=3)
    alias = conversation["texter_alias"]
    page = open_page("supervisor")
    page.route(re.compile(r".*/messages\?.*"), three_a_page)
    sign_in(page, dashboard_url, "supervisor", demo_user(line, "supervisor")["password"])

    # when the supervisor reads it from the line's open conversations
    item = page.get_by_role("list", name="Open conversations").get_by_role("listitem").filter(has_text=alias)
    item.get_by_role("button", name=f"Read {alias}").click()
    log = page.get_by_role("log", name=f"Conversation with {alias}, read only")
    messages = log.locator("[data-message-id]")
    expect(messages).to_have_count(3)

    # then "Earlier messages" loads the rest, page by page, until the transcript starts
    earlier = page.get_by_role("button", name="Earlier messages", exact=True)
    earlier.click()
    expect(messages).to_have_count(6)
    earlier.click()
    expect(messages).to_have_count(8)
    expect(earlier).to_be_hidden()
    shown = messages.evaluate_all("elements => elements.map(e => e.getAttribute('data-message-id'))")
    assert shown == [m["id"] for m in apis["volunteer.en"].transcript(conversation["id"])]
    steps(page, "the whole transcript, read only")
