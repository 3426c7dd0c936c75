"""Powertools Idempotency on DynamoDB: a retried or replayed event is processed once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from pydantic import BaseModel

from peerline.adapters.aws import dynamodb

Model = TypeVar("Model", bound=BaseModel)


class Once:
    """Wraps ``action(item)`` so it runs once per key (a JMESPath into the item) within ``expires_after_seconds``.

    A failure deletes the in-progress record, so a retry runs the action again.
    """

    def __init__(self, *, table_name: str, key_path: str, expires_after_seconds: int) -> None:
        self.config = IdempotencyConfig(event_key_jmespath=key_path, expires_after_seconds=expires_after_seconds)
        self._persistence = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=dynamodb())

    def wrap(self, action: Callable[[Model], Any]) -> Callable[[Model], Any]:
        guarded = idempotent_function(
            data_keyword_argument="item", config=self.config, persistence_store=self._persistence
        )(lambda item: action(item))
        return lambda item: guarded(item=item)
