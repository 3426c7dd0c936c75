"""What a newcomer needs on a real shift, in real Chromium against the local line: offers worth choosing from, the
line's own texts marked, a transfer picker, reply limits said before sending, closures that say who and why (and
keep the unsent draft), one live escalation state, the crisis-offers setting, a supervisor's own Line and Library
tabs, and a phone-sized page (a fixed offer bar, a compact header, 44×44 px touch targets).

Controls are found by role and accessible name, as a screen reader user finds them. The volunteer API is the
oracle. Every step leaves a screenshot in ``test-artifacts/browser/<test>/`` and is checked for texter numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from dashboard_kit import (
    DEMO_USERS,
    Api,
    Audit,
    Steps,
    demo_user,
    eventually,
    offer_alert,
    set_availability,
    text_line,
    texts_to,
    transcript,
)
from dashboard_kit import sign_in as kit_sign_in
from playwright.sync_api import Locator, Page, expect
from twilio.rest import Client

pytestmark = pytest.mark.e2e

OFFER_TEXTER = "+15555550901"
AUTOMATIC_TEXTER = "+15555550902"
TRANSFER_TEXTER = "+15555550903"
EARLIER_REPLY = "I hear you, work sounds heavy right now."
REPLY_TEXTER = "+15555550904"
STOP_TEXTER = "+15555550905"
TWO_TABS_TEXTER = "+15555550906"
CRISIS_TEXTER = "+15555550907"
QUEUE_TEXTER = "+15555550908"
READ_TEXTER = "+15555550909"
ACK_TEXTER = "+15555550910"
PHONE_TEXTER = "+15555550911"
PHONE_OFFER_TEXTER = "+15555550912"
PHONE_SCROLL_TEXTER = "+15555550913"
REQUEUE_TEXTER = "+15555550914"
PHONE_QUEUE_TEXTER = "+15555550915"
TEXTERS = [OFFER_TEXTER, AUTOMATIC_TEXTER, TRANSFER_TEXTER, REPLY_TEXTER, STOP_TEXTER, TWO_TABS_TEXTER,
           CRISIS_TEXTER, QUEUE_TEXTER, READ_TEXTER, ACK_TEXTER, PHONE_TEXTER, PHONE_OFFER_TEXTER, PHONE_SCROLL_TEXTER,
           REQUEUE_TEXTER, PHONE_QUEUE_TEXTER]  # fmt: skip
PHONE = {"width": 390, "height": 844}
TOUCH = 44  # px: the smallest comfortable touch target

expect.set_options(timeout=10_000)


@pytest.fixture(autouse=True)
def _watch_numbers(audit: Audit) -> None:
    audit.numbers.update(TEXTERS)


USED: set[str] = set()


def says(line: dict[str, Any], number: str, body: str) -> None:
    USED.add(number)
    text_line(line, number, body)


def set_status(apis: dict[str, Api], username: str, status: str) -> None:
    assert apis[username].call("PUT", "/volunteer/me/availability", {"status": status}).status_code == 200


def quiet_line(line: dict[str, Any], apis: dict[str, Api]) -> None:
    """Nobody available and nothing open: every texter used so far texts STOP."""
    for username in DEMO_USERS:
        set_status(apis, username, "offline")
    for number in sorted(USED):
        text_line(line, number, "STOP")
    USED.clear()
    assert eventually(lambda: not apis["supervisor"].conversations(), 15), "conversations are still open"


def consented(line: dict[str, Any], twilio: Client, number: str, first: str, answer: str = "YES") -> None:
    """The texter texts ``first`` and answers the consent question (YES, or NO: support goes on either way)."""
    says(line, number, first)
    assert eventually(lambda: any("YES" in body for body in texts_to(twilio, number))), "no consent question"
    says(line, number, answer)


def sign_in(page: Page, dashboard_url: str, line: dict[str, Any], username: str) -> None:
    """Sign in as one of the local line's demo users."""
    kit_sign_in(page, dashboard_url, username, demo_user(line, username)["password"])


def held_by_volunteer_en(
    line: dict[str, Any], twilio: Client, apis: dict[str, Api], number: str, first: str
) -> dict[str, Any]:
    """A quiet line, then a texter whose conversation volunteer.en accepted through the API (no page open)."""
    quiet_line(line, apis)
    set_status(apis, "volunteer.en", "available")
    consented(line, twilio, number, first)
    conversation = offered_to(apis["volunteer.en"])
    assert apis["volunteer.en"].call("POST", f"/volunteer/conversations/{conversation['id']}/accept").ok
    return conversation


def offered_to(api: Api, predicate: Callable[[dict[str, Any]], bool] = lambda c: True) -> dict[str, Any]:
    offers = eventually(lambda: [c for c in api.conversations() if c["status"] == "offered" and predicate(c)], 15)
    assert offers, "the line never offered the conversation (API)"
    return dict(offers[0])


def accepted(page: Page, api: Api, predicate: Callable[[dict[str, Any]], bool] = lambda c: True) -> dict[str, Any]:
    """The volunteer on ``page`` accepts the offer the API shows them; their tab is open."""
    conversation = offered_to(api, predicate)
    offer_alert(page).get_by_role("button", name="Accept", exact=True).click()
    tab = page.get_by_role("tab", name=conversation["texter_alias"])
    expect(tab).to_have_attribute("aria-selected", "true")
    return conversation


def in_a_conversation(
    line: dict[str, Any],
    dashboard_url: str,
    twilio: Client,
    apis: dict[str, Api],
    open_page: Callable[..., Page],
    number: str,
    first: str,
    *,
    who: str = "volunteer",
    viewport: dict[str, int] | None = None,
) -> tuple[Page, dict[str, Any]]:
    """A quiet line; volunteer.en signed in (on ``viewport``), Available, and in the conversation of a texter who
    texted ``first`` and answered the consent question."""
    quiet_line(line, apis)
    page = open_page(who, viewport=viewport)
    sign_in(page, dashboard_url, line, "volunteer.en")
    set_availability(page, "Available")
    consented(line, twilio, number, first)
    return page, accepted(page, apis["volunteer.en"])


def reply_box(page: Page) -> Locator:
    return page.get_by_role("textbox", name="Reply", exact=True)


# --------------------------------------------------------------------------------------------------------- volunteer


def test_an_offer_shows_how_long_the_texter_waited_their_risk_in_words_and_their_first_words(
    line: dict[str, Any], dashboard_url: str, twilio: Client, apis: dict[str, Api],
    open_page: Callable[..., Page], steps: Steps,
) -> None:  # fmt: skip
    # given a volunteer who is available
    quiet_line(line, apis)
    page = open_page("volunteer")
    sign_in(page, dashboard_url, line, "volunteer.en")
    set_availability(page, "Available")

    # when a texter's conversation is offered to them
    consented(line, twilio, OFFER_TEXTER, "my sister moved away and the flat is so quiet now")
    conversation = offered_to(apis["volunteer.en"])

    # then the offer says how long they waited, the level as text, and the first words
    offer = offer_alert(page)
    expect(offer).to_contain_text(conversation["texter_alias"])
    expect(offer).to_contain_text(re.compile(r"Waiting \d+ (s|min)"))
    expect(offer).to_contain_text(re.compile(r"No risk flagged|Risk: (concern|high|imminent)"))
    expect(offer).to_contain_text("my sister moved away")
    steps(page, "offer with wait risk and preview")


def test_the_lines_own_texts_are_in_the_transcript_marked_automatic(
    line: dict[str, Any], dashboard_url: str, twilio: Client, apis: dict[str, Api],
    open_page: Callable[..., Page], steps: Steps,
) -> None:  # fmt: skip
    # given a volunteer who accepts a texter
    page, conversation = in_a_conversation(
        line, dashboard_url, twilio, apis, open_page, AUTOMATIC_TEXTER, "hello, is this the text line?", who="volunteer"
    )

    # then the line's own texts (welcome, "you're now texting with…") are there, each marked automatic
    automatic = [m for m in apis["volunteer.en"].transcript(conversation["id"]) if m["direction"] == "automatic"]
    assert automatic, "the API lists none of the line's own texts (listMessages, direction 'automatic')"
    marked = transcript(page).locator('[data-direction="automatic"]')
    expect(marked).to_have_count(len(automatic))
    expect(marked.first).to_contain_text("Automatic · ")  # the label, then what the text is (purpose)
    expect(transcript(page).locator('[data-direction="inbound"]')).to_contain_text("is this the text line?")
    expect(transcript(page).locator('[data-direction="inbound"]')).not_to_contain_text("Automatic")
    steps(page, "automatic texts marked")


def test_transfer_offers_a_picker_of_volunteers_who_could_take_it(
    line: dict[str, Any], dashboard_url: str, twilio: Client, apis: dict[str, Api],
    open_page: Callable[..., Page], steps: Steps,
) -> None:  # fmt: skip
    # given volunteer.en holds a conversation and volunteer.es is available
    page, conversation = in_a_conversation(
        line,
        dashboard_url,
        twilio,
        apis,
        open_page,
        TRANSFER_TEXTER,
        "can i talk to someone about work",
        who="volunteer",
    )
    apis["volunteer.en"].call(
        "POST", f"/volunteer/conversations/{conversation['id']}/messages", {"body": EARLIER_REPLY}
    )
    set_status(apis, "volunteer.es", "available")
    colleague = demo_user(line, "volunteer.es")["display_name"]

    # when they open Transfer
    page.get_by_role("button", name="Transfer", exact=True).click()
    form = page.get_by_role("form", name="Transfer this conversation")

    # then the queue and the colleague are choices by name — no id to type
    expect(form.get_by_role("radio", name=re.compile("back to the queue", re.IGNORECASE))).to_be_checked()
    person = form.get_by_role("radio", name=re.compile(re.escape(colleague)))
    expect(person).to_be_visible()
    expect(form.get_by_role("textbox")).to_have_count(0)
    steps(page, "transfer picker")

    # and handing over offers it to that colleague
    person.check()
    form.get_by_role("button", name="Hand over", exact=True).click()
    expect(page.get_by_role("tab", name=conversation["texter_alias"])).to_have_count(0)
    offered_to(apis["volunteer.es"], lambda c: c["id"] == conversation["id"])
    steps(page, "transferred to a colleague")

    # and the colleague who accepts it reads volunteer.en's reply as another volunteer's, not as their own
    colleague_page = open_page("colleague")
    sign_in(colleague_page, dashboard_url, line, "volunteer.es")
    accepted(colleague_page, apis["volunteer.es"], lambda c: c["id"] == conversation["id"])
    earlier_reply = transcript(colleague_page).locator('[data-direction="outbound"]').filter(has_text=EARLIER_REPLY)
    expect(earlier_reply).to_contain_text("Another volunteer")
    expect(earlier_reply).not_to_contain_text("You ·")
    steps(colleague_page, "a colleague's reply after a transfer")


def test_a_reply_too_long_or_empty_is_refused_before_sending_saying_why(
    line: dict[str, Any], dashboard_url: str, twilio: Client, apis: dict[str, Api],
    open_page: Callable[..., Page], steps: Steps,
) -> None:  # fmt: skip
    # given an active conversation
    page, conversation = in_a_conversation(
        line, dashboard_url, twilio, apis, open_page, REPLY_TEXTER, "hey there", who="volunteer"
    )
    sent_before = len(apis["volunteer.en"].transcript(conversation["id"]))
    box = reply_box(page)

    # when a reply grows past 1,600 characters, the counter turns into a warning while typing
    box.fill("a" * 1600)
    expect(page.get_by_text(re.compile("Too long"))).to_have_count(0)
    box.press_sequentially("bc")
    expect(page.get_by_text(re.compile(r"Too long: 1,602 of at most 1,600 characters"))).to_be_visible()
    expect(box).to_have_attribute("aria-invalid", "true")

    # and Send refuses it, saying why
    page.get_by_role("button", name="Send", exact=True).click()
    refusal = page.get_by_role("alert").filter(has_text="Not sent: the reply is 1,602 characters")
    expect(refusal).to_be_visible()
    steps(page, "too long refused")
    assert len(apis["volunteer.en"].transcript(conversation["id"])) == sent_before, "a too-long reply was sent"

    # and the error goes once the reply is short enough
    box.press("Backspace")
    box.press("Backspace")
    expect(refusal).to_have_count(0)

    # an empty reply says why nothing was sent; typing clears it
    box.fill("")
    page.get_by_role("button", name="Send", exact=True).click()
    empty = page.get_by_role("alert").filter(has_text="Nothing was sent: the reply is empty")
    expect(empty).to_be_visible()
    steps(page, "empty refused")
    box.press_sequentially("ok")
    expect(empty).to_have_count(0)
    assert len(apis["volunteer.en"].transcript(conversation["id"])) == sent_before, "an empty reply was sent"


def test_a_conversation_closed_by_the_texter_says_who_and_why_and_keeps_the_unsent_draft(
    line: dict[str, Any], dashboard_url: str, twilio: Client, apis: dict[str, Api],
    open_page: Callable[..., Page], steps: Steps,
) -> None:  # fmt: skip
    # given a volunteer typing a reply
    quiet_line(line, apis)
    page = open_page("volunteer")
    sign_in(page, dashboard_url, line, "volunteer.en")
    set_availability(page, "Available")
    # (who said NO to keeping anything: the notice must still say which texter and why)
    consented(line, twilio, STOP_TEXTER, "i'm not sure about this", answer="NO")
    conversation = accepted(page, apis["volunteer.en"])
    alias = conversation["texter_alias"]
    reply_box(page).fill("That's okay, take your time")

    # when the texter texts STOP
    text_line(line, STOP_TEXTER, "STOP")
    USED.discard(STOP_TEXTER)

    # then the tab goes, and a notice names the texter, says why, and keeps the draft (not sent)
    expect(page.get_by_role("tab", name=alias)).to_have_count(0, timeout=15_000)
    notice = page.locator(".closed-notice").filter(has_text=alias)
    expect(notice).to_have_count(1)
    expect(notice).to_contain_text("STOP")
    expect(notice).to_contain_text("not sent")
    expect(notice.get_by_role("textbox", name=f"Unsent reply to {alias}")).to_have_value("That's okay, take your time")
    expect(notice.get_by_role("button", name=f"Copy unsent reply to {alias}")).to_be_visible()
    steps(page, "closed by the texter")
    assert not any("That's okay" in body for body in texts_to(twilio, STOP_TEXTER)), "the draft was sent"

    # and the notice stays until dismissed
    notice.get_by_role("button", name=f"Dismiss notice about {alias}").click()
    expect(notice).to_have_count(0)


def test_a_close_in_another_tab_is_one_notice_with_the_alias_and_the_reason(
    line: dict[str, Any], dashboard_url: str, twilio: Client, apis: dict[str, Api],
    open_page: Callable[..., Page], steps: Steps,
) -> None:  # fmt: skip
    # given the same volunteer in two windows, with one conversation
    quiet_line(line, apis)
    first = open_page("first-window")
    sign_in(first, dashboard_url, line, "volunteer.en")
    set_availability(first, "Available")
    expect(first.get_by_text(re.compile("Waiting for an offer"))).to_be_visible()
    expect(first.get_by_text(re.compile("No conversations yet"))).to_have_count(0)
    second = open_page("second-window")
    sign_in(second, dashboard_url, line, "volunteer.en")
    consented(line, twilio, TWO_TABS_TEXTER, "hi, bad day")
    conversation = accepted(first, apis["volunteer.en"])
    alias = conversation["texter_alias"]
    tab = second.get_by_role("tab", name=alias)
    expect(tab).to_be_visible(timeout=15_000)

    # then an active tab tells the time since the texter's last text, never "waiting 0 s"
    expect(first.get_by_role("tab", name=alias)).to_contain_text(re.compile(r"last text \d+ (s|min) ago"))
    expect(first.get_by_role("tab", name=alias)).not_to_contain_text("waiting 0 s")
    reply_box(second).fill("are you still")

    # when the first window closes it
    first.get_by_role("button", name="Close conversation", exact=True).click()
    values = [v for v in first.get_by_label("Outcome", exact=True).locator("option").evaluate_all(
        "os => os.map(o => o.value)") if v]  # fmt: skip
    first.get_by_label("Outcome", exact=True).select_option(values[0])
    first.get_by_role("button", name="Close and wrap up", exact=True).click()
    USED.discard(TWO_TABS_TEXTER)

    # then the first window says it once; the second says who, why, and keeps its draft — once
    expect(first.get_by_role("tab", name=alias)).to_have_count(0)
    expect(first.get_by_text(re.compile(f"Conversation with {re.escape(alias)}"))).to_have_count(1)
    expect(tab).to_have_count(0, timeout=15_000)
    notice = second.locator(".closed-notice").filter(has_text=alias)
    expect(notice).to_have_count(1)
    expect(notice).to_contain_text("wrap-up")
    expect(notice.get_by_role("textbox", name=f"Unsent reply to {alias}")).to_have_value("are you still")
    for page in (first, second):
        # "Conversation with Texter is closed." — the generic alias instead of this texter's
        expect(
            page.get_by_text(re.compile(rf"Conversation with Texter(?! {re.escape(alias.split()[-1])})"))
        ).to_have_count(0)
    assert second.get_by_text(re.compile(f"Conversation with {re.escape(alias)}")).count() == 1
    steps(first, "closed here")
    steps(second, "closed in the other window")


def test_the_escalation_state_is_one_live_state_in_the_banner_and_escalate_says_what_happened(
    line: dict[str, Any], dashboard_url: str, twilio: Client, apis: dict[str, Api],
    open_page: Callable[..., Page], steps: Steps,
) -> None:  # fmt: skip
    # given a texter in crisis (the line escalates and pages on-call) accepted by a volunteer
    quiet_line(line, apis)
    page = open_page("volunteer")
    sign_in(page, dashboard_url, line, "volunteer.en")
    set_availability(page, "Available")
    known = {e["id"] for e in apis["supervisor"].escalations()}
    says(line, CRISIS_TEXTER, "i just took 30 pills and i want to die")
    fresh = eventually(lambda: [e for e in apis["supervisor"].escalations() if e["id"] not in known], 15)
    assert fresh, "no escalation was opened (API)"
    escalation = fresh[0]
    # (declined once first: nobody else is free, so the imminent texter comes straight back, and the offer says why)
    offered_to(apis["volunteer.en"])
    offer_alert(page).get_by_role("button", name="Decline", exact=True).click()
    again = page.get_by_role("alert").filter(has_text="Offered to you again")
    expect(again).to_contain_text("nobody else can take them right now and they are at risk")
    steps(page, "offered again")
    again.get_by_role("button", name="Accept", exact=True).click()
    expect(page.get_by_role("tab", name=escalation["texter_alias"])).to_have_attribute("aria-selected", "true")
    banner = page.get_by_role("alert").filter(has=page.get_by_role("button", name="Escalate"))

    # then the banner says it is open and when on-call was paged
    expect(banner).to_contain_text(re.compile(r"Escalation open: on-call paged at \d\d:\d\d \(page \d+\)"))
    steps(page, "escalation open")

    # when the volunteer presses Escalate again, it says what the line did (already open), not "paged"
    banner.get_by_role("button", name="Escalate", exact=True).click()
    expect(banner.locator("[data-escalate-result]")).to_contain_text(re.compile("already", re.IGNORECASE))
    expect(banner).not_to_contain_text("on-call has been paged")

    # when a supervisor acknowledges, the banner says so live, and after a reload
    supervisor_name = demo_user(line, "supervisor")["display_name"]
    response = apis["supervisor"].call("POST", f"/volunteer/escalations/{escalation['id']}/acknowledge")
    assert response.status_code == 200, response.text
    acknowledged = re.compile(rf"Acknowledged by {re.escape(supervisor_name)}\b.* at \d\d:\d\d")
    expect(banner).to_contain_text(acknowledged)
    # and the answer to the earlier press ("paged again until someone acknowledges") no longer stands beside it
    expect(banner).not_to_contain_text("until someone acknowledges")
    steps(page, "acknowledged live")
    page.reload()
    expect(page.get_by_role("alert").filter(has=page.get_by_role("button", name="Escalate"))).to_contain_text(
        acknowledged)  # fmt: skip


def test_the_offers_during_crisis_setting_is_off_by_default_and_saved(
    line: dict[str, Any], dashboard_url: str, apis: dict[str, Api], open_page: Callable[..., Page], steps: Steps,
) -> None:  # fmt: skip
    api = apis["volunteer.es"]
    assert api.call("PUT", "/volunteer/me/settings", {"offers_during_crisis": False}).status_code == 200
    page = open_page("volunteer")
    sign_in(page, dashboard_url, line, "volunteer.es")
    setting = page.get_by_role("checkbox", name="Offer me new conversations while I hold a crisis conversation")
    expect(setting).not_to_be_checked()

    # when they switch it on, the line keeps it
    setting.click()
    expect(setting).to_be_checked()
    assert eventually(lambda: api.get("/volunteer/me")["offers_during_crisis"] is True), "not saved (API)"
    page.reload()
    expect(setting).to_be_checked()
    steps(page, "setting on")
    setting.click()
    assert eventually(lambda: api.get("/volunteer/me")["offers_during_crisis"] is False), "not switched off (API)"


# --------------------------------------------------------------------------------------------------------- supervisor


def test_a_supervisor_has_line_and_library_tabs_line_first(
    line: dict[str, Any], dashboard_url: str, open_page: Callable[..., Page], steps: Steps,
) -> None:  # fmt: skip
    page = open_page("supervisor")
    sign_in(page, dashboard_url, line, "supervisor")
    views = page.get_by_role("tablist", name="Supervisor views")
    line_tab = views.get_by_role("tab", name="Line", exact=True)
    library_tab = views.get_by_role("tab", name="Library", exact=True)
    expect(line_tab).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("heading", name="The line at a glance")).to_be_visible()
    expect(page.get_by_role("heading", name="Manage library")).to_be_hidden()
    steps(page, "line tab")

    library_tab.click()
    expect(library_tab).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("heading", name="Manage library")).to_be_visible()
    expect(page.get_by_role("heading", name="The line at a glance")).to_be_hidden()
    steps(page, "library tab")
    library_tab.press("ArrowLeft")
    expect(line_tab).to_be_focused()
    expect(page.get_by_role("heading", name="The line at a glance")).to_be_visible()


def test_a_supervisor_assigns_a_waiting_texter_to_themself(
    line: dict[str, Any], dashboard_url: str, twilio: Client, apis: dict[str, Api],
    open_page: Callable[..., Page], steps: Steps,
) -> None:  # fmt: skip
    # given a texter waiting while nobody is available
    quiet_line(line, apis)
    consented(line, twilio, QUEUE_TEXTER, "is anyone around tonight")
    waiting = eventually(lambda: [c for c in apis["supervisor"].conversations() if c["status"] == "waiting"])
    assert waiting, "the texter is not waiting (API)"
    alias = waiting[0]["texter_alias"]
    page = open_page("supervisor")
    sign_in(page, dashboard_url, line, "supervisor")

    # then the queue shows them with their first words and an Assign control
    queue = page.get_by_role("list", name="Queue")
    item = queue.get_by_role("listitem").filter(has_text=alias)
    expect(item).to_contain_text("is anyone around tonight")
    expect(page.locator('[data-stat="waiting"]')).to_have_text("1")
    steps(page, "queue")

    # while they are offline, "Take it myself" says what to do first instead of offering what the line refuses
    offline_take = item.get_by_role("option", name="Take it myself (set yourself Away or Available first)")
    expect(offline_take).to_be_disabled()
    steps(page, "take it myself needs a status")

    # when they take it themself while away (not offered it by the line, but able to take it)
    set_availability(page, "Away")
    item.get_by_label(f"Assign {alias} to").select_option(label="Take it myself")
    item.get_by_role("button", name="Assign", exact=True).click()
    expect(page.get_by_role("alert").filter(has_text="Not assigned")).to_have_count(0)

    # then it is theirs: a conversation tab, and the line lists it as active with them
    expect(page.get_by_role("tab", name=alias)).to_be_visible()
    assert eventually(lambda: any(c["texter_alias"] == alias and c["status"] == "active"
                                  for c in apis["supervisor"].conversations())), "not active (API)"  # fmt: skip
    expect(queue.get_by_role("listitem").filter(has_text=alias)).to_have_count(0)
    steps(page, "assigned to self")


def test_a_supervisor_moves_a_conversation_whose_volunteer_went_offline_back_to_the_queue(
    line: dict[str, Any], dashboard_url: str, twilio: Client, apis: dict[str, Api],
    open_page: Callable[..., Page], steps: Steps,
) -> None:  # fmt: skip
    # given volunteer.en took a conversation and then went offline (it is flagged for supervisors)
    conversation = held_by_volunteer_en(line, twilio, apis, REQUEUE_TEXTER, "hello, can someone talk")
    set_status(apis, "volunteer.en", "offline")
    alias = conversation["texter_alias"]
    page = open_page("supervisor")
    sign_in(page, dashboard_url, line, "supervisor")
    held = page.get_by_role("list", name="Open conversations").get_by_role("listitem").filter(has_text=alias)
    expect(held).to_contain_text("needs supervisor")
    steps(page, "flagged")

    # when the supervisor moves it back to the queue
    held.get_by_role("button", name=f"Move {alias} back to the queue").click()

    # then it waits in the queue, where they can assign it (nobody is available to be offered it)
    queued = page.get_by_role("list", name="Queue").get_by_role("listitem").filter(has_text=alias)
    expect(queued).to_be_visible()
    expect(queued.get_by_label(f"Assign {alias} to")).to_be_visible()
    steps(page, "back in the queue")


def test_a_supervisor_sees_every_open_conversation_who_holds_it_and_reads_it(
    line: dict[str, Any], dashboard_url: str, twilio: Client, apis: dict[str, Api],
    open_page: Callable[..., Page], steps: Steps,
) -> None:  # fmt: skip
    # given volunteer.en holds a conversation whose texter's high-risk text is unanswered
    conversation = held_by_volunteer_en(line, twilio, apis, READ_TEXTER, "work has been awful")
    set_status(apis, "volunteer.en", "away")
    says(line, READ_TEXTER, "i have been thinking about killing myself")
    assert eventually(lambda: any(c["id"] == conversation["id"] and c["risk_level"] in ("high", "imminent")
                                  for c in apis["supervisor"].conversations()), 15), "not triaged high"  # fmt: skip
    alias = conversation["texter_alias"]
    holder = demo_user(line, "volunteer.en")["display_name"]

    page = open_page("supervisor")
    sign_in(page, dashboard_url, line, "supervisor")
    item = page.get_by_role("list", name="Open conversations").get_by_role("listitem").filter(has_text=alias)
    expect(item).to_contain_text(f"with {holder}")
    expect(item).to_contain_text(re.compile(r"texter's last text \d+ (s|min) ago"))
    expect(item).to_contain_text("Unanswered")
    steps(page, "open conversations")

    # when they open it: the transcript, read only
    item.get_by_role("button", name=f"Read {alias}").click()
    log = page.get_by_role("log", name=f"Conversation with {alias}, read only")
    expect(log).to_contain_text("thinking about killing myself")
    expect(page.get_by_role("textbox", name="Reply", exact=True)).to_have_count(0)
    steps(page, "reading a transcript")


def test_acknowledged_escalations_stay_listed_and_a_late_acknowledge_says_who_was_first(
    line: dict[str, Any], dashboard_url: str, apis: dict[str, Api], open_page: Callable[..., Page], steps: Steps,
) -> None:  # fmt: skip
    # given an open escalation on the supervisor's screen
    quiet_line(line, apis)
    supervisor = apis["supervisor"]
    known = {e["id"] for e in supervisor.escalations()}
    says(line, ACK_TEXTER, "i am going to jump off the bridge tonight")
    fresh = eventually(lambda: [e for e in supervisor.escalations() if e["id"] not in known], 15)
    assert fresh, "no escalation was opened (API)"
    escalation = fresh[0]
    page = open_page("supervisor")
    sign_in(page, dashboard_url, line, "supervisor")
    item = page.get_by_role("list", name="Escalations").get_by_role("listitem").filter(
        has_text=escalation["texter_alias"])  # fmt: skip
    expect(item.get_by_role("button", name="Acknowledge", exact=True)).to_be_visible(timeout=15_000)

    # when someone else acknowledges first while this screen still shows it open (its refreshes held)
    held: dict[str, Any] = {}

    def stale(route: Any) -> None:
        if "body" not in held:
            held["body"] = route.fetch().text()
        route.fulfill(status=200, content_type="application/json", body=held["body"])

    page.route(re.compile(r".*/volunteer/line$"), stale)
    assert supervisor.call("POST", f"/volunteer/escalations/{escalation['id']}/acknowledge").status_code == 200
    item.get_by_role("button", name="Acknowledge", exact=True).click()

    # then the page shows the line's message that it was already acknowledged
    expect(page.get_by_role("status").filter(has_text=re.compile("already", re.IGNORECASE))).to_be_visible()
    steps(page, "already acknowledged")
    # Let a refresh still being held finish first: unrouting under it fails it ("Route is already handled"), which
    # a busy machine made happen.
    page.unroute_all(behavior="wait")

    # and the acknowledged escalation stays listed, with by whom and when, and Reveal number
    supervisor_name = demo_user(line, "supervisor")["display_name"]
    expect(item).to_contain_text(re.compile(rf"Acknowledged by {re.escape(supervisor_name)}\b.* at \d\d:\d\d"),
                                 timeout=15_000)  # fmt: skip
    expect(item.get_by_role("button", name="Acknowledge", exact=True)).to_have_count(0)
    expect(item.get_by_role("button", name="Reveal number", exact=True)).to_be_visible()
    steps(page, "acknowledged listed")


# --------------------------------------------------------------------------------------------------------- phone


def small_targets(page: Page) -> list[str]:
    """Visible buttons, tabs, selects, and labels around radio buttons and checkboxes under 44×44 px."""
    found: list[str] = page.evaluate(
        """(min) => {
          const out = [];
          const targets = document.querySelectorAll(
            'button, [role="tab"], select, label:has(> input[type="radio"]), label:has(> input[type="checkbox"])');
          for (const e of targets) {
            const r = e.getBoundingClientRect();
            if (!r.width || !r.height || e.closest('[hidden]') || getComputedStyle(e).visibility === 'hidden') continue;
            if (e.closest('.sr-only')) continue;
            if (r.width < min - 0.5 || r.height < min - 0.5) {
              out.push(`${e.tagName.toLowerCase()} "${(e.innerText || e.getAttribute('aria-label') || '').trim()
                .slice(0, 40)}" is ${Math.round(r.width)}×${Math.round(r.height)} px`);
            }
          }
          return out;
        }""",
        TOUCH,
    )
    return found


def test_on_a_phone_the_header_is_compact_and_every_control_is_a_44px_target(
    line: dict[str, Any], dashboard_url: str, twilio: Client, apis: dict[str, Api],
    open_page: Callable[..., Page], steps: Steps,
) -> None:  # fmt: skip
    page, _ = in_a_conversation(
        line,
        dashboard_url,
        twilio,
        apis,
        open_page,
        PHONE_TEXTER,
        "hi, texting from the bus",
        who="phone",
        viewport=PHONE,
    )
    steps(page, "phone with a conversation")

    header = page.get_by_role("banner").bounding_box()
    assert header is not None
    assert header["height"] < PHONE["height"] * 0.15, f"the header takes {header['height']:.0f} of 844 px"
    problems = small_targets(page)
    assert not problems, "touch targets under 44×44 px:\n" + "\n".join(problems)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px"


def test_on_a_phone_a_supervisor_sees_the_line_first_and_can_assign_from_it(
    line: dict[str, Any], dashboard_url: str, twilio: Client, apis: dict[str, Api],
    open_page: Callable[..., Page], steps: Steps,
) -> None:  # fmt: skip
    # given a texter waiting, and a supervisor on a phone (the line used to sit 3,400 px down, below the library)
    quiet_line(line, apis)
    consented(line, twilio, PHONE_QUEUE_TEXTER, "is this the right number")
    waiting = eventually(lambda: [c for c in apis["supervisor"].conversations() if c["status"] == "waiting"])
    assert waiting, "the texter is not waiting (API)"
    alias = waiting[0]["texter_alias"]
    page = open_page("supervisor-phone", viewport=PHONE)
    sign_in(page, dashboard_url, line, "supervisor")

    # then the line is on the first screen, the library is behind its own tab, and the queue item can be assigned
    heading = page.get_by_role("heading", name="The line at a glance")
    expect(heading).to_be_visible()
    box = heading.bounding_box()
    assert box is not None and box["y"] < PHONE["height"], f"the line starts {box and box['y']:.0f} px down"
    expect(page.get_by_role("tab", name="Library")).to_have_attribute("aria-selected", "false")
    queued = page.get_by_role("list", name="Queue").get_by_role("listitem").filter(has_text=alias)
    expect(queued.get_by_role("button", name="Assign", exact=True)).to_be_visible()
    steps(page, "supervisor on a phone")
    problems = small_targets(page)
    assert not problems, "touch targets under 44×44 px:\n" + "\n".join(problems)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px"


def test_on_a_phone_a_new_offer_stays_in_view_and_marks_the_title_and_favicon(
    line: dict[str, Any], dashboard_url: str, twilio: Client, apis: dict[str, Api],
    open_page: Callable[..., Page], steps: Steps,
) -> None:  # fmt: skip
    # given a volunteer on a phone, in a conversation, scrolled to the bottom of the page
    page, first = in_a_conversation(
        line,
        dashboard_url,
        twilio,
        apis,
        open_page,
        PHONE_SCROLL_TEXTER,
        "hello from a phone",
        who="phone",
        viewport=PHONE,
    )
    icon_before = page.locator('link[rel="icon"]').get_attribute("href")
    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    assert page.evaluate("() => window.scrollY") > 200, "the page is too short to scroll on a phone"

    # when a second texter is offered
    consented(line, twilio, PHONE_OFFER_TEXTER, "hi, anyone there")
    second = offered_to(apis["volunteer.en"], lambda c: c["id"] != first["id"])
    offer = offer_alert(page)
    expect(offer).to_be_visible(timeout=15_000)

    # then the offer is inside the viewport where they are, with its buttons as 44 px targets
    box = offer.bounding_box()
    assert box is not None
    assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], f"the offer is out of view: {box}"
    accept = offer.get_by_role("button", name="Accept", exact=True).bounding_box()
    assert accept is not None and accept["y"] + accept["height"] <= PHONE["height"]
    assert accept["height"] >= TOUCH - 0.5 and accept["width"] >= TOUCH - 0.5, accept
    expect(page).to_have_title(re.compile(r"^\(1\) offer"))
    icon = page.locator('link[rel="icon"]')
    expect(icon).not_to_have_attribute("href", icon_before or "")
    steps(page, "offer in view while scrolled")

    # and once accepted, the title and favicon go back
    offer.get_by_role("button", name="Accept", exact=True).click()
    expect(page.get_by_role("tab", name=second["texter_alias"])).to_be_visible()
    expect(page).not_to_have_title(re.compile("offer"))
    expect(icon).to_have_attribute("href", icon_before or "")


def test_every_screen_of_this_module_is_labelled(audit: Audit) -> None:
    """Each screen above had its controls' accessible names read from Chromium's accessibility tree."""
    assert audit.screens, "no screen was checked"
    assert not audit.unlabelled, f"unlabelled controls:\n{audit.report(audit.unlabelled)}"
