"""Lambda's SQS event source: polls a queue and invokes the function with real SQS events, partial failures."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from peerline_local.emulators.endpoint import FunctionEndpoint

log = logging.getLogger("peerline.local")



class SqsEventSourcePoller:
    """One SQS event source mapping: receive, invoke with an SQS event, delete what succeeded."""

    def __init__(
        self,
        *,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        region: str,
        batch_size: int,
        report_batch_item_failures: bool,
        function: FunctionEndpoint,
        wait_seconds: int = 1,
        on_batch: Callable[[int, int], None] | None = None,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._queue_arn = queue_arn
        self._region = region
        # A single ReceiveMessage returns at most 10; Lambda batches beyond 10 only with a batching window.
        self._batch_size = max(1, min(batch_size, 10))
        self._report_failures = report_batch_item_failures
        self._function = function
        self._wait_seconds = wait_seconds
        self._on_batch = on_batch
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sqs-{function.logical_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._wait_seconds + 5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._poll_once()
            except Exception as error:  # keep polling: a moto hiccup must not stop the line
                log.warning("poller %s: %s", self._function.logical_id, type(error).__name__)
                self._stop.wait(0.5)

    def _poll_once(self) -> None:
        messages = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=self._wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return
        event = {"Records": [self._record(message) for message in messages]}
        try:
            result = self._function.invoke(event)
        except Exception as error:
            # The whole batch failed: nothing is deleted, every message comes back after its visibility timeout.
            log.warning("function %s failed a batch of %d: %s", self._function.logical_id, len(messages), error)
            self._report(len(messages), len(messages))
            return
        failed_ids: set[str] = set()
        if self._report_failures and isinstance(result, dict):
            failed_ids = {item["itemIdentifier"] for item in result.get("batchItemFailures") or []}
        done = [message for message in messages if message["MessageId"] not in failed_ids]
        for start in range(0, len(done), 10):
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                    for index, message in enumerate(done[start : start + 10])
                ],
            )
        self._report(len(messages), len(failed_ids))

    def _report(self, received: int, failed: int) -> None:
        if self._on_batch:
            self._on_batch(received, failed)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        body = message["Body"]
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": body,
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": self._queue_arn,
            "awsRegion": self._region,
        }
