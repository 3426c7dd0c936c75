"""End to end on the local line: a texter reaches a volunteer signed in through Cognito, and they talk."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from line_kit import aws_client, eventually, running_line, sign_in, text_line, texts_to, twilio_client
from twilio.rest import Client

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with running_line(
        tmp_path_factory.mktemp("volunteer-line"),
        "e2e-volunteers",
        parameters={"ConsentTimeoutSeconds": "600", "StillWaitingSeconds": "600", "OfferTimeoutSeconds": "30"},
    ) as info:
        yield info


@pytest.fixture(scope="module")
def twilio(line: dict[str, Any]) -> Client:
    return twilio_client(line)


class Volunteer:
    def __init__(self, line: dict[str, Any], token: str) -> None:
        self._base = line["api_url"]
        self._headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, body: Any = None) -> requests.Response:
        return requests.request(method, f"{self._base}{path}", json=body, headers=self._headers, timeout=10)

    def conversations(self) -> list[dict[str, Any]]:
        response = self.call("GET", "/volunteer/conversations")
        assert response.status_code == 200, response.text
        return list(response.json()["conversations"])

    def transcript(self, conversation_id: str) -> list[dict[str, Any]]:
        response = self.call("GET", f"/volunteer/conversations/{conversation_id}/messages")
        assert response.status_code == 200, response.text
        return list(response.json()["messages"])


def test_local_json_has_the_user_pool_and_demo_users(line: dict[str, Any]) -> None:
    assert line["user_pool_id"] and line["user_pool_client_id"]
    roles = {user["role"] for user in line["demo_users"]}
    assert {"volunteer", "supervisor"} <= roles
    assert len([u for u in line["demo_users"] if u["role"] == "volunteer"]) >= 2


def test_the_api_refuses_requests_without_a_valid_token(line: dict[str, Any]) -> None:
    assert requests.get(f"{line['api_url']}/volunteer/me", timeout=5).status_code == 401
    forged = {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"}
    assert requests.get(f"{line['api_url']}/volunteer/me", headers=forged, timeout=5).status_code == 401
    # while the OpenAPI document is public
    document = requests.get(f"{line['api_url']}/openapi.json", timeout=5).json()
    assert "acceptConversation" in json.dumps(document)


def test_a_texter_reaches_a_volunteer_and_they_talk(line: dict[str, Any], twilio: Client) -> None:
    # given two volunteers signed in through Cognito; only the first is available
    first = Volunteer(line, sign_in(line, "volunteer.en"))
    second = Volunteer(line, sign_in(line, "volunteer.es"))
    assert first.call("PUT", "/volunteer/me/availability", {"status": "available"}).status_code == 200
    assert second.call("PUT", "/volunteer/me/availability", {"status": "offline"}).status_code == 200
    display_name = first.call("GET", "/volunteer/me").json()["display_name"]

    # when a texter texts, declines consent, and is queued
    number = "+15555550601"
    text_line(line, number, "hi, can someone talk with me?")
    text_line(line, number, "NO")

    # then the conversation is offered to the first volunteer without reloading anything
    offered = eventually(lambda: [c for c in first.conversations() if c["status"] == "offered"])
    assert offered, "no offer reached the available volunteer"
    conversation = offered[0]["id"]
    assert number[2:] not in json.dumps(offered)

    # when they accept; the second volunteer is refused
    assert first.call("POST", f"/volunteer/conversations/{conversation}/accept").status_code == 200
    assert second.call("POST", f"/volunteer/conversations/{conversation}/accept").status_code == 404
    assert second.call("GET", f"/volunteer/conversations/{conversation}/messages").status_code == 404

    # then the texter is told who they're texting with, and the volunteer reads the first text
    assert eventually(lambda: any(display_name in m.body for m in twilio.messages.list(to=number)))
    assert [m["body"] for m in first.transcript(conversation) if m["direction"] == "inbound"] == [
        "hi, can someone talk with me?"
    ]

    # when the volunteer replies, the texter receives it from the line's number
    reply = "Hi, I'm here. What's going on tonight?"
    assert first.call("POST", f"/volunteer/conversations/{conversation}/messages", {"body": reply}).status_code == 200
    received = eventually(lambda: [m for m in twilio.messages.list(to=number) if m.body == reply])
    assert received and received[0].from_ == line["line_number"]

    # when the texter texts again — and Twilio retries that webhook — it shows once
    sid = "SM" + uuid.uuid4().hex
    text_line(line, number, "it's been a rough week", sid=sid)
    text_line(line, number, "it's been a rough week", sid=sid)
    def written() -> list[dict[str, Any]]:
        """The texter's and the volunteer's texts (the line's automatic texts left out)."""
        return [m for m in first.transcript(conversation) if m["direction"] != "automatic"]

    assert eventually(lambda: len(written()) == 3)
    time.sleep(0.5)
    bodies = [m["body"] for m in written()]
    assert bodies.count("it's been a rough week") == 1

    # when the volunteer closes with a wrap-up
    closed = first.call(
        "POST", f"/volunteer/conversations/{conversation}/close", {"outcome": "supported", "tags": ["stress"]}
    )
    assert closed.status_code == 204

    # then bodies are gone, and a texter who answered NO leaves no record of the conversation
    dynamodb = aws_client(line, "dynamodb")
    messages = dynamodb.query(
        TableName=line["resources"]["MessagesTable"],
        KeyConditionExpression="conversation_id = :c",
        ExpressionAttributeValues={":c": {"S": conversation}},
    )["Items"]
    assert messages == []
    item = dynamodb.get_item(
        TableName=line["resources"]["ConversationsTable"], Key={"conversation_id": {"S": conversation}}
    )
    assert "Item" not in item
    assert eventually(lambda: any("Thank you for reaching out" in body for body in texts_to(twilio, number)))
    assert first.call("GET", "/volunteer/me").json()["load"] == 0
