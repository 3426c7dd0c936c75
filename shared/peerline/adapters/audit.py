"""The append-only audit log on DynamoDB: a put that may never overwrite, and a query by actor."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from peerline.adapters.dynamo import DynamoTable, from_item, to_item
from peerline.audit import AuditEntry

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoAuditLog(DynamoTable):
    """Entries keyed by actor, then by time and a random suffix, so two entries in the same instant both stay."""

    def __init__(self, table_name: str, *, retention_days: int, dynamodb_client: DynamoDBClient | None = None) -> None:
        super().__init__(table_name, dynamodb_client)
        self._retention = timedelta(days=retention_days)

    def append(self, entry: AuditEntry) -> None:
        values = entry.model_dump(mode="json")
        values["entry_key"] = f"{entry.at.isoformat()}#{uuid.uuid4().hex}"
        values["expires_at"] = int((entry.at + self._retention).timestamp())
        self._client.put_item(
            TableName=self.table_name,
            Item=to_item(values),
            # Append-only, even against a colliding key: an entry is never replaced.
            ConditionExpression="attribute_not_exists(actor_id)",
        )

    def entries_by(self, actor_id: str, *, since: datetime) -> list[AuditEntry]:
        entries: list[AuditEntry] = []
        for page in self._client.get_paginator("query").paginate(
            TableName=self.table_name,
            KeyConditionExpression="actor_id = :actor AND entry_key >= :since",
            ExpressionAttributeValues=to_item({":actor": actor_id, ":since": since.isoformat()}),
            ConsistentRead=True,
        ):
            entries += [AuditEntry.model_validate(from_item(item)) for item in page["Items"]]
        return entries
