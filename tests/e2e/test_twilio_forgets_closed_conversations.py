"""End to end on the local line: after a conversation closes, the Twilio account (the fake, read back with the real
twilio client) forgets every message of it, the texter's phone keeps them, and no delivery names the texter."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from line_kit import aws_client, eventually, running_line, texts_to, twilio_client
from twilio.rest import Client

from peerline.phone import texter_id_for

pytestmark = pytest.mark.e2e

TEXTER = "+15555550461"


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    # Seconds, not minutes: an open conversation's jobs look again every second (5 minutes on AWS), and Twilio's
    # "wait before deleting a message just sent" is a second too (the local fake delivers in milliseconds).
    with running_line(
        tmp_path_factory.mktemp("line"),
        "peerline-erasure",
        function_environment={"ERASE_RECHECK_SECONDS": "1", "ERASE_IN_FLIGHT_RETRY_SECONDS": "1"},
    ) as info:
        yield info


def text_from_phone(line: dict[str, Any], body: str) -> None:
    """The texter types on the simulated phone: Twilio (the fake) receives the text and posts the signed webhook."""
    response = requests.post(f"{line['simulator_url']}/api/send", json={"from": TEXTER, "body": body}, timeout=10)
    assert response.json()["ok"], response.text


def held_by_the_account(twilio: Client) -> list[str]:
    return [m.sid for m in [*twilio.messages.list(to=TEXTER), *twilio.messages.list(from_=TEXTER)]]


def test_a_closed_conversation_is_forgotten_by_twilio_but_not_by_the_phone(line: dict[str, Any]) -> None:
    # given a texter who texts the line, answers NO, and is waiting
    twilio = twilio_client(line)
    text_from_phone(line, "hi, I need to talk")
    assert eventually(lambda: len(texts_to(twilio, TEXTER)) >= 1), "no welcome"
    text_from_phone(line, "no")
    assert eventually(lambda: len(texts_to(twilio, TEXTER)) >= 3), "no 'finding someone'"
    # while the conversation is open, the account holds every message of it
    assert len(held_by_the_account(twilio)) >= 5

    # when they text STOP (the conversation closes, without consent)
    text_from_phone(line, "STOP")

    # then the account forgets every message, both ways, the STOP and its confirmation included
    assert eventually(lambda: held_by_the_account(twilio) == [], timeout=30), held_by_the_account(twilio)
    # while the phone still shows what it received
    received = texts_to(twilio, TEXTER)
    assert len(received) >= 4
    # and no delivery record names the texter
    dynamodb = aws_client(line, "dynamodb")
    pepper = aws_client(line, "secretsmanager").get_secret_value(SecretId=line["resources"]["TexterIdPepperSecret"])
    texter_id = texter_id_for(TEXTER, pepper["SecretString"])
    deliveries = dynamodb.scan(TableName=line["resources"]["DeliveriesTable"])["Items"]
    assert deliveries
    assert texter_id not in json.dumps(deliveries)


def test_the_phone_simulator_keeps_what_the_account_forgot(line: dict[str, Any]) -> None:
    # given the texter above, whose conversation the account forgot
    # when the phone simulator loads their thread
    thread = requests.get(f"{line['simulator_url']}/api/messages", params={"number": TEXTER}, timeout=10).json()

    # then it still shows both sides of it
    assert {message["direction"] for message in thread} == {"inbound", "outbound"}
