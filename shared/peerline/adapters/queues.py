"""SQS: the inbound FIFO queue, the outbound FIFO queue and the timer queue."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from peerline.adapters.aws import sqs as sqs_client_
from peerline.models import ConversationTimer, InboundText, OutboundText

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

# SQS's ceiling for a message delay; longer timers are re-delayed by the timer function.
MAX_DELAY_SECONDS = 900


class QueueSendError(Exception):
    """SQS did not take every message of a batch."""


def _send_batch(queue_url: str, entries: list[SendMessageBatchRequestEntryTypeDef], sqs: SQSClient) -> None:
    for start in range(0, len(entries), 10):
        response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries[start : start + 10])
        if response.get("Failed"):
            codes = sorted({failure.get("Code", "?") for failure in response["Failed"]})
            raise QueueSendError(f"{len(response['Failed'])} message(s) not queued: {', '.join(codes)}")


class SqsInboundQueue:
    """Texters' texts, one FIFO group per texter so each texter's texts are handled in order."""

    def __init__(self, queue_url: str, sqs_client: SQSClient | None = None) -> None:
        self._queue_url = queue_url
        self._sqs = sqs_client

    def enqueue(self, text: InboundText) -> None:
        (self._sqs or sqs_client_()).send_message(
            QueueUrl=self._queue_url,
            MessageBody=text.model_dump_json(),
            MessageGroupId=text.texter_id,
            # Twilio's MessageSid: a webhook retried within SQS's 5-minute window is queued once.
            MessageDeduplicationId=text.message_sid,
        )


class SqsOutboundQueue:
    """Texts to send, one FIFO group per recipient so texts to one person never overtake each other."""

    def __init__(self, queue_url: str, sqs_client: SQSClient | None = None) -> None:
        self._queue_url = queue_url
        self._sqs = sqs_client

    def enqueue(self, texts: Sequence[OutboundText]) -> None:
        entries: list[SendMessageBatchRequestEntryTypeDef] = [
            {
                "Id": str(index),
                "MessageBody": text.model_dump_json(),
                "MessageGroupId": text.recipient_id,
                "MessageDeduplicationId": text.outbound_id,
            }
            for index, text in enumerate(texts)
        ]
        if entries:
            _send_batch(self._queue_url, entries, self._sqs or sqs_client_())


class SqsTimerQueue:
    """Conversation timers as delayed messages on a standard queue (FIFO queues can't delay one message)."""

    def __init__(self, queue_url: str, sqs_client: SQSClient | None = None) -> None:
        self._queue_url = queue_url
        self._sqs = sqs_client

    def schedule(self, timers: Sequence[ConversationTimer]) -> None:
        now = datetime.now(UTC)
        entries: list[SendMessageBatchRequestEntryTypeDef] = [
            {
                "Id": str(index),
                "MessageBody": timer.model_dump_json(),
                "DelaySeconds": min(MAX_DELAY_SECONDS, max(0, math.ceil((timer.fire_at - now).total_seconds()))),
            }
            for index, timer in enumerate(timers)
        ]
        if entries:
            _send_batch(self._queue_url, entries, self._sqs or sqs_client_())
