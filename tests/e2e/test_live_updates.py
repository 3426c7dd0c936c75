"""End to end on the local line: the dashboard's WebSocket, as a browser uses it — refused without a volunteer's token,
a texter's text pushed on the volunteer's socket, and a reconnect that catches up by listing
again with no gap and no duplicate."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from line_kit import aws_client, eventually, running_line, sign_in, text_line
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

pytestmark = pytest.mark.e2e

TEXTER = "+15555550711"
IN_CRISIS = "+15555550712"


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with running_line(
        tmp_path_factory.mktemp("live-line"),
        "e2e-live",
        parameters={"ConsentTimeoutSeconds": "600", "StillWaitingSeconds": "600", "OfferTimeoutSeconds": "60"},
    ) as info:
        yield info


class Dashboard:
    """What the dashboard does with a token: the volunteer API over HTTP, live events over the WebSocket."""

    def __init__(self, line: dict[str, Any], username: str) -> None:
        self.line = line
        self.token = sign_in(line, username)
        self.frames: list[str] = []

    def call(self, method: str, path: str, body: Any = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return requests.request(method, f"{self.line['api_url']}{path}", json=body, headers=headers, timeout=10)

    def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        response = self.call("GET", f"/volunteer/conversations/{conversation_id}/messages")
        assert response.status_code == 200, response.text
        return list(response.json()["messages"])

    def connect(self) -> ClientConnection:
        return connect(f"{self.line['socket_url']}?token={self.token}", open_timeout=10)

    def next_event(self, socket: ClientConnection, kind: str, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        """The next pushed event of ``kind`` (whose fields include ``match``), skipping others."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                frame = socket.recv(timeout=left)
            except TimeoutError:
                break
            assert isinstance(frame, str), "events are text frames (the browser parses them as JSON)"
            self.frames.append(frame)
            event = json.loads(frame)
            if event["type"] == kind and all(event.get(key) == value for key, value in match.items()):
                return dict(event)
        raise AssertionError(f"no {kind} event within {timeout} s")


def test_local_json_and_the_dashboard_config_name_the_socket(line: dict[str, Any]) -> None:
    assert line["socket_url"].startswith("ws://127.0.0.1:")
    assert line["socket_callback_url"].startswith("http://127.0.0.1:")


@pytest.mark.parametrize("query", ["", "?token=", "?token=eyJhbGciOiJSUzI1NiJ9.e30.c2ln"])
def test_the_socket_refuses_an_upgrade_without_a_valid_token(line: dict[str, Any], query: str) -> None:
    with pytest.raises(InvalidStatus) as refused, connect(f"{line['socket_url']}{query}", open_timeout=10):
        pass
    assert refused.value.response.status_code == 401


def test_the_socket_refuses_a_cognito_user_who_is_not_a_volunteer(line: dict[str, Any]) -> None:
    # given someone with an account in the pool but no volunteer record
    cognito = aws_client(line, "cognito-idp")
    password = "Not-A-Volunteer-42"
    cognito.admin_create_user(UserPoolId=line["user_pool_id"], Username="stranger", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(
        UserPoolId=line["user_pool_id"], Username="stranger", Password=password, Permanent=True
    )
    token = cognito.initiate_auth(
        ClientId=line["user_pool_client_id"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "stranger", "PASSWORD": password},
    )["AuthenticationResult"]["AccessToken"]

    # then their dashboard can't open the live channel
    with pytest.raises(InvalidStatus) as refused, connect(f"{line['socket_url']}?token={token}", open_timeout=10):
        pass
    assert refused.value.response.status_code == 403


def test_texts_arrive_live_and_a_reconnect_catches_up_without_gaps_or_duplicates(line: dict[str, Any]) -> None:
    # given a volunteer whose dashboard is connected, available, and the only one who is
    volunteer = Dashboard(line, "volunteer.en")
    for other in ("volunteer.es", "supervisor"):
        assert Dashboard(line, other).call("PUT", "/volunteer/me/availability", {"status": "offline"}).ok
    with volunteer.connect() as socket:
        assert volunteer.call("PUT", "/volunteer/me/availability", {"status": "available"}).status_code == 200

        # when a texter texts and answers the consent question, the offer arrives on the socket; they accept
        text_line(line, TEXTER, "hi, is anyone there?")
        text_line(line, TEXTER, "yes")
        offer = volunteer.next_event(socket, "offer")
        conversation_id = offer["conversation"]["id"]
        assert offer["conversation"]["status"] == "offered"
        assert volunteer.call("POST", f"/volunteer/conversations/{conversation_id}/accept").status_code == 200
        # the line's "you're now texting with …" text reaches the transcript live too, marked automatic
        joined = volunteer.next_event(socket, "message", conversation_id=conversation_id)
        assert (joined["message"]["direction"], joined["message"]["purpose"]) == ("automatic", "joined")
        seen = {message["id"]: message for message in volunteer.messages(conversation_id)}

        # when the texter texts their active conversation
        text_line(line, TEXTER, "I had a really bad day")
        event = volunteer.next_event(socket, "message", conversation_id=conversation_id)

    # then the text was pushed on the volunteer's socket (how fast is for the benchmarks, not a test), shaped as
    # listMessages shapes it
    assert event["message"]["body"] == "I had a really bad day" and event["message"]["direction"] == "inbound"
    assert set(event["message"]) == {"id", "direction", "body", "at", "purpose", "volunteer_id"}
    seen[event["message"]["id"]] = event["message"]

    # when, with the dashboard's connection dropped, the texter texts twice
    text_line(line, TEXTER, "are you still there?")
    text_line(line, TEXTER, "hello?")
    assert eventually(lambda: len(volunteer.messages(conversation_id)) == len(seen) + 2)

    with volunteer.connect() as socket:
        # then, reconnected and listing again (what the dashboard does on every reconnect), nothing is missing
        # and nothing is there twice
        listed = volunteer.messages(conversation_id)
        ids = [message["id"] for message in listed]
        assert len(ids) == len(set(ids))
        assert set(seen) <= set(ids)
        assert [message["body"] for message in listed][-3:] == [
            "I had a really bad day",
            "are you still there?",
            "hello?",
        ]
        assert len({**seen, **{message["id"]: message for message in listed}}) == len(listed)

        # and the live channel works again: a reply and a new text both come through
        reply = volunteer.call("POST", f"/volunteer/conversations/{conversation_id}/messages", {"body": "I'm here."})
        assert reply.status_code == 200
        pushed = volunteer.next_event(socket, "message", conversation_id=conversation_id)
        assert pushed["message"] == reply.json()
        text_line(line, TEXTER, "thank you")
        again = volunteer.next_event(socket, "message", conversation_id=conversation_id)
        assert again["message"]["body"] == "thank you"

    # and no frame ever carried the texter's number
    assert not [frame for frame in volunteer.frames if TEXTER[2:] in frame]


def test_a_supervisor_hears_of_an_escalation_and_its_acknowledgement(line: dict[str, Any]) -> None:
    # given a supervisor's dashboard, connected
    supervisor = Dashboard(line, "supervisor")
    with supervisor.connect() as socket:
        # when a texter in crisis texts the line
        text_line(line, IN_CRISIS, "i took a whole bottle of pills an hour ago")

        # then the new escalation is pushed to the supervisor
        escalation = supervisor.next_event(socket, "escalation")["escalation"]
        assert escalation["level"] in ("high", "imminent") and escalation["status"] != "acknowledged"

        # when they acknowledge it, every supervisor's dashboard hears of that too
        acknowledged = supervisor.call("POST", f"/volunteer/escalations/{escalation['id']}/acknowledge")
        assert acknowledged.status_code == 200
        update = supervisor.next_event(socket, "escalation")
        assert update["escalation"]["id"] == escalation["id"] and update["escalation"]["status"] == "acknowledged"
    assert not [frame for frame in supervisor.frames if IN_CRISIS[2:] in frame]
