"""DynamoDB reads for routing: volunteers, the waiting queue, who holds what (writes go through the one commit)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from peerline.adapters.dynamo import (
    DynamoConversationRepository,
    conversation_from,
    from_item,
    to_item,
)
from peerline.adapters.volunteers import DynamoVolunteerRegistry, volunteer_from
from peerline.models import (
    OPEN_STATES,
    ConversationRecord,
    ConversationState,
    VolunteerRecord,
    VolunteerStatus,
)
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
