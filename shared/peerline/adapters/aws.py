"""Cached boto3 clients. Built on first use, so a cold start pays only for what it uses.

Endpoints come from the standard AWS configuration (``AWS_ENDPOINT_URL`` points everything at moto locally).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10)


@cache
def client(service: str) -> Any:
    """The process-wide boto3 client for ``service``."""
    return boto3.session.Session().client(service, config=_CONFIG)  # type: ignore[call-overload]
