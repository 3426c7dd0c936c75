"""Cached boto3 clients, typed with the boto3 stubs. Built on first use, so a cold start pays only for what it uses.

Endpoints come from the standard AWS configuration (``AWS_ENDPOINT_URL`` points everything at moto locally).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

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
    client_: DynamoDBClient = client("dynamodb")
    return client_


def sqs() -> SQSClient:
    client_: SQSClient = client("sqs")
    return client_


def kms() -> KMSClient:
    client_: KMSClient = client("kms")
    return client_


def sns() -> SNSClient:
    client_: SNSClient = client("sns")
    return client_


def secretsmanager() -> SecretsManagerClient:
    client_: SecretsManagerClient = client("secretsmanager")
    return client_
