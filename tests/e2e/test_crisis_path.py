"""End to end on the local line: a crisis text is triaged, the texter gets a safety text at once, the on-call
professional is paged in the fake Twilio and re-paged until they text ``ACK <code>``."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from line_kit import aws_client, eventually, running_line, sign_in, text_line, texts_to, twilio_client
from twilio.rest import Client

pytestmark = pytest.mark.e2e

REPAGE_SECONDS = 3


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with running_line(
        tmp_path_factory.mktemp("crisis-line"),
        "e2e-crisis",
        parameters={"ConsentTimeoutSeconds": "600", "StillWaitingSeconds": "600", "RepageSeconds": str(REPAGE_SECONDS)},
        # Inline retries with short backoff, so a page that Twilio fails with 500s goes out within seconds.
        function_environment={"SEND_ATTEMPTS": "4", "RETRY_BASE_DELAY_SECONDS": "0.1"},
    ) as info:
        yield info


@pytest.fixture(scope="module")
def twilio(line: dict[str, Any]) -> Client:
    return twilio_client(line)


def pages(twilio: Client, line: dict[str, Any]) -> list[str]:
    return [body for body in texts_to(twilio, line["on_call_number"]) if "RISK" in body]


def code_in(page: str) -> str:
    match = re.search(r"ACK ([A-Z0-9]+)", page)
    assert match, page
    return match.group(1)


class Volunteer:
    """A demo volunteer signed in through Cognito, calling the volunteer API as the dashboard does."""

    def __init__(self, line: dict[str, Any], username: str) -> None:
        self._api = line["api_url"]
        self._headers = {"Authorization": f"Bearer {sign_in(line, username)}"}

    def call(self, method: str, path: str, body: Any = None) -> requests.Response:
        return requests.request(method, f"{self._api}{path}", json=body, headers=self._headers, timeout=10)

    def me(self) -> dict[str, Any]:
        return dict(self.call("GET", "/volunteer/me").json())

    def transcript(self, conversation_id: str) -> list[dict[str, Any]]:
        return list(self.call("GET", f"/volunteer/conversations/{conversation_id}/messages").json()["messages"])

    def offered_conversation_with(self, first_text: str) -> str | None:
        """The id of the conversation offered to this volunteer whose transcript holds ``first_text``."""
        listing = self.call("GET", "/volunteer/conversations").json()["conversations"]
        for conversation in listing:
            if conversation["status"] == "offered" and any(
                message["body"] == first_text for message in self.transcript(conversation["id"])
            ):
                return str(conversation["id"])
        return None


# Runs first in this module: the volunteer then has no other offers, and closes what it takes.
@pytest.mark.parametrize("opening", [(), ("hi",)], ids=["crisis-first-text", "crisis-after-the-welcome"])
def test_a_texter_in_crisis_gets_only_the_safety_text_then_someone_joining(
    line: dict[str, Any], twilio: Client, opening: tuple[str, ...]
) -> None:
    # given an available volunteer
    volunteer = Volunteer(line, "volunteer.en")
    assert volunteer.call("PUT", "/volunteer/me/availability", {"status": "available"}).ok
    display_name = volunteer.call("GET", "/volunteer/me").json()["display_name"]
    number = "+1555555071" + str(len(opening))
    welcomed = []
    for body in opening:
        text_line(line, number, body)
        welcomed = eventually(lambda: texts_to(twilio, number), timeout=30.0)
        assert len(welcomed) == 1 and "YES or NO" in welcomed[0], welcomed

    # when the texter writes that they took pills, and the volunteer accepts the conversation offered
    crisis = "i took 20 tylenol an hour ago"
    text_line(line, number, crisis)
    conversation = eventually(lambda: volunteer.offered_conversation_with(crisis), timeout=30.0)
    assert conversation, "the crisis never reached the volunteer"
    assert volunteer.call("POST", f"/volunteer/conversations/{conversation}/accept").status_code == 200

    # then, after whatever welcome came before, the texter got exactly the safety text, then "someone is joining
    # you now" (texts to one number are sent in order, so nothing queued before the joining text can still come)
    received = eventually(lambda: [t for t in texts_to(twilio, number) if display_name in t], timeout=30.0)
    assert received, "no joining text"
    texts = texts_to(twilio, number)
    assert len(texts) == len(welcomed) + 2, texts
    safety, joining = texts[len(welcomed) :]
    assert "988" in safety and "glad you reached out" in safety
    assert joining.startswith(f"{display_name}, a trained peer volunteer, is joining you now")
    assert "What's on your mind" not in joining
    assert all("YES or NO" not in text for text in texts[len(welcomed) :])

    # and the volunteer's transcript shows the same texts, marked automatic, in order with the texter's
    transcript = [(m["direction"], m["purpose"], m["body"]) for m in volunteer.transcript(conversation)]
    assert transcript == [
        *[("inbound", None, body) for body in opening],
        *[("automatic", "welcome", body) for body in welcomed],
        ("inbound", None, crisis),
        ("automatic", "safety", safety),
        ("automatic", "joined", joining),
    ]

    # finally the volunteer closes, so the tests below start from an empty desk
    closed = volunteer.call("POST", f"/volunteer/conversations/{conversation}/close", {"outcome": "supported"})
    assert closed.status_code == 204, closed.text


def test_crisis_text_gets_a_safety_text_first_and_pages_on_call(
    line: dict[str, Any], twilio: Client
) -> None:
    # given a texter who writes that they have taken pills
    number = "+15555550701"
    text_line(line, number, "i just took 30 pills and i want to die")

    # then a warm safety text with emergency resources reaches them, before anything else (how fast is a benchmark's
    # question, `make bench-surge`: a timed assert here would fail whenever the machine is busy)
    first = eventually(lambda: texts_to(twilio, number), timeout=30.0)
    assert first, "no safety text"
    assert "988" in first[0] and "911" in first[0]
    assert "pill" not in first[0].lower()  # never repeats the method they named

    # and the on-call professional is paged with an alias, the level and a code — no number, no words
    page = eventually(lambda: [p for p in pages(twilio, line) if "IMMINENT" in p])
    assert page, "on-call was not paged"
    assert "ACK " in page[0] and "Texter " in page[0]
    assert number[2:] not in page[0] and "pills" not in page[0]


def new_pages(twilio: Client, line: dict[str, Any], known_codes: set[str]) -> list[str]:
    """Pages of escalations opened after ``known_codes`` were seen (earlier ones may still be re-paging)."""
    return [page for page in pages(twilio, line) if code_in(page) not in known_codes]


def test_an_unacknowledged_page_is_repeated_until_ack_stops_it(line: dict[str, Any], twilio: Client) -> None:
    # given a new escalation
    known = {code_in(page) for page in pages(twilio, line)}
    text_line(line, "+15555550702", "I have the rope ready and I'm doing it tonight")
    assert eventually(lambda: new_pages(twilio, line, known)), "on-call was not paged"

    # when nobody acknowledges, it is paged again after the re-page time
    assert eventually(lambda: len(new_pages(twilio, line, known)) >= 2, timeout=REPAGE_SECONDS + 8), "no re-page"
    code = code_in(new_pages(twilio, line, known)[0])

    # when the on-call professional texts ACK <code> from their phone
    text_line(line, line["on_call_number"], f"ack {code.lower()}")

    # then they get a confirmation, and the re-paging stops
    assert eventually(lambda: any("acknowledged" in body for body in texts_to(twilio, line["on_call_number"])))
    settled = len([p for p in pages(twilio, line) if code in p])
    time.sleep(REPAGE_SECONDS * 2 + 1)
    assert len([p for p in pages(twilio, line) if code in p]) == settled


def test_a_page_that_twilio_fails_with_500s_still_goes_out(line: dict[str, Any], twilio: Client) -> None:
    # given Twilio failing the next two texts to the on-call phone with 500s
    requests.post(
        f"{line['twilio_api_url']}/_fake/faults",
        json={
            "status": 500,
            "code": 20500,
            "message": "Internal Server Error",
            "count": 2,
            "to": line["on_call_number"],
        },
        timeout=5,
    )
    known = {code_in(page) for page in pages(twilio, line)}

    # when a texter in crisis texts
    text_line(line, "+15555550703", "im going to kill myself with my dads gun")

    # then the page still reaches the on-call phone (the sender retried inline), exactly once
    assert eventually(lambda: new_pages(twilio, line, known), timeout=10), "the page never went out"
    assert len(new_pages(twilio, line, known)) == 1


def test_the_volunteer_sees_the_conversation_marked_with_its_level(line: dict[str, Any], twilio: Client) -> None:
    # given a volunteer signed in and available
    token = sign_in(line, "volunteer.en")
    headers = {"Authorization": f"Bearer {token}"}
    api = line["api_url"]
    assert requests.put(f"{api}/volunteer/me/availability", json={"status": "available"}, headers=headers, timeout=5).ok

    # when a texter in crisis texts
    text_line(line, "+15555550704", "i want to end my life, i have my pills here")

    # then the conversation offered to the volunteer carries its level, categories and a prompt
    def marked() -> list[dict[str, Any]]:
        listing = requests.get(f"{api}/volunteer/conversations", headers=headers, timeout=5).json()
        return [c for c in listing["conversations"] if c["risk_level"] == "imminent"]

    offered = eventually(marked)
    assert offered, "no imminent conversation reached the volunteer"
    assert offered[0]["priority"] == "imminent"
    assert offered[0]["escalation_id"] and offered[0]["volunteer_prompt"]


def test_a_supervisor_reveals_the_number_through_the_reveal_function(line: dict[str, Any], twilio: Client) -> None:
    # given a texter in crisis, and their escalation on the supervisor's list
    number = "+15555550705"
    supervisor = Volunteer(line, "supervisor")
    before = {e["id"] for e in supervisor.call("GET", "/volunteer/escalations").json()["escalations"]}
    text_line(line, number, "i took all my pills, i want to die tonight")
    def new_escalations() -> list[dict[str, Any]]:
        listing = supervisor.call("GET", "/volunteer/escalations").json()["escalations"]
        return [escalation for escalation in listing if escalation["id"] not in before]

    escalations = eventually(new_escalations)
    assert escalations, "no escalation"
    path = f"/volunteer/escalations/{escalations[0]['id']}/reveal"

    # when the supervisor reveals the number, as the dashboard does (the local line routes it like API Gateway)
    revealed = supervisor.call("POST", path, {"reason": "911 dispatch asked for the number"})

    # then they get it, audited in the append-only log (by the supervisor's id, never by name, never the number);
    # a volunteer, or a caller without a token, does not
    assert (revealed.status_code, revealed.json()["number"]) == (200, number)
    audit = aws_client(line, "dynamodb").scan(TableName=line["resources"]["AuditTable"])["Items"]
    [entry] = [item for item in audit if item["subject"]["S"] == escalations[0]["id"]]
    assert entry["action"]["S"] == "reveal_number" and entry["actor_id"]["S"] == supervisor.me()["volunteer_id"]
    assert number[2:] not in str(entry)
    assert Volunteer(line, "volunteer.en").call("POST", path, {"reason": "911 dispatch asked"}).status_code == 403
    assert requests.post(f"{line['api_url']}{path}", json={"reason": "no token at all"}, timeout=10).status_code == 401
