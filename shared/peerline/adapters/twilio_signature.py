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


class SecretTwilioSignatureChecker:
    """A ``TwilioSignatureChecker`` whose auth token is read (cached) from Secrets Manager at the check itself.

    So that a failing secret read is a failure of the check, which the webhook answers with the fallback reply, rather
    than an error raised while the handler is still assembling its arguments.
    """

    def __init__(self, secret_name: str) -> None:
        self._secret_name = secret_name

    def is_valid(self, url: str, params: Mapping[str, str], signature: str | None) -> bool:
        from peerline.adapters.secrets import twilio_credentials

        if not signature:
            return False
        auth_token = twilio_credentials(self._secret_name).auth_token
        return TwilioSignatureChecker(auth_token).is_valid(url, params, signature)
