"""Escalations and the on-call rota on DynamoDB; pages on SNS."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from peerline.adapters.aws import dynamodb, sns
from peerline.adapters.dynamo import DynamoTable, from_item, to_item
from peerline.escalation import PageTarget
from peerline.models import EscalationRecord, EscalationStatus, Notification, OnCallMember
from peerline.number_context import FALLBACK_ONCALL_ID, NumberOwner, oncall_number
from peerline.phone import mask_number
from peerline.ports import ConcurrentUpdateError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sns import SNSClient

logger = logging.getLogger(__name__)


class DynamoEscalationStore(DynamoTable):
    """Escalations with their audit trail; every change is conditioned on the version it was read at."""

    def get(self, escalation_id: str) -> EscalationRecord | None:
        values = self._get_item({"escalation_id": escalation_id})
        return EscalationRecord.model_validate(values) if values else None

    def find_by_code(self, code: str) -> list[EscalationRecord]:
        response = self._client.query(
            TableName=self.table_name,
            IndexName="ByCode",
            KeyConditionExpression="code = :code",
            ExpressionAttributeValues=to_item({":code": code}),
        )
        ids = [str(from_item(item)["escalation_id"]) for item in response["Items"]]
        return [escalation for escalation_id in ids if (escalation := self.get(escalation_id))]

    def replace(self, escalation: EscalationRecord, expected_version: int) -> None:
        updated = escalation.model_copy(update={"version": expected_version + 1})
        try:
            self._client.put_item(
                TableName=self.table_name,
                Item=to_item(updated.model_dump(mode="json")),
                # Invariant: a page, an acknowledgement and an audit entry never overwrite one another.
                ConditionExpression="version = :expected",
                ExpressionAttributeValues=to_item({":expected": expected_version}),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ConcurrentUpdateError(escalation.escalation_id) from error
            raise

    def linked_to(self, *, texter_id: str | None = None, conversation_id: str | None = None) -> list[EscalationRecord]:
        """A filtered scan: run only at an erasure, and at the close of a conversation that was escalated."""
        conditions: list[str] = []
        values: dict[str, str] = {}
        if texter_id:
            conditions.append("texter_id = :texter")
            values[":texter"] = texter_id
        if conversation_id:
            conditions.append("conversation_id = :conversation")
            values[":conversation"] = conversation_id
        if not conditions:
            return []
        escalations: list[EscalationRecord] = []
        for page in self._client.get_paginator("scan").paginate(
            TableName=self.table_name,
            FilterExpression=" OR ".join(conditions),
            ExpressionAttributeValues=to_item(values),
            ConsistentRead=True,
        ):
            escalations += [EscalationRecord.model_validate(from_item(item)) for item in page["Items"]]
        return escalations

    def open_escalations(self) -> list[EscalationRecord]:
        escalations: list[EscalationRecord] = []
        for page in self._client.get_paginator("scan").paginate(
            TableName=self.table_name,
            FilterExpression="#status = :open",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item({":open": EscalationStatus.OPEN.value}),
            ConsistentRead=True,
        ):
            escalations += [EscalationRecord.model_validate(from_item(item)) for item in page["Items"]]
        return sorted(escalations, key=lambda escalation: escalation.created_at)


class DynamoOnCallDirectory:
    """The on-call rota (ordered by position), with the deployment's fallback number after it.

    ``encrypt`` is only used for the fallback number, which arrives as a parameter; it gets a fixed id rather than
    an HMAC one, so that no function but the webhook needs the pepper (the webhook gives texts from it that id).
    """

    def __init__(
        self,
        table_name: str,
        *,
        fallback_number: str = "",
        encrypt: Callable[[str, NumberOwner], str] | None = None,
        dynamodb_client: DynamoDBClient | None = None,
    ) -> None:
        self.table_name = table_name
        self._fallback_number = fallback_number
        self._encrypt = encrypt
        self._dynamodb = dynamodb_client

    @property
    def _client(self) -> DynamoDBClient:
        return self._dynamodb or dynamodb()

    def members(self) -> list[OnCallMember]:
        members: list[OnCallMember] = []
        for page in self._client.get_paginator("scan").paginate(TableName=self.table_name, ConsistentRead=True):
            members += [OnCallMember.model_validate(from_item(item)) for item in page["Items"]]
        return sorted(members, key=lambda member: (member.position, member.name))

    @cached_property
    def _fallback(self) -> PageTarget | None:
        if not self._fallback_number or self._encrypt is None:
            return None
        return PageTarget(
            target_id=FALLBACK_ONCALL_ID,
            name=f"fallback on-call ({mask_number(self._fallback_number)})",
            encrypted_number=self._encrypt(self._fallback_number, oncall_number(FALLBACK_ONCALL_ID)),
        )

    def targets(self) -> list[PageTarget]:
        targets = [
            PageTarget(target_id=member.oncall_id, name=member.name, encrypted_number=member.encrypted_number)
            for member in self.members()
        ]
        if self._fallback is not None and all(target.target_id != self._fallback.target_id for target in targets):
            targets.append(self._fallback)
        return targets

    def member_for(self, sender_id: str) -> PageTarget | None:
        item = self._client.get_item(
            TableName=self.table_name, Key=to_item({"oncall_id": sender_id}), ConsistentRead=True
        ).get("Item")
        if item:
            member = OnCallMember.model_validate(from_item(item))
            return PageTarget(target_id=member.oncall_id, name=member.name, encrypted_number=member.encrypted_number)
        if self._fallback is not None and self._fallback.target_id == sender_id:
            return self._fallback
        return None

    def add(self, member: OnCallMember) -> None:
        self._client.put_item(TableName=self.table_name, Item=to_item(member.model_dump(mode="json")))

    def remove(self, oncall_id: str) -> bool:
        response = self._client.delete_item(
            TableName=self.table_name, Key=to_item({"oncall_id": oncall_id}), ReturnValues="ALL_OLD"
        )
        return bool(response.get("Attributes"))


class SnsNotifier:
    """Pages on the paging topic (e-mail, SMS or a paging service subscribe to it)."""

    def __init__(self, topic_arn: str, sns_client: SNSClient | None = None) -> None:
        self._topic_arn = topic_arn
        self._sns = sns_client

    def publish(self, notifications: Sequence[Notification]) -> None:
        for notification in notifications:
            (self._sns or sns()).publish(
                TopicArn=self._topic_arn,
                Subject=notification.subject[:100],
                Message=notification.message,
                MessageAttributes={"dedup_key": {"DataType": "String", "StringValue": notification.dedup_key}},
            )
            logger.info("page published", extra={"dedup_key": notification.dedup_key})
