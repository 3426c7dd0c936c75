"""Cached boto3 clients, typed with the boto3 stubs. Built on first use, so a cold start pays only for what it uses.

Endpoints come from the standard AWS configuration (``AWS_ENDPOINT_URL`` points everything at moto locally).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, cast

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10)


@cache
def client(service: str) -> Any:
    """The process-wide boto3 client for ``service`` (untyped: prefer the typed accessors below)."""
    return boto3.session.Session().client(service, config=_CONFIG)  # type: ignore[call-overload]


def dynamodb() -> DynamoDBClient:
    return cast("DynamoDBClient", client("dynamodb"))


def sqs() -> SQSClient:
    return cast("SQSClient", client("sqs"))


def kms() -> KMSClient:
    return cast("KMSClient", client("kms"))


def sns() -> SNSClient:
    return cast("SNSClient", client("sns"))


def secretsmanager() -> SecretsManagerClient:
    return cast("SecretsManagerClient", client("secretsmanager"))
