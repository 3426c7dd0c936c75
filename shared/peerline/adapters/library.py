"""The dashboard library on DynamoDB: one item, replaced whole by a supervisor's edit."""

from __future__ import annotations

from peerline.adapters.dynamo import DynamoTable, to_item
from peerline.library import DEFAULT_LIBRARY, Library

_KEY = "default"


class DynamoLibrary(DynamoTable):
    def get(self) -> Library:
        values = self._get_item({"library_id": _KEY})
        if not values:
            return DEFAULT_LIBRARY
        return Library.model_validate(
            {"canned_responses": values["canned_responses"], "resources": values["resources"]}
        )

    def put(self, library: Library, edited_by: str) -> Library:
        self._client.put_item(
            TableName=self.table_name,
            Item=to_item({"library_id": _KEY, "edited_by": edited_by, **library.model_dump(mode="json")}),
        )
        return library
