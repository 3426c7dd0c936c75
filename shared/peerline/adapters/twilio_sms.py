"""Sending SMS with the real ``twilio`` REST client (pointed at the local fake off AWS)."""

from __future__ import annotations

from dataclasses import dataclass

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from peerline.errors import PermanentSmsError, TransientSmsError


@dataclass(frozen=True)
class SentSms:
    message_sid: str
    status: str


class TwilioSmsGateway:
    """Sends one text from the line's number, asking Twilio to report delivery to the status callback."""

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str,
        status_callback_url: str,
        api_base_url: str | None = None,
        timeout_seconds: float = 10,
    ) -> None:
        self._client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout_seconds))
        if api_base_url:
            self._client.api.base_url = api_base_url.rstrip("/")
        self._from = from_number
        self._status_callback_url = status_callback_url

    def send(self, to: str, body: str) -> SentSms:
        try:
            message = self._client.api.v2010.account.messages.create(
                to=to, from_=self._from, body=body, status_callback=self._status_callback_url
            )
        except TwilioRestException as error:
            if error.status == 429 or error.status >= 500:
                raise TransientSmsError(error.status, error.code) from error
            raise PermanentSmsError(int(error.code or error.status), str(error.msg)) from error
        except requests.RequestException as error:
            raise TransientSmsError(None) from error
        return SentSms(message_sid=str(message.sid), status=str(message.status or "queued"))
