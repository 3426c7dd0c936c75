"""The dashboard library on DynamoDB: one item, replaced whole by a supervisor's edit."""

from __future__ import annotations

from typing import Any

from peerline.adapters.aws import client
from peerline.adapters.dynamo import from_item, to_item
from peerline.library import DEFAULT_LIBRARY, Library

_KEY = "default"


class DynamoLibrary:
    def __init__(self, table_name: str, dynamodb_client: Any = None) -> None:
        self._table = table_name
        self._dynamodb = dynamodb_client

    @property
    def _client(self) -> Any:
        return self._dynamodb or client("dynamodb")

    def get(self) -> Library:
        item = self._client.get_item(TableName=self._table, Key=to_item({"library_id": _KEY})).get("Item")
        if not item:
            return DEFAULT_LIBRARY
        values = from_item(item)
        return Library.model_validate(
            {"canned_responses": values["canned_responses"], "resources": values["resources"]}
        )

    def put(self, library: Library, edited_by: str) -> Library:
        self._client.put_item(
            TableName=self._table,
            Item=to_item({"library_id": _KEY, "edited_by": edited_by, **library.model_dump(mode="json")}),
        )
        return library
