"""Twilio's request signature, checked with twilio's own ``RequestValidator`` (a light import)."""

from __future__ import annotations

from collections.abc import Mapping

from twilio.request_validator import RequestValidator


class TwilioSignatureChecker:
    """Checks ``X-Twilio-Signature`` against the URL Twilio called and the form it posted."""

    def __init__(self, auth_token: str) -> None:
        self._validator = RequestValidator(auth_token)

    def is_valid(self, url: str, params: Mapping[str, str], signature: str | None) -> bool:
        if not signature:
            return False
        return bool(self._validator.validate(url, dict(params), signature))
