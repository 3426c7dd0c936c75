"""The append-only audit log against moto: entries are added, never replaced, and read back by actor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from peerline.adapters.audit import DynamoAuditLog
from peerline.audit import AuditEntry

NOW = datetime(2026, 11, 30, 21, 0, tzinfo=UTC)


@pytest.fixture
def audit(stack: object) -> DynamoAuditLog:
    table = stack.resources["AuditTable"].physical_id  # type: ignore[attr-defined]
    return DynamoAuditLog(table, retention_days=2555, dynamodb_client=boto3.client("dynamodb"))


def test_entries_in_the_same_instant_both_stay_and_come_back_oldest_first(audit: DynamoAuditLog) -> None:
    # given
    first = AuditEntry(actor_id="vol-1", action="reveal_number", subject="esc-1", reason="police asked", at=NOW)
    same_instant = first.model_copy(update={"subject": "esc-2"})
    later = first.model_copy(update={"subject": "esc-3", "at": NOW + timedelta(minutes=1)})

    # when
    for entry in (later, first, same_instant):
        audit.append(entry)

    # then
    entries = audit.entries_by("vol-1", since=NOW)
    assert [entry.subject for entry in entries][-1] == "esc-3"
    assert sorted(entry.subject for entry in entries) == ["esc-1", "esc-2", "esc-3"]
    assert audit.entries_by("vol-1", since=NOW + timedelta(seconds=30)) == [later]
    assert audit.entries_by("vol-2", since=NOW) == []


def test_an_entry_expires_only_after_the_retention(audit: DynamoAuditLog, stack: object) -> None:
    # when
    audit.append(AuditEntry(actor_id="vol-9", action="block_texter", subject="alias-1", at=NOW))

    # then
    items = boto3.client("dynamodb").query(
        TableName=audit.table_name,
        KeyConditionExpression="actor_id = :actor",
        ExpressionAttributeValues={":actor": {"S": "vol-9"}},
    )["Items"]
    assert int(items[0]["expires_at"]["N"]) == int((NOW + timedelta(days=2555)).timestamp())
