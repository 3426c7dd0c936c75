"""DynamoDB for routing: conversations and volunteers changed together in one transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from peerline.adapters.dynamo import (
    COUNTER_RETENTION,
    DynamoConversationRepository,
    conversation_from,
    conversation_item,
    from_item,
    to_item,
)
from peerline.adapters.volunteers import DynamoVolunteerRegistry, volunteer_from
from peerline.conversation import ConcurrentUpdateError
from peerline.models import (
    OPEN_STATES,
    ConversationRecord,
    ConversationState,
    StoredMessage,
    VolunteerRecord,
    VolunteerStatus,
)
from peerline.routing import LoadChange, RoutingChange
from peerline.routing import NotEligibleError as _NotEligible


class DynamoRoutingRepository(DynamoConversationRepository):
    """The router's ``RoutingRepository``: the conversation store plus the volunteer registry."""

    def __init__(
        self,
        *,
        texters_table: str,
        conversations_table: str,
        messages_table: str,
        counters_table: str,
        volunteers_table: str,
        escalations_table: str | None = None,
        dynamodb_client: Any = None,
    ) -> None:
        super().__init__(
            escalations_table=escalations_table,
            texters_table=texters_table,
            conversations_table=conversations_table,
            messages_table=messages_table,
            counters_table=counters_table,
            volunteers_table=volunteers_table,
            dynamodb_client=dynamodb_client,
        )
        self.volunteers = DynamoVolunteerRegistry(volunteers_table, dynamodb_client)

    # ------------------------------------------------------------------ reads
    def get_volunteer(self, volunteer_id: str) -> VolunteerRecord | None:
        return self.volunteers.get(volunteer_id)

    def available_volunteers(self) -> list[VolunteerRecord]:
        return self.volunteers.available()

    def waiting_conversations(self) -> list[ConversationRecord]:
        return self._from_index("WaitingQueue", "queue", "waiting", {ConversationState.WAITING})

    def conversations_held_by(self, volunteer_id: str) -> list[ConversationRecord]:
        return self._from_index(
            "ByHolder", "holder", volunteer_id, {ConversationState.OFFERED, ConversationState.ACTIVE}, volunteer_id
        )

    def open_conversations(self) -> list[ConversationRecord]:
        conversations: list[ConversationRecord] = []
        for page in self._client.get_paginator("scan").paginate(
            TableName=self._conversations,
            FilterExpression="#state IN (" + ", ".join(f":s{i}" for i in range(len(OPEN_STATES))) + ")",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues=to_item({f":s{i}": state.value for i, state in enumerate(sorted(OPEN_STATES))}),
        ):
            conversations += [conversation_from(item) for item in page["Items"]]
        return conversations

    def _from_index(
        self,
        index: str,
        key: str,
        value: str,
        states: set[ConversationState],
        holder: str | None = None,
    ) -> list[ConversationRecord]:
        """The index nominates (it is eventually consistent); a consistent read of each item confirms."""
        ids: list[str] = []
        for page in self._client.get_paginator("query").paginate(
            TableName=self._conversations,
            IndexName=index,
            KeyConditionExpression="#key = :value",
            ExpressionAttributeNames={"#key": key},
            ExpressionAttributeValues=to_item({":value": value}),
        ):
            ids += [str(from_item(item)["conversation_id"]) for item in page["Items"]]
        confirmed = [
            conversation for conversation_id in ids if (conversation := self.get_conversation(conversation_id))
        ]
        return [
            conversation
            for conversation in confirmed
            if conversation.state in states and (holder is None or conversation.volunteer_id == holder)
        ]

    def list_messages(self, conversation_id: str) -> list[StoredMessage]:  # type: ignore[override]
        return [StoredMessage.model_validate(item) for item in super().list_messages(conversation_id)]

    # ------------------------------------------------------------------ writes
    def set_volunteer_status(self, volunteer_id: str, status: VolunteerStatus) -> VolunteerRecord:
        try:
            response = self._client.update_item(
                TableName=self.volunteers.table_name,
                Key=to_item({"volunteer_id": volunteer_id}),
                UpdateExpression="SET #status = :status, version = version + :one",
                # A deactivated volunteer can't make themselves available again.
                ConditionExpression="active = :yes",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_item({":status": status.value, ":one": 1, ":yes": True}),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise _NotEligible("deactivated or not registered") from error
            raise
        return volunteer_from(response["Attributes"])

    def set_volunteer_settings(self, volunteer_id: str, *, offers_during_crisis: bool) -> VolunteerRecord:
        try:
            response = self._client.update_item(
                TableName=self.volunteers.table_name,
                Key=to_item({"volunteer_id": volunteer_id}),
                UpdateExpression="SET offers_during_crisis = :choice, version = version + :one",
                ConditionExpression="attribute_exists(volunteer_id)",
                ExpressionAttributeValues=to_item({":choice": offers_during_crisis, ":one": 1}),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise _NotEligible("not registered") from error
            raise
        return volunteer_from(response["Attributes"])

    def commit_routing(self, change: RoutingChange) -> None:
        actions: list[dict[str, Any]] = [self._routing_conversation_action(change)]
        actions += [self._load_action(load) for load in change.loads]
        if change.new_escalation is not None:
            actions.append(self._escalation_action(change.new_escalation))
        if change.texter is not None:
            texter = change.texter.model_copy(update={"version": (change.expected_texter_version or 0) + 1})
            actions.append(
                {
                    "Put": {
                        "TableName": self._texters,
                        "Item": to_item(texter.model_dump(mode="json")),
                        # Invariant: unlinking the texter never overwrites a text they sent meanwhile.
                        "ConditionExpression": "version = :expected",
                        "ExpressionAttributeValues": to_item({":expected": change.expected_texter_version}),
                    }
                }
            )
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
        try:
            self._client.transact_write_items(TransactItems=actions)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("TransactionCanceledException", "ConditionalCheckFailedException"):
                raise ConcurrentUpdateError(str(error)) from error
            raise

    def _routing_conversation_action(self, change: RoutingChange) -> dict[str, Any]:
        key = to_item({"conversation_id": change.conversation.conversation_id})
        condition = {
            # Invariant: every routing step starts from the state it was decided on — no double accept,
            # no two volunteers, no stale timer.
            "ConditionExpression": "version = :expected",
            "ExpressionAttributeValues": to_item({":expected": change.expected_version}),
        }
        if change.delete_conversation:
            return {"Delete": {"TableName": self._conversations, "Key": key, **condition}}
        updated = change.conversation.model_copy(update={"version": change.expected_version + 1})
        return {"Put": {"TableName": self._conversations, "Item": conversation_item(updated), **condition}}

    def _load_action(self, load: LoadChange) -> dict[str, Any]:
        names: dict[str, str] = {}
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
        names["#load"] = "load"
        return {
            "Update": {
                "TableName": self.volunteers.table_name,
                "Key": to_item({"volunteer_id": load.volunteer_id}),
                "UpdateExpression": "SET " + ", ".join(sets) + " ADD #load :delta",
                "ConditionExpression": " AND ".join(conditions),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": to_item(values),
            }
        }
