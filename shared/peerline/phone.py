"""Phone numbers: pseudonymous texter ids and masking for anything a person might read."""

from __future__ import annotations

import hashlib
import hmac
import re

E164_PATTERN = re.compile(r"^\+[1-9]\d{6,14}$")
# Anything that looks like a phone number inside free text (log lines, error messages).
# Fixed (unit tests, test_phone.py): the old pattern also matched digit runs inside ids and every ISO timestamp, so
# each Powertools log line came out as "timestamp":"2•••••2520:00:57". A run must now stand alone (not inside an id
# like SM0…01 or c20240501…; a URL-encoded "%2B" before it still counts as standing alone) and not be a date or an
# IPv4 address (the local line's "http://127.0.0.1:…" URLs).
_NUMBER_IN_TEXT = re.compile(
    r"(?:(?<=%2B)|(?<![\w.\-]))(?!\d{4}-\d{2}-\d{2}|\d{1,3}(?:\.\d{1,3}){3}\b)\+?\d[\d\-\s().]{6,}\d(?!\w)"
)


def is_e164(number: str) -> bool:
    """True when ``number`` is in E.164 form (``+`` then 7 to 15 digits)."""
    # Fixed (unit tests): fullmatch, because ``$`` also matches before a trailing newline ("+1555…\n").
    return bool(E164_PATTERN.fullmatch(number))


def texter_id_for(number: str, pepper: str) -> str:
    """The texter's id inside Peerline: HMAC-SHA256 of the E.164 number with the secret pepper.

    Stable for the same number, so a returning texter is recognised, and useless without the pepper.
    """
    return hmac.new(pepper.encode(), number.encode(), hashlib.sha256).hexdigest()


def texter_alias(texter_id: str) -> str:
    """What volunteers see instead of a number, e.g. ``Texter 4F2A``."""
    return f"Texter {texter_id[:4].upper()}"


def mask_number(number: str) -> str:
    """``+15555550001`` → ``+1•••••0001``: enough to tell test numbers apart, never enough to call."""
    digits = re.sub(r"\D", "", number)
    if len(digits) < 5:
        return "•" * len(digits)
    prefix = "+" if number.strip().startswith("+") else ""
    return f"{prefix}{digits[0]}•••••{digits[-4:]}"


def mask_phone_numbers(text: str) -> str:
    """Mask every phone-number-looking run inside free text."""
    return _NUMBER_IN_TEXT.sub(lambda match: mask_number(match.group(0)), text)
