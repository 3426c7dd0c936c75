"""Errors the domain and its adapters share (adapters turn library exceptions into these)."""

from __future__ import annotations


class TransientSmsError(Exception):
    """Twilio said "not now" (HTTP 429 / 5xx) or could not be reached: safe to retry later."""

    def __init__(self, status: int | None, code: int | None = None) -> None:
        super().__init__(f"transient SMS failure (status={status}, code={code})")
        self.status = status
        self.code = code


class PermanentSmsError(Exception):
    """Twilio refused the text for good (e.g. 21610 unsubscribed, 21211 invalid number): never retry."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"permanent SMS failure (code={code})")
        self.code = code
        self.reason = reason
