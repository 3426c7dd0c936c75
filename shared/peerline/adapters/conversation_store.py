"""The one conversation store on DynamoDB: every conversation change is one ``TransactWriteItems`` whose conditions
are the optimistic locks the domain relies on (see ``peerline.lifecycle``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from peerline.adapters.aws import dynamodb
from peerline.adapters.dynamo import (
    COUNTER_RETENTION,
    _chunks,
    conversation_from,
    conversation_item,
    from_item,
    to_item,
)
from peerline.adapters.volunteers import DynamoVolunteerRegistry, volunteer_from
from peerline.lifecycle import ConversationChange, LoadChange
from peerline.models import (
    OPEN_STATES,
    ConversationRecord,
    ConversationState,
    EscalationRecord,
    StoredMessage,
    TexterRecord,
    VolunteerRecord,
    VolunteerStatus,
)
from peerline.phone import texter_alias
from peerline.ports import ConcurrentUpdateError
from peerline.routing import MessagePage
from peerline.routing import NotEligibleError as _NotEligible

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        TransactWriteItemTypeDef,
        WriteRequestOutputTypeDef,
        WriteRequestTypeDef,
    )

logger = logging.getLogger(__name__)


class DynamoConversationStore:
    """The one ``ConversationStore`` on DynamoDB, for the engine, the router and escalations alike: texters,
    conversations, messages, counters and volunteers' load, written by one transaction builder (``commit``), plus
    the reads routing needs (the waiting queue, who holds what, available volunteers)."""

    def __init__(
        self,
        *,
        texters_table: str,
        conversations_table: str,
        messages_table: str,
        counters_table: str,
        volunteers_table: str | None = None,
        escalations_table: str | None = None,
        dynamodb_client: DynamoDBClient | None = None,
    ) -> None:
        self._escalations = escalations_table
        self._texters = texters_table
        self._conversations = conversations_table
        self._messages = messages_table
        self._counters = counters_table
        self._volunteers = volunteers_table
        self._dynamodb = dynamodb_client
        self._registry = DynamoVolunteerRegistry(volunteers_table, dynamodb_client) if volunteers_table else None

    @property
    def volunteers(self) -> DynamoVolunteerRegistry:
        """The volunteer registry (the router and the supervisor's line read it)."""
        if self._registry is None:
            raise RuntimeError("no volunteers table is configured")
        return self._registry

    @property
    def _client(self) -> DynamoDBClient:
        return self._dynamodb or dynamodb()

    def get_texter(self, texter_id: str) -> TexterRecord | None:
        item = self._client.get_item(
            TableName=self._texters, Key=to_item({"texter_id": texter_id}), ConsistentRead=True
        ).get("Item")
        return TexterRecord.model_validate(from_item(item)) if item else None

    def texters_with_alias(self, alias: str) -> list[TexterRecord]:
        """A filtered scan on the id's first characters (the alias is made of them): for a supervisor's rare erase or
        block by alias, never on a texter's path."""
        prefix = alias.removeprefix("Texter ").lower()
        texters: list[TexterRecord] = []
        for page in self._client.get_paginator("scan").paginate(
            TableName=self._texters,
            FilterExpression="begins_with(texter_id, :prefix)",
            ExpressionAttributeValues=to_item({":prefix": prefix}),
            ConsistentRead=True,
        ):
            texters += [TexterRecord.model_validate(from_item(item)) for item in page["Items"]]
        return [texter for texter in texters if texter_alias(texter.texter_id) == alias]

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
        actions += [self._unlinked_escalation_action(escalation) for escalation in change.escalations]
        # Loads last: a best-effort release is recognised by its position among the cancellation reasons.
        loads = [self._load_action(load) for load in change.loads]
        try:
            # The actions are built as plain dicts (their conditions vary); the stubs' TypedDicts describe the same.
            self._client.transact_write_items(TransactItems=cast("list[TransactWriteItemTypeDef]", [*actions, *loads]))
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

    def _unlinked_escalation_action(self, escalation: EscalationRecord) -> dict[str, Any]:
        if self._escalations is None:
            raise RuntimeError("an escalation is rewritten but no escalations table is configured")
        values = escalation.model_copy(update={"version": escalation.version + 1}).model_dump(mode="json")
        return {
            "Put": {
                "TableName": self._escalations,
                "Item": to_item(values),
                # Invariant: a page or an acknowledgement meanwhile is never overwritten (the change is re-decided).
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": to_item({":expected": escalation.version}),
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
        if change.delete_texter:
            return {
                "Delete": {
                    "TableName": self._texters,
                    "Key": to_item({"texter_id": change.texter.texter_id}),
                    # Invariant: a text the texter sent meanwhile is decided again, not erased unseen.
                    "ConditionExpression": "version = :expected",
                    "ExpressionAttributeValues": to_item({":expected": expected}),
                }
            }
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
            requests: Sequence[WriteRequestTypeDef | WriteRequestOutputTypeDef] = [
                {"DeleteRequest": {"Key": key}} for key in batch
            ]
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

    def message_page(self, conversation_id: str, *, limit: int, before: str | None = None) -> MessagePage:
        """The newest ``limit`` messages before ``before``: one Query, newest first, reading one more item than the
        page to know whether earlier ones exist (so the last page never points at an empty one)."""
        condition = "conversation_id = :id" + (" AND message_key < :before" if before else "")
        values = {":id": conversation_id, **({":before": before} if before else {})}
        response = self._client.query(
            TableName=self._messages,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=to_item(values),
            ScanIndexForward=False,
            Limit=limit + 1,
            ConsistentRead=True,
        )
        newest = [StoredMessage.model_validate(from_item(item)) for item in response["Items"]]
        page = newest[:limit]
        return MessagePage(messages=page[::-1], older=page[-1].message_key if len(newest) > limit else None)

    def _message_keys(self, conversation_id: str) -> Iterator[dict[str, Any]]:
        for page in self._client.get_paginator("query").paginate(
            TableName=self._messages,
            KeyConditionExpression="conversation_id = :id",
            ExpressionAttributeValues=to_item({":id": conversation_id}),
            ProjectionExpression="conversation_id, message_key",
        ):
            yield from page["Items"]

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
