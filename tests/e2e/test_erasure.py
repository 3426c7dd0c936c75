"""End to end on the local line: a texter's DELETE, over signed webhooks, read back with the real twilio client and
in the line's own tables."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from line_kit import aws_client, eventually, running_line, text_line, texts_to, twilio_client
from twilio.rest import Client

from peerline.phone import texter_id_for

pytestmark = pytest.mark.e2e

TEXTER = "+15555554101"


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with running_line(tmp_path_factory.mktemp("line"), "e2e-texter-erasure") as info:
        yield info


def _texter_item(line: dict[str, Any], texter_id: str) -> dict[str, Any] | None:
    item = aws_client(line, "dynamodb").get_item(
        TableName=line["resources"]["TextersTable"], Key={"texter_id": {"S": texter_id}}, ConsistentRead=True
    )
    return item.get("Item")


def _replies(twilio: Client, count: int) -> list[str]:
    eventually(lambda: len(texts_to(twilio, TEXTER)) >= count)
    return texts_to(twilio, TEXTER)


def test_delete_erases_the_texter_confirms_once_and_the_next_text_starts_fresh(line: dict[str, Any]) -> None:
    twilio = twilio_client(line)
    pepper = aws_client(line, "secretsmanager").get_secret_value(SecretId=line["resources"]["TexterIdPepperSecret"])
    texter_id = texter_id_for(TEXTER, pepper["SecretString"])
    # given a texter who consented and is waiting for a volunteer
    text_line(line, TEXTER, "hi, is anyone there?")
    _replies(twilio, 1)
    text_line(line, TEXTER, "yes")
    before = len(_replies(twilio, 3))
    assert _texter_item(line, texter_id) is not None

    # when they text DELETE
    text_line(line, TEXTER, "Delete")

    # then they get one confirmation that says what was erased, and their record is gone
    replies = _replies(twilio, before + 1)
    assert len(replies) == before + 1 and "erased what it kept about you" in replies[-1]
    assert eventually(lambda: _texter_item(line, texter_id) is None)
    # and no conversation or escalation names them; the audit log says a texter erased themselves, anonymously
    dynamodb = aws_client(line, "dynamodb")
    for table in ("ConversationsTable", "EscalationsTable"):
        items = dynamodb.scan(TableName=line["resources"][table], ConsistentRead=True)["Items"]
        assert texter_id not in json.dumps(items)
    entries = dynamodb.query(
        TableName=line["resources"]["AuditTable"],
        KeyConditionExpression="actor_id = :texter",
        ExpressionAttributeValues={":texter": {"S": "texter"}},
    )["Items"]
    assert [(entry["action"]["S"], entry.get("subject", {"S": ""})["S"]) for entry in entries] == [("erase_texter", "")]

    # when they text again, they are welcomed as a first-time texter, with the consent question
    text_line(line, TEXTER, "hi again")
    assert "Text STOP to stop" in _replies(twilio, before + 2)[-1]
