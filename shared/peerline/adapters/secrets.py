"""Secrets Manager, cached for a few minutes so rotation is picked up without a redeploy."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from peerline.adapters.aws import secretsmanager

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

_CACHE_SECONDS = 300
_cache: dict[str, tuple[float, str]] = {}


def secret_string(secret_id: str, *, secrets_client: SecretsManagerClient | None = None) -> str:
    """The secret's current string value."""
    cached = _cache.get(secret_id)
    if cached and time.monotonic() - cached[0] < _CACHE_SECONDS:
        return cached[1]
    value: str = (secrets_client or secretsmanager()).get_secret_value(SecretId=secret_id)["SecretString"]
    _cache[secret_id] = (time.monotonic(), value)
    return value


def forget_cached_secrets() -> None:
    """Drop cached values (tests, and the local line between runs)."""
    _cache.clear()


@dataclass(frozen=True)
class TwilioCredentials:
    account_sid: str
    auth_token: str


def twilio_credentials(secret_name: str, *, secrets_client: SecretsManagerClient | None = None) -> TwilioCredentials:
    """The Twilio account SID and auth token from a JSON secret ``{"account_sid", "auth_token"}``."""
    payload = json.loads(secret_string(secret_name, secrets_client=secrets_client))
    return TwilioCredentials(account_sid=payload["account_sid"], auth_token=payload["auth_token"])
