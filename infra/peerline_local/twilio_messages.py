"""What the Twilio fake stores and answers: messages in Twilio's JSON, segment counts, faults, API errors."""

from __future__ import annotations

import base64
import http
import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

API_VERSION = "2010-04-01"
DEFAULT_SIMULATED_TEXTER = "+15555550100"

# The GSM 03.38 basic alphabet (one septet each) and its extension table (two septets: escape + char). Texts with any
# other character go out as UCS-2, which is what makes an emoji cut a segment from 160 to 70 characters.
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")



class InboundWebhookNotConfiguredError(RuntimeError):
    """``send_inbound`` was called before anyone told the fake where the line's inbound webhook is."""


def new_message_sid() -> str:
    """A Twilio-shaped message sid: ``SM`` and 32 hex digits."""
    return "SM" + uuid.uuid4().hex


def new_media_sid() -> str:
    """A Twilio-shaped media sid: ``ME`` and 32 hex digits."""
    return "ME" + uuid.uuid4().hex


# Statuses after which Twilio has finished with a message; before them it refuses a DELETE with 20009.
FINAL_STATUSES = frozenset({"delivered", "undelivered", "failed", "received", "read", "canceled"})


def count_segments(body: str) -> int:
    """How many SMS segments Twilio would bill ``body`` as (GSM-7: 160, or 153 when split; UCS-2: 70, or 67)."""
    if all(character in _GSM_BASIC or character in _GSM_EXTENDED for character in body):
        septets = sum(2 if character in _GSM_EXTENDED else 1 for character in body)
        single, per_part = 160, 153
    else:
        # UCS-2 counts UTF-16 code units: an emoji outside the BMP takes two.
        septets = len(body.encode("utf-16-le")) // 2
        single, per_part = 70, 67
    if septets <= single:
        return 1
    return math.ceil(septets / per_part)


def _rfc2822(moment: datetime) -> str:
    """Twilio's date format: ``Wed, 25 Nov 2026 19:44:32 +0000``."""
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0))


@dataclass
class StoredMedia:
    """One media item (an MMS picture) attached to a message."""

    sid: str
    content_type: str
    created_at: datetime

    def as_twilio_json(self, account_sid: str, message_sid: str) -> dict[str, Any]:
        """The media resource exactly as Twilio's REST API renders it."""
        return {
            "account_sid": account_sid,
            "content_type": self.content_type,
            "date_created": _rfc2822(self.created_at),
            "date_updated": _rfc2822(self.created_at),
            "parent_sid": message_sid,
            "sid": self.sid,
            "uri": f"/{API_VERSION}/Accounts/{account_sid}/Messages/{message_sid}/Media/{self.sid}.json",
        }


@dataclass
class StoredMessage:
    """One text the fake knows about, sent through the API or received from a simulated texter."""

    sid: str
    account_sid: str
    to: str
    from_: str
    body: str
    direction: str  # "outbound-api" or "inbound"
    status: str
    created_at: datetime
    sequence: int
    messaging_service_sid: str | None = None
    sent_at: datetime | None = None
    updated_at: datetime | None = None
    media: list[StoredMedia] = field(default_factory=list)
    # Deleted from the account (the REST API no longer knows it); the phones that sent or received it still do.
    deleted: bool = False

    def as_twilio_json(self) -> dict[str, Any]:
        """The message resource exactly as Twilio's REST API renders it."""
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}.json"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": _rfc2822(self.created_at),
            "date_sent": _rfc2822(self.sent_at) if self.sent_at else None,
            "date_updated": _rfc2822(self.updated_at or self.created_at),
            "direction": self.direction,
            "error_code": None,
            "error_message": None,
            "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": str(len(self.media)),
            "num_segments": str(count_segments(self.body)),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {
                "media": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}/Media.json",
                "feedback": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}/Feedback.json",
            },
            "to": self.to,
            "uri": uri,
        }

    def as_simulator_json(self) -> dict[str, Any]:
        """The small shape the simulator page renders as a chat bubble."""
        return {
            "sid": self.sid,
            "direction": "inbound" if self.direction == "inbound" else "outbound",
            "body": self.body,
            "status": self.status,
            "at": self.created_at.isoformat(),
        }


@dataclass
class Fault:
    """A failure the next matching ``Messages.json`` POSTs answer with, instead of creating a message."""

    status: int
    code: int | None
    message: str
    remaining: int
    to: str | None


@dataclass(order=True)
class StatusStep:
    """One step of a message's delivery, due at ``due`` (a ``time.monotonic`` reading)."""

    due: float
    order: int
    message_sid: str = field(compare=False)
    status: str = field(compare=False)
    callback_url: str | None = field(compare=False)


class TwilioApiError(Exception):
    """An error to answer in Twilio's JSON error shape."""

    def __init__(self, status: int, code: int | None, message: str, *, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def as_json(self) -> dict[str, Any]:
        return twilio_error_json(self.status, self.code, self.message)


def twilio_error_json(status: int, code: int | None, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message or http.HTTPStatus(status).phrase,
        "more_info": f"https://www.twilio.com/docs/errors/{code}" if code is not None else None,
        "status": status,
    }


def not_found(path: str) -> TwilioApiError:
    return TwilioApiError(404, 20404, f"The requested resource {path} was not found")


def basic_credentials(authorization: str | None) -> tuple[str, str]:
    """(username, password) from a Basic Authorization header; empty strings when absent or malformed."""
    if not authorization or not authorization.lower().startswith("basic "):
        return "", ""
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return "", ""
    username, _, password = decoded.partition(":")
    return username, password
