"""DynamoDB: texters, conversations, messages, counters and deliveries.

Every state change is one ``TransactWriteItems`` whose conditions are the optimistic locks the engine relies on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from peerline.adapters.aws import client
from peerline.lifecycle import ConversationChange, LoadChange
from peerline.models import ConversationRecord, ConversationState, EscalationRecord, StoredMessage, TexterRecord
from peerline.ports import ConcurrentUpdateError
from peerline.risk import RiskLevel

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

    def __init__(self, table_name: str, dynamodb_client: Any = None) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb_client

    @property
    def _client(self) -> Any:
        return self._dynamodb or client("dynamodb")

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


class DynamoConversationRepository:
    """The engine's ``ConversationRepository`` on DynamoDB."""

    def __init__(
        self,
        *,
        texters_table: str,
        conversations_table: str,
        messages_table: str,
        counters_table: str,
        volunteers_table: str | None = None,
        escalations_table: str | None = None,
        dynamodb_client: Any = None,
    ) -> None:
        self._escalations = escalations_table
        self._texters = texters_table
        self._conversations = conversations_table
        self._messages = messages_table
        self._counters = counters_table
        self._volunteers = volunteers_table
        self._dynamodb = dynamodb_client

    @property
    def _client(self) -> Any:
        return self._dynamodb or client("dynamodb")

    def get_texter(self, texter_id: str) -> TexterRecord | None:
        item = self._client.get_item(
            TableName=self._texters, Key=to_item({"texter_id": texter_id}), ConsistentRead=True
        ).get("Item")
        return TexterRecord.model_validate(from_item(item)) if item else None

    def get_conversation(self, conversation_id: str) -> ConversationRecord | None:
        item = self._client.get_item(
            TableName=self._conversations, Key=to_item({"conversation_id": conversation_id}), ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        return conversation_from(item)

    def commit(self, change: ConversationChange) -> None:
        """The one transaction builder: every conversation change — the engine's, the router's, an escalate — is
        one ``TransactWriteItems`` whose conditions are the optimistic locks the domain relies on."""
        actions: list[dict[str, Any]] = []
        if change.texter is not None:
            actions.append(self._texter_action(change))
        if change.conversation is not None:
            actions.append(self._conversation_action(change))
        actions += [
            {"Put": {"TableName": self._messages, "Item": to_item(message.model_dump(mode="json"))}}
            for message in change.new_messages
        ]
        expires = int((datetime.now(UTC) + COUNTER_RETENTION).timestamp())
        actions += [
            {
                "Update": {
                    "TableName": self._counters,
                    "Key": to_item({"counter_id": counter_id}),
                    "UpdateExpression": "ADD #count :n SET expires_at = :expires",
                    "ExpressionAttributeNames": {"#count": "count"},
                    "ExpressionAttributeValues": to_item({":n": increment, ":expires": expires}),
                }
            }
            for counter_id, increment in change.counters.items()
        ]
        if change.new_escalation is not None:
            actions.append(self._escalation_action(change.new_escalation))
        # Loads last: a best-effort release is recognised by its position among the cancellation reasons.
        loads = [self._load_action(load) for load in change.loads]
        try:
            self._client.transact_write_items(TransactItems=[*actions, *loads])
        except ClientError as error:
            if error.response["Error"]["Code"] not in (
                "TransactionCanceledException",
                "ConditionalCheckFailedException",
            ):
                raise
            reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
            failed = {index for index, code in enumerate(reasons) if code == "ConditionalCheckFailed"}
            best_effort = {len(actions) + index for index, load in enumerate(change.loads) if load.best_effort}
            if failed and failed <= best_effort:
                # Only a best-effort release failed (volunteer gone, or load already zero): a texter's STOP must
                # never wait on a volunteer record, so apply the rest without it.
                logger.error(
                    "volunteer release skipped", extra={"volunteers": [load.volunteer_id for load in change.loads]}
                )
                self.commit(change.without_best_effort_loads())
                return
            raise ConcurrentUpdateError(str(error)) from error

    def _escalation_action(self, escalation: EscalationRecord) -> dict[str, Any]:
        if self._escalations is None:
            raise RuntimeError("an escalation was decided but no escalations table is configured")
        return {
            "Put": {
                "TableName": self._escalations,
                "Item": to_item(escalation.model_dump(mode="json")),
                # Invariant: one escalation per triggering event, however often the event is retried.
                "ConditionExpression": "attribute_not_exists(escalation_id)",
            }
        }

    def _load_action(self, load: LoadChange) -> dict[str, Any]:
        if self._volunteers is None:
            raise RuntimeError("a volunteer's load changes but no volunteers table is configured")
        names: dict[str, str] = {"#load": "load"}
        values: dict[str, Any] = {":delta": load.delta, ":one": 1}
        sets = ["version = version + :one"]
        conditions = ["attribute_exists(volunteer_id)"]
        if load.assigned_at is not None:
            sets.append("last_assigned_at = :assigned")
            values[":assigned"] = load.assigned_at
        if load.notice is not None:
            sets.append("notices = list_append(if_not_exists(notices, :no_notices), :notice)")
            values[":no_notices"] = []
            values[":notice"] = [load.notice]
        if load.require_capacity:
            # Invariant: a volunteer never holds more than their own cap.
            conditions.append("#load < max_concurrent AND active = :yes")
            values[":yes"] = True
        if load.forbid_status is not None:
            conditions.append("#status <> :forbidden")
            names["#status"] = "status"
            values[":forbidden"] = load.forbid_status.value
        if load.require_status is not None:
            conditions.append("#status = :status")
            names["#status"] = "status"
            values[":status"] = load.require_status.value
        if load.delta < 0:
            # Invariant: load never goes below zero (a double release would hide a real offer or conversation).
            conditions.append("#load >= :release")
            values[":release"] = -load.delta
        return {
            "Update": {
                "TableName": self._volunteers,
                "Key": to_item({"volunteer_id": load.volunteer_id}),
                "UpdateExpression": "SET " + ", ".join(sets) + " ADD #load :delta",
                "ConditionExpression": " AND ".join(conditions),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": to_item(values),
            }
        }

    def _texter_action(self, change: ConversationChange) -> dict[str, Any]:
        assert change.texter is not None
        expected = change.expected_texter_version
        texter = change.texter.model_copy(update={"version": (expected or 0) + 1})
        put: dict[str, Any] = {"TableName": self._texters, "Item": to_item(texter.model_dump(mode="json"))}
        if expected is None:
            # Invariant: two first texts racing can't both create the texter.
            put["ConditionExpression"] = "attribute_not_exists(texter_id)"
        else:
            # Invariant: nobody changed the texter since we read it (a text they sent meanwhile is never lost).
            put["ConditionExpression"] = "version = :expected"
            put["ExpressionAttributeValues"] = to_item({":expected": expected})
        return {"Put": put}

    def _conversation_action(self, change: ConversationChange) -> dict[str, Any]:
        assert change.conversation is not None
        expected = change.expected_conversation_version
        key = to_item({"conversation_id": change.conversation.conversation_id})
        if change.delete_conversation:
            return {
                "Delete": {
                    "TableName": self._conversations,
                    "Key": key,
                    # Invariant: we only erase the conversation we decided about.
                    "ConditionExpression": "version = :expected",
                    "ExpressionAttributeValues": to_item({":expected": expected}),
                }
            }
        conversation = change.conversation.model_copy(update={"version": (expected or 0) + 1})
        put: dict[str, Any] = {"TableName": self._conversations, "Item": conversation_item(conversation)}
        if expected is None:
            # Invariant: one conversation per first text, however often that text is retried.
            put["ConditionExpression"] = "attribute_not_exists(conversation_id)"
        else:
            # Invariant: every step starts from the state it was decided on — no double accept, no two
            # volunteers, no stale timer, no replay.
            put["ConditionExpression"] = "version = :expected"
            put["ExpressionAttributeValues"] = to_item({":expected": expected})
        return {"Put": put}

    def delete_messages(self, conversation_id: str) -> int:
        deleted = 0
        for batch in _chunks(self._message_keys(conversation_id), 25):
            requests = [{"DeleteRequest": {"Key": key}} for key in batch]
            while requests:
                response = self._client.batch_write_item(RequestItems={self._messages: requests})
                requests = response.get("UnprocessedItems", {}).get(self._messages, [])
            deleted += len(batch)
        return deleted

    def list_messages(self, conversation_id: str) -> list[StoredMessage]:
        """Stored messages of a conversation, oldest first (for the volunteer and for tests)."""
        items: list[StoredMessage] = []
        for page in self._client.get_paginator("query").paginate(
            TableName=self._messages,
            KeyConditionExpression="conversation_id = :id",
            ExpressionAttributeValues=to_item({":id": conversation_id}),
            ConsistentRead=True,
        ):
            items += [StoredMessage.model_validate(from_item(item)) for item in page["Items"]]
        return items

    def _message_keys(self, conversation_id: str) -> Iterator[dict[str, Any]]:
        for page in self._client.get_paginator("query").paginate(
            TableName=self._messages,
            KeyConditionExpression="conversation_id = :id",
            ExpressionAttributeValues=to_item({":id": conversation_id}),
            ProjectionExpression="conversation_id, message_key",
        ):
            yield from page["Items"]


class DynamoTexterOptOuts:
    """Marks a texter opted out when Twilio tells us they are (error 21610), outside the engine's own flow."""

    def __init__(self, texters_table: str, dynamodb_client: Any = None) -> None:
        self._table = texters_table
        self._dynamodb = dynamodb_client

    def mark_opted_out(self, texter_id: str) -> None:
        try:
            (self._dynamodb or client("dynamodb")).update_item(
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


class DynamoDeliveryLog:
    """What happened to each text we sent: Twilio's MessageSid, status, error code. No body, no number."""

    def __init__(self, deliveries_table: str, retention_days: int, dynamodb_client: Any = None) -> None:
        self._table = deliveries_table
        self._retention = timedelta(days=retention_days)
        self._dynamodb = dynamodb_client

    @property
    def _client(self) -> Any:
        return self._dynamodb or client("dynamodb")

    def _expiry(self) -> int:
        return int((datetime.now(UTC) + self._retention).timestamp())

    def record_sent(
        self, *, message_sid: str, outbound_id: str, purpose: str, status: str, texter_id: str | None
    ) -> None:
        """The text was accepted by Twilio. A callback may already have recorded a later status: keep it."""
        self._client.update_item(
            TableName=self._table,
            Key=to_item({"message_sid": message_sid}),
            UpdateExpression=(
                "SET outbound_id = :outbound, purpose = :purpose, texter_id = :texter, expires_at = :expires, "
                "delivery_status = if_not_exists(delivery_status, :status), "
                "status_rank = if_not_exists(status_rank, :rank)"
            ),
            ExpressionAttributeValues=to_item(
                {
                    ":outbound": outbound_id,
                    ":purpose": purpose,
                    ":texter": texter_id or "",
                    ":expires": self._expiry(),
                    ":status": status,
                    ":rank": STATUS_RANK.get(status, 1),
                }
            ),
        )

    def record_failed(self, *, outbound_id: str, purpose: str, error_code: int, texter_id: str | None) -> None:
        """Twilio refused the text for good; there is no MessageSid, so key it by our own outbound id."""
        self._client.put_item(
            TableName=self._table,
            Item=to_item(
                {
                    "message_sid": f"failed#{outbound_id}",
                    "outbound_id": outbound_id,
                    "purpose": purpose,
                    "texter_id": texter_id,
                    "delivery_status": "failed",
                    "status_rank": STATUS_RANK["failed"],
                    "error_code": error_code,
                    "expires_at": self._expiry(),
                }
            ),
        )

    def advance_status(self, *, message_sid: str, status: str, error_code: int | None) -> str | None:
        """Record a status callback unless it would move the message backwards.

        Returns the texter id the message went to (when known), or None when the callback was a regression.
        """
        rank = STATUS_RANK.get(status, 0)
        values: dict[str, Any] = {":status": status, ":rank": rank, ":expires": self._expiry()}
        update = "SET delivery_status = :status, status_rank = :rank, expires_at = :expires"
        if error_code is not None:
            update += ", error_code = :code"
            values[":code"] = error_code
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=to_item({"message_sid": message_sid}),
                UpdateExpression=update,
                # Invariant: callbacks arrive in any order; `sent` after `delivered` must not win.
                ConditionExpression="attribute_not_exists(status_rank) OR status_rank < :rank",
                ExpressionAttributeValues=to_item(values),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        texter_id = from_item(response["Attributes"]).get("texter_id")
        return str(texter_id) if texter_id else ""

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
