"""End to end on the local line: an operator's deactivation or demotion takes effect everywhere at once — the
dashboard's socket is closed by the line, a still-valid token is refused where it matters, a deactivated volunteer's
offers and conversations move on to a colleague, and the change is in the audit log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from line_kit import aws_client, eventually, running_line, sign_in, text_line, texts_to, twilio_client
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from peerline.adapters.audit import DynamoAuditLog
from peerline_ops.cli import main

pytestmark = pytest.mark.e2e

FIRST_TEXTER = "+15555550821"
SECOND_TEXTER = "+15555550822"
THIRD_TEXTER = "+15555550823"


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("access-line")


@pytest.fixture(scope="module")
def line(state_dir: Path) -> Iterator[dict[str, Any]]:
    with running_line(
        state_dir,
        "e2e-access",
        parameters={"ConsentTimeoutSeconds": "600", "StillWaitingSeconds": "600", "OfferTimeoutSeconds": "600"},
    ) as info:
        yield info


class Dashboard:
    """A demo user's dashboard: the volunteer API with their token, and the live socket."""

    def __init__(self, line: dict[str, Any], username: str) -> None:
        self.line = line
        self.token = sign_in(line, username)
        self.frames: list[dict[str, Any]] = []

    def call(self, method: str, path: str, body: Any = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return requests.request(method, f"{self.line['api_url']}{path}", json=body, headers=headers, timeout=10)

    def status(self, status: str) -> None:
        assert self.call("PUT", "/volunteer/me/availability", {"status": status}).status_code == 200

    def connect(self) -> ClientConnection:
        return connect(f"{self.line['socket_url']}?token={self.token}", open_timeout=10)

    def next_event(self, socket: ClientConnection, kind: str) -> dict[str, Any]:
        """The next pushed event of ``kind``; every frame received on the way is kept in ``frames``."""
        while True:
            event = json.loads(socket.recv(timeout=10))
            self.frames.append(event)
            if event["type"] == kind:
                return dict(event)

    def closed_by_the_line(self, socket: ClientConnection) -> None:
        """Read until the line closes the socket (frames pushed before that are kept)."""
        with pytest.raises(ConnectionClosed):
            while True:
                self.frames.append(json.loads(socket.recv(timeout=10)))

    def conversations(self) -> dict[str, str]:
        response = self.call("GET", "/volunteer/conversations")
        assert response.status_code == 200, response.text
        return {summary["id"]: summary["status"] for summary in response.json()["conversations"]}


def _peerline(state_dir: Path, *arguments: str) -> int:
    return main(["volunteers", *arguments, "--state-dir", str(state_dir)])


def _volunteer_id(line: dict[str, Any], username: str) -> str:
    user = aws_client(line, "cognito-idp").admin_get_user(UserPoolId=line["user_pool_id"], Username=username)
    return next(attribute["Value"] for attribute in user["UserAttributes"] if attribute["Name"] == "sub")


def _audited(line: dict[str, Any], since: datetime) -> list[tuple[str, str]]:
    audit = DynamoAuditLog(
        line["resources"]["AuditTable"], retention_days=365, dynamodb_client=aws_client(line, "dynamodb")
    )
    return [(entry.action, entry.subject) for entry in audit.entries_by("operator", since=since)]


def test_a_deactivated_volunteer_is_disconnected_refused_and_their_texters_go_to_a_colleague(
    line: dict[str, Any], state_dir: Path
) -> None:
    started = datetime.now(UTC)
    alex, sofia = Dashboard(line, "volunteer.en"), Dashboard(line, "volunteer.es")
    Dashboard(line, "supervisor").status("offline")
    sofia.status("offline")
    twilio = twilio_client(line)
    with alex.connect() as socket:
        # given Alex, connected and available, in one conversation and with a second one offered to them
        alex.status("available")
        text_line(line, FIRST_TEXTER, "hi, I need to talk")
        text_line(line, FIRST_TEXTER, "no")
        first = alex.next_event(socket, "offer")["conversation"]["id"]
        assert alex.call("POST", f"/volunteer/conversations/{first}/accept").status_code == 200
        text_line(line, SECOND_TEXTER, "hello, anyone?")
        text_line(line, SECOND_TEXTER, "no")
        second = alex.next_event(socket, "offer")["conversation"]["id"]
        # and Sofía available, with room for two
        sofia.status("available")
        joined_alex = eventually(lambda: [t for t in texts_to(twilio, FIRST_TEXTER) if "Alex" in t])
        assert joined_alex
        texted_before = len(texts_to(twilio, FIRST_TEXTER))

        # when the operator deactivates Alex
        assert _peerline(state_dir, "deactivate", "volunteer.en") == 0

        # then the line closes Alex's dashboard socket
        alex.closed_by_the_line(socket)

    # and both texters are offered to Sofía, the one who was in a conversation first (it has waited longest)
    assert eventually(lambda: sofia.conversations() == {first: "offered", second: "offered"})
    # and Alex's still-valid token is refused by the API and by the socket
    assert alex.call("GET", "/volunteer/me").status_code == 403
    assert alex.call("GET", f"/volunteer/conversations/{first}/messages").status_code == 403
    with pytest.raises(InvalidStatus) as refused, alex.connect():
        pass
    assert refused.value.response.status_code == 401
    # and the texter is told nothing alarming: the next text they get is who continues with them
    assert sofia.call("POST", f"/volunteer/conversations/{first}/accept").status_code == 200
    new_texts = eventually(lambda: texts_to(twilio, FIRST_TEXTER)[texted_before:])
    assert new_texts[0].startswith("You're now texting with Sofía")
    # and the operator's action is audited by Alex's id
    assert ("deactivate_volunteer", _volunteer_id(line, "volunteer.en")) in _audited(line, started)

    # (both texters leave: nothing is left waiting for the other test)
    text_line(line, FIRST_TEXTER, "STOP")
    text_line(line, SECOND_TEXTER, "STOP")
    assert eventually(lambda: sofia.conversations() == {})
    sofia.status("offline")


def test_a_demoted_supervisor_is_reconnected_as_a_volunteer_and_loses_the_supervisors_view(
    line: dict[str, Any], state_dir: Path
) -> None:
    started = datetime.now(UTC)
    jordan = Dashboard(line, "supervisor")
    for other in ("volunteer.es",):
        Dashboard(line, other).status("offline")
    assert jordan.call("GET", "/volunteer/line").status_code == 200
    with jordan.connect() as socket:
        # when the operator demotes Jordan while their dashboard is connected
        assert _peerline(state_dir, "set-roles", "supervisor", "--roles", "volunteer") == 0

        # then the line closes the socket
        jordan.closed_by_the_line(socket)

    # and their token, which still says "supervisor" in cognito:groups, no longer opens the supervisors' view
    assert jordan.call("GET", "/volunteer/line").status_code == 403
    assert jordan.call("GET", "/volunteer/escalations").status_code == 403
    # and the change is audited
    assert ("change_role", _volunteer_id(line, "supervisor")) in _audited(line, started)

    # when they reconnect (not signed out: a demotion is not a dismissal) and a texter is offered to them
    jordan.frames.clear()
    with jordan.connect() as socket:
        jordan.status("available")
        assert jordan.conversations() == {}  # nothing was waiting: the texter below is the first they can hear of
        text_line(line, THIRD_TEXTER, "hi")
        text_line(line, THIRD_TEXTER, "no")
        offer = jordan.next_event(socket, "offer")

    # then the first they heard of it was their own offer: none of the supervisors' updates of the texter
    # waiting (which went out before the offer) reached them
    assert offer["conversation"]["status"] == "offered"
    assert all(frame.get("conversation", {}).get("status") == "offered" for frame in jordan.frames), jordan.frames

    # (the texter leaves: nothing is left waiting for the other test)
    text_line(line, THIRD_TEXTER, "STOP")
    assert eventually(lambda: jordan.conversations() == {})
    jordan.status("offline")
