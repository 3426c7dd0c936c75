"""A function host's invoke URL as API Gateway and event sources see it, and waiting on what it does."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests


class FunctionInvokeError(Exception):
    """The function raised (Lambda's "FunctionError"); the event counts as failed."""


@dataclass
class FunctionEndpoint:
    """A running function host: where to POST events."""

    logical_id: str
    url: str
    session: requests.Session

    def invoke(self, event: dict[str, Any], timeout: float = 120) -> Any:
        response = self.session.post(self.url, data=json.dumps(event), timeout=timeout)
        response.raise_for_status()
        payload = response.json()
        if "error" in payload:
            raise FunctionInvokeError(f"{self.logical_id}: {payload['error']['errorType']}")
        return payload["result"]




def wait_until(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
