"""What the reveal function reads (one item by key from four tables) and its per-supervisor hourly allowance."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from peerline.adapters.aws import dynamodb
from peerline.adapters.dynamo import DynamoTable, conversation_from, from_item, to_item
from peerline.models import ConversationRecord, EscalationRecord, TexterRecord, VolunteerRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoRevealRecords:
    """Consistent reads by key: the caller, the escalation, its conversation and its texter (GetItem only)."""

    def __init__(
        self,
        *,
        volunteers_table: str,
        escalations_table: str,
        conversations_table: str,
        texters_table: str,
        dynamodb_client: DynamoDBClient | None = None,
    ) -> None:
        self._tables = {
            "volunteer_id": volunteers_table,
            "escalation_id": escalations_table,
            "conversation_id": conversations_table,
            "texter_id": texters_table,
        }
        self._dynamodb = dynamodb_client

    def _item(self, key_name: str, key: str) -> dict[str, Any] | None:
        item = (
            (self._dynamodb or dynamodb())
            .get_item(TableName=self._tables[key_name], Key=to_item({key_name: key}), ConsistentRead=True)
            .get("Item")
        )
        return dict(item) if item else None

    def volunteer(self, volunteer_id: str) -> VolunteerRecord | None:
        item = self._item("volunteer_id", volunteer_id)
        return VolunteerRecord.model_validate(from_item(item)) if item else None

    def escalation(self, escalation_id: str) -> EscalationRecord | None:
        item = self._item("escalation_id", escalation_id)
        return EscalationRecord.model_validate(from_item(item)) if item else None

    def conversation(self, conversation_id: str) -> ConversationRecord | None:
        item = self._item("conversation_id", conversation_id)
        return conversation_from(item) if item else None

    def texter(self, texter_id: str) -> TexterRecord | None:
        item = self._item("texter_id", texter_id)
        return TexterRecord.model_validate(from_item(item)) if item else None


class DynamoRevealAllowance(DynamoTable):
    """Reveals per supervisor and clock hour (UTC), one atomic counter each in the counters table.

    The audit log can't serve: no function may read it. The counter holds only a volunteer id, an hour and a count,
    and expires a day later.
    """

    def take(self, volunteer_id: str, *, now: datetime, per_hour: int) -> bool:
        hour = now.replace(minute=0, second=0, microsecond=0)
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key=to_item({"counter_id": f"reveals#{volunteer_id}#{hour:%Y-%m-%dT%H}"}),
                UpdateExpression="ADD reveals :one SET expires_at = :expires",
                # Invariant: never more than ``per_hour`` reveals counted in one hour, however many run at once.
                ConditionExpression="attribute_not_exists(reveals) OR reveals < :limit",
                ExpressionAttributeValues=to_item(
                    {":one": 1, ":limit": per_hour, ":expires": int((hour + timedelta(days=1)).timestamp())}
                ),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True
