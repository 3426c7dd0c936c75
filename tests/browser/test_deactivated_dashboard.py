"""Deactivation and demotion in real Chromium on the local line: the operator's command reaches an open dashboard at
once — a deactivated volunteer's page is cleared to a plain signed-out state, a demoted supervisor's page drops the
supervisors' view."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from dashboard_kit import Api, Steps, demo_user, offer_alert, set_availability, text_line, transcript
from dashboard_kit import sign_in as kit_sign_in
from playwright.sync_api import Page, expect

from peerline_ops.cli import main

pytestmark = pytest.mark.e2e

TEXTER = "+15555550931"

expect.set_options(timeout=15_000)


def sign_in(page: Page, dashboard_url: str, line: dict[str, Any], username: str) -> None:
    kit_sign_in(page, dashboard_url, username, demo_user(line, username)["password"])


def live(page: Page) -> None:
    expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible()


def test_a_deactivated_volunteers_open_dashboard_is_cleared_and_says_why(
    line: dict[str, Any], dashboard_url: str, open_page: Callable[..., Page], steps: Steps
) -> None:
    # given volunteer.en in a conversation, its transcript on screen, the live channel up, nobody else available
    for other in ("volunteer.es", "supervisor"):
        assert Api(line, other).call("PUT", "/volunteer/me/availability", {"status": "offline"}).ok
    page = open_page("volunteer")
    sign_in(page, dashboard_url, line, "volunteer.en")
    set_availability(page, "Available")
    live(page)
    text_line(line, TEXTER, "hi, I need to talk about my week")
    text_line(line, TEXTER, "no")
    offer_alert(page).get_by_role("button", name="Accept", exact=True).click()
    expect(transcript(page)).to_contain_text("I need to talk about my week")

    # when the operator deactivates them
    assert main(["volunteers", "deactivate", "volunteer.en", "--state-dir", line["state_dir"]]) == 0

    # then the page is back at sign-in and says why, and nothing of the conversation is left on it
    expect(page.get_by_text("no longer an active volunteer")).to_be_visible()
    expect(page.get_by_label("Username or e-mail", exact=True)).to_be_visible()
    expect(transcript(page)).to_have_count(0)
    assert "my week" not in page.content()
    steps(page, "signed out after deactivation")


def test_a_demoted_supervisors_open_dashboard_drops_the_supervisors_view(
    line: dict[str, Any], dashboard_url: str, open_page: Callable[..., Page], steps: Steps
) -> None:
    # given the supervisor's dashboard, showing the line
    page = open_page("supervisor")
    sign_in(page, dashboard_url, line, "supervisor")
    line_tab = page.get_by_role("tab", name="Line", exact=True)
    expect(line_tab).to_be_visible()
    live(page)

    # when the operator demotes them to volunteer
    assert (
        main(["volunteers", "set-roles", "supervisor", "--roles", "volunteer", "--state-dir", line["state_dir"]]) == 0
    )

    # then the dashboard says so and no longer offers the supervisors' view, and stays signed in
    expect(page.get_by_text("Your role on the line has changed")).to_be_visible()
    expect(line_tab).to_be_hidden()
    expect(page.get_by_role("button", name="Sign out", exact=True)).to_be_visible()
    live(page)
    steps(page, "demoted supervisor's dashboard")
