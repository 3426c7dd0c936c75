"""Erasing messages from Twilio with the real ``twilio`` client, the erasure queue on SQS, and whether a conversation
is still open (a consistent read of the conversations table)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from peerline.adapters.aws import dynamodb
from peerline.adapters.aws import sqs as sqs_client_
from peerline.adapters.dynamo import to_item
from peerline.adapters.queues import MAX_DELAY_SECONDS, _send_batch
from peerline.errors import TransientSmsError
from peerline.models import OPEN_STATES
from peerline.twilio_erasure import MESSAGE_IN_FLIGHT, MessageErasure, MessageInFlightError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef


class TwilioMessageEraser:
    """Deletes a message and its media from the Twilio account (``client.messages(sid).delete()``)."""

    def __init__(
        self, *, account_sid: str, auth_token: str, api_base_url: str | None = None, timeout_seconds: float = 10
    ) -> None:
        self._client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout_seconds))
        if api_base_url:
            self._client.api.base_url = api_base_url.rstrip("/")

    def delete_with_media(self, message_sid: str) -> None:
        message = self._client.api.v2010.account.messages(message_sid)
        try:
            # Media first: deleting a message does not delete its media, and a deleted message can't list them.
            for media in message.media.list():
                _gone_is_done(message.media(str(media.sid)).delete)
            _gone_is_done(message.delete)
        except TwilioRestException as error:
            if error.code == MESSAGE_IN_FLIGHT:
                raise MessageInFlightError(message_sid) from error
            if error.status == 404:
                return  # erased already (a retried or duplicated job)
            if error.status == 429 or error.status >= 500:
                raise TransientSmsError(error.status, error.code) from error
            raise
        except TwilioException as error:
            # A list page that failed comes as a bare TwilioException carrying the HTTP response.
            status = getattr(error.args[1] if len(error.args) > 1 else None, "status_code", None)
            if status == 404:
                return  # the message is gone already, and with it the way to its media
            if status is None or status == 429 or status >= 500:
                raise TransientSmsError(status) from error
            raise
        except requests.RequestException as error:
            raise TransientSmsError(None) from error


def _gone_is_done(delete: Callable[[], object]) -> None:
    """Call ``delete``; Twilio's 404 means someone (an earlier attempt) deleted it already."""
    try:
        delete()
    except TwilioRestException as error:
        if error.status != 404:
            raise


class SqsErasureQueue:
    """Erasure jobs on a standard queue (FIFO queues can't delay one message; jobs need no order)."""

    def __init__(self, queue_url: str, sqs_client: SQSClient | None = None) -> None:
        self._queue_url = queue_url
        self._sqs = sqs_client

    def schedule(self, erasures: Sequence[MessageErasure], *, delay_seconds: int = 0) -> None:
        entries: list[SendMessageBatchRequestEntryTypeDef] = [
            {
                "Id": str(index),
                "MessageBody": erasure.model_dump_json(),
                "DelaySeconds": min(MAX_DELAY_SECONDS, max(0, delay_seconds)),
            }
            for index, erasure in enumerate(erasures)
        ]
        if entries:
            _send_batch(self._queue_url, entries, self._sqs or sqs_client_())


class DynamoOpenConversations:
    """Whether a conversation is still open; a closed one is either kept closed (consent) or deleted (none)."""

    def __init__(self, conversations_table: str, dynamodb_client: DynamoDBClient | None = None) -> None:
        self._table = conversations_table
        self._dynamodb = dynamodb_client

    def is_open(self, conversation_id: str) -> bool:
        item = (
            (self._dynamodb or dynamodb())
            .get_item(
                TableName=self._table,
                Key=to_item({"conversation_id": conversation_id}),
                ProjectionExpression="#state",
                ExpressionAttributeNames={"#state": "state"},
                ConsistentRead=True,
            )
            .get("Item")
        )
        return item is not None and item["state"].get("S") in {state.value for state in OPEN_STATES}
