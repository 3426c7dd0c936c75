"""The volunteer registry on DynamoDB (keyed by Cognito ``sub``)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from peerline.adapters.dynamo import DynamoTable, from_item, to_item
from peerline.models import VolunteerRecord, VolunteerStatus


class VolunteerExistsError(Exception):
    """A volunteer with this id is already registered."""


class UnknownVolunteerError(Exception):
    """No volunteer with this id is registered."""


def volunteer_item(volunteer: VolunteerRecord) -> dict[str, Any]:
    return to_item(volunteer.model_dump(mode="json"))


def volunteer_from(item: dict[str, Any]) -> VolunteerRecord:
    return VolunteerRecord.model_validate(from_item(item))


class DynamoVolunteerRegistry(DynamoTable):
    """Reads and administrative writes of volunteers. Routing's own writes go through transactions elsewhere."""

    def get(self, volunteer_id: str) -> VolunteerRecord | None:
        values = self._get_item({"volunteer_id": volunteer_id})
        return VolunteerRecord.model_validate(values) if values else None

    def create(self, volunteer: VolunteerRecord) -> None:
        """Register a new volunteer; ``VolunteerExistsError`` if the id is taken."""
        try:
            self._client.put_item(
                TableName=self.table_name,
                Item=volunteer_item(volunteer),
                ConditionExpression="attribute_not_exists(volunteer_id)",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise VolunteerExistsError(volunteer.volunteer_id) from error
            raise

    def replace(self, volunteer: VolunteerRecord, expected_version: int) -> None:
        """Write a changed volunteer if nobody changed it since ``expected_version`` was read."""
        updated = volunteer.model_copy(update={"version": expected_version + 1})
        try:
            self._client.put_item(
                TableName=self.table_name,
                Item=volunteer_item(updated),
                # Invariant: an admin edit never overwrites a concurrent routing change (load, status).
                ConditionExpression="version = :expected",
                ExpressionAttributeValues=to_item({":expected": expected_version}),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise UnknownVolunteerError(volunteer.volunteer_id) from error
            raise

    def delete(self, volunteer_id: str) -> None:
        self._client.delete_item(TableName=self.table_name, Key=to_item({"volunteer_id": volunteer_id}))

    def all(self) -> list[VolunteerRecord]:
        volunteers: list[VolunteerRecord] = []
        for page in self._client.get_paginator("scan").paginate(TableName=self.table_name, ConsistentRead=True):
            volunteers += [volunteer_from(item) for item in page["Items"]]
        return sorted(volunteers, key=lambda volunteer: volunteer.username)

    def available(self) -> list[VolunteerRecord]:
        """Available volunteers, least recently assigned first (the index nominates; records are re-read)."""
        ids: list[str] = []
        for page in self._client.get_paginator("query").paginate(
            TableName=self.table_name,
            IndexName="ByStatus",
            KeyConditionExpression="#status = :available",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item({":available": VolunteerStatus.AVAILABLE.value}),
        ):
            ids += [str(from_item(item)["volunteer_id"]) for item in page["Items"]]
        volunteers = [volunteer for volunteer_id in ids if (volunteer := self.get(volunteer_id))]
        return [volunteer for volunteer in volunteers if volunteer.status is VolunteerStatus.AVAILABLE]
