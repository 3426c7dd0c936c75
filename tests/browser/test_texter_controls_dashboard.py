"""A supervisor blocks, then erases, a texter by alias from the dashboard, in real Chromium against the local line;
the texter's own phone (the real twilio client) is the oracle, and no page ever shows their number."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from dashboard_kit import Api, Audit, Steps, demo_user, eventually, page_leaks, sign_in, text_line, texts_to
from playwright.sync_api import Page, expect
from twilio.rest import Client

pytestmark = pytest.mark.e2e

TEXTER = "+15555550871"


@pytest.fixture(autouse=True)
def _watch_numbers(audit: Audit) -> None:
    audit.numbers.add(TEXTER)


def test_a_supervisor_blocks_then_erases_a_texter_by_alias(
    line: dict[str, Any], dashboard_url: str, twilio: Client, apis: dict[str, Api],
    open_page: Callable[..., Page], steps: Steps,
) -> None:  # fmt: skip
    # given a texter waiting in the queue, known to the supervisor by alias only
    text_line(line, TEXTER, "hi, I need to talk")
    queued = eventually(lambda: apis["supervisor"].conversations(), 15)
    assert queued, "the texter was never queued (API)"
    alias = queued[0]["texter_alias"]
    page = open_page("supervisor")
    sign_in(page, dashboard_url, "supervisor", demo_user(line, "supervisor")["password"])
    expect(page.get_by_role("heading", name="Block or erase a texter")).to_be_visible()

    # when the supervisor types something that is not an alias, they are told what to type
    page.get_by_label("Texter alias", exact=True).fill("+1 555")
    page.get_by_role("button", name="Block texter", exact=True).click()
    expect(page.get_by_role("alert").filter(has_text="e.g. Texter 4F2A")).to_be_visible()

    # when they block the texter by alias for a day, with a reason
    page.get_by_label("Texter alias", exact=True).fill(alias)
    page.get_by_label("Why (kept in the audit log)", exact=True).fill("abusive texts to volunteers")
    page.get_by_label("Block for", exact=True).select_option("24")
    page.get_by_role("button", name="Block texter", exact=True).click()
    expect(page.get_by_role("status").filter(has_text=f"{alias} is blocked until")).to_be_visible()
    steps(page, "blocked")

    # then the texter's conversation is gone from the line, and their next text gets the one notice
    assert eventually(lambda: not [c for c in apis["supervisor"].conversations() if c["texter_alias"] == alias], 15)
    text_line(line, TEXTER, "hello??")
    assert eventually(lambda: "can't continue this conversation" in (texts_to(twilio, TEXTER) or [""])[-1], 15)

    # when they erase the texter, confirming it
    page.get_by_role("button", name="Erase texter", exact=True).click()
    page.get_by_role("button", name=f"Yes, erase {alias}", exact=True).click()
    expect(page.get_by_role("status").filter(has_text=f"{alias} was erased")).to_be_visible()
    steps(page, "erased")

    # then the texter is told what was erased, and the alias names nobody any more
    assert eventually(lambda: "erased what it kept about you" in texts_to(twilio, TEXTER)[-1], 15)
    page.get_by_role("button", name="Lift block", exact=True).click()
    expect(page.get_by_role("alert").filter(has_text="Not unblocked")).to_be_visible()
    assert not page_leaks(page, [TEXTER])
