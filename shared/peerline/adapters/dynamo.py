"""DynamoDB: item (de)serialising shared by the adapters, a texter's opt-out outside the engine, and the delivery
log. The conversation store itself is ``conversation_store``."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from peerline.adapters.aws import dynamodb
from peerline.models import ConversationRecord, ConversationState
from peerline.risk import RiskLevel

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger(__name__)
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

# Lower sorts first in the waiting queue index.
WAITING_QUEUE = "waiting"
# Anonymous counters outlive everything else, but not forever.
COUNTER_RETENTION = timedelta(days=800)


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    """Plain values → DynamoDB attribute values (``None`` attributes are left out)."""
    return {key: _serializer.serialize(value) for key, value in values.items() if value is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """DynamoDB attribute values → plain values (numbers come back as ``Decimal``; pydantic coerces them)."""
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


class DynamoTable:
    """One table: its name, the (cached or injected) client, and a consistent read of one item."""

    def __init__(self, table_name: str, dynamodb_client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb_client

    @property
    def _client(self) -> DynamoDBClient:
        return self._dynamodb or dynamodb()

    def _get_item(self, key: Mapping[str, Any]) -> dict[str, Any] | None:
        item = self._client.get_item(TableName=self.table_name, Key=to_item(key), ConsistentRead=True).get("Item")
        return from_item(item) if item else None


def conversation_item(conversation: ConversationRecord) -> dict[str, Any]:
    """A conversation as stored; only waiting conversations carry the sparse queue index keys."""
    values = conversation.model_dump(mode="json")
    if conversation.state in (ConversationState.OFFERED, ConversationState.ACTIVE) and conversation.volunteer_id:
        values["holder"] = conversation.volunteer_id
    if conversation.state is ConversationState.WAITING and conversation.waiting_since is not None:
        values["queue"] = WAITING_QUEUE
        values["queue_rank"] = (
            f"{RiskLevel.IMMINENT.rank - conversation.priority.rank}#{conversation.waiting_since.isoformat()}"
        )
    return to_item(values)


def conversation_from(item: Mapping[str, Any]) -> ConversationRecord:
    values = from_item(item)
    for derived in ("queue", "queue_rank", "holder"):
        values.pop(derived, None)
    return ConversationRecord.model_validate(values)


class DynamoTexterOptOuts:
    """Marks a texter opted out when Twilio tells us they are (error 21610), outside the engine's own flow."""

    def __init__(self, texters_table: str, dynamodb_client: DynamoDBClient | None = None) -> None:
        self._table = texters_table
        self._dynamodb = dynamodb_client

    def mark_opted_out(self, texter_id: str) -> None:
        try:
            (self._dynamodb or dynamodb()).update_item(
                TableName=self._table,
                Key=to_item({"texter_id": texter_id}),
                # Bumping the version makes any engine decision based on the older record lose its race.
                UpdateExpression="SET opted_out = :yes, version = version + :one",
                ConditionExpression="attribute_exists(texter_id)",
                ExpressionAttributeValues=to_item({":yes": True, ":one": 1}),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise


# Delivery statuses in the order they can happen; a callback never moves a message backwards.
STATUS_RANK = {
    "accepted": 1,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "undelivered": 4,
    "failed": 4,
    "delivered": 4,
    "read": 5,
}


# Deliveries serve status callbacks and operations for a day or two, whatever the consent: a fixed bound, well below
# RetentionDays, so no record of a text outlives the 48 hours the README promises.
DELIVERY_RETENTION = timedelta(hours=48)


class DynamoDeliveryLog:
    """What happened to each text we sent, by Twilio's SID. Each item holds only what a status callback needs:

    - ``message_sid`` (key): how a callback finds its text;
    - ``delivery_status``, ``status_rank``: the latest status, and its rank so a late callback never moves it back;
    - ``status_at``: when that status was recorded (operations: "stuck in sent since…");
    - ``error_code``: Twilio's reason when a text failed (operations: carrier filtering, invalid numbers);
    - ``expires_at``: the TTL, ``DELIVERY_RETENTION`` after the last write.

    No texter id, no conversation id, no purpose, no body, no number: nothing links a text to a texter or a
    conversation, during or after it.
    """

    def __init__(self, deliveries_table: str, dynamodb_client: DynamoDBClient | None = None) -> None:
        self._table = deliveries_table
        self._dynamodb = dynamodb_client

    @property
    def _client(self) -> DynamoDBClient:
        return self._dynamodb or dynamodb()

    @staticmethod
    def _now_and_expiry() -> tuple[str, int]:
        now = datetime.now(UTC)
        return now.isoformat(), int((now + DELIVERY_RETENTION).timestamp())

    def record_sent(self, *, message_sid: str, status: str) -> None:
        """The text was accepted by Twilio. A callback may already have recorded a later status: keep it."""
        now, expires = self._now_and_expiry()
        self._client.update_item(
            TableName=self._table,
            Key=to_item({"message_sid": message_sid}),
            UpdateExpression=(
                "SET expires_at = :expires, status_at = if_not_exists(status_at, :now), "
                "delivery_status = if_not_exists(delivery_status, :status), "
                "status_rank = if_not_exists(status_rank, :rank)"
            ),
            ExpressionAttributeValues=to_item(
                {":expires": expires, ":now": now, ":status": status, ":rank": STATUS_RANK.get(status, 1)}
            ),
        )

    def record_failed(self, *, error_code: int) -> None:
        """Twilio refused the text for good: there is no SID, and our own outbound id names the conversation, so
        the record gets a random key (operations count refusals by error code; nothing looks one up)."""
        now, expires = self._now_and_expiry()
        self._client.put_item(
            TableName=self._table,
            Item=to_item(
                {
                    "message_sid": f"failed#{uuid.uuid4().hex}",
                    "delivery_status": "failed",
                    "status_rank": STATUS_RANK["failed"],
                    "status_at": now,
                    "error_code": error_code,
                    "expires_at": expires,
                }
            ),
        )

    def advance_status(self, *, message_sid: str, status: str, error_code: int | None) -> bool:
        """Record a status callback unless it would move the message backwards (then False)."""
        now, expires = self._now_and_expiry()
        rank = STATUS_RANK.get(status, 0)
        values: dict[str, Any] = {":status": status, ":rank": rank, ":now": now, ":expires": expires}
        update = "SET delivery_status = :status, status_rank = :rank, status_at = :now, expires_at = :expires"
        if error_code is not None:
            update += ", error_code = :code"
            values[":code"] = error_code
        try:
            self._client.update_item(
                TableName=self._table,
                Key=to_item({"message_sid": message_sid}),
                UpdateExpression=update,
                # Invariant: callbacks arrive in any order; `sent` after `delivered` must not win.
                ConditionExpression="attribute_not_exists(status_rank) OR status_rank < :rank",
                ExpressionAttributeValues=to_item(values),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def get(self, message_sid: str) -> dict[str, Any] | None:
        item = self._client.get_item(TableName=self._table, Key=to_item({"message_sid": message_sid})).get("Item")
        return from_item(item) if item else None


def _chunks(items: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
