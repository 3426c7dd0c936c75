"""Calling the Lambda handlers in-process, as the Lambda runtime and its SQS event source would (tests, benchmarks)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

_handlers: dict[str, ModuleType] = {}


def load_handler(code_uri: Path) -> ModuleType:
    """Import ``<code_uri>/handler.py`` under a unique module name (every function's module is called `handler`)."""
    key = str(code_uri.resolve())
    if key not in _handlers:
        spec = importlib.util.spec_from_file_location(f"handler_{code_uri.name}", code_uri / "handler.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        _handlers[key] = module
    return _handlers[key]


class FakeLambdaContext:
    """The parts of the Lambda context object that handlers and Powertools use."""

    function_name = "test-function"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Receive and delete everything visible on a queue."""
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
        if not batch:
            return messages
        messages += batch
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def sqs_event(messages: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The event Lambda's SQS event source gives a function for these received messages."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:queue",
                "awsRegion": "us-east-1",
            }
            for message in messages
        ]
    }
