"""Phone numbers: pseudonymous texter ids and masking for anything a person might read."""

from __future__ import annotations

import hashlib
import hmac
import re

E164_PATTERN = re.compile(r"^\+[1-9]\d{6,14}$")
# Anything that looks like a phone number inside free text (log lines, error messages).
_NUMBER_IN_TEXT = re.compile(r"\+?\d[\d\-\s().]{6,}\d")


def is_e164(number: str) -> bool:
    """True when ``number`` is in E.164 form (``+`` then 7 to 15 digits)."""
    return bool(E164_PATTERN.match(number))


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
