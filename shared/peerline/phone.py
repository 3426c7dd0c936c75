"""Phone numbers: pseudonymous texter ids and masking for anything a person might read."""

from __future__ import annotations

import hashlib
import hmac
import re

E164_PATTERN = re.compile(r"^\+[1-9]\d{6,14}$")
# Anything that looks like a phone number inside free text (log lines, error messages), see _NUMBER_IN_TEXT.
# Fixed (unit tests, test_phone.py): the old pattern also matched digit runs inside ids and every ISO timestamp, so
# each Powertools log line came out as "timestamp":"2•••••2520:00:57". A run must now stand alone (not inside an id
# like SM0…01 or c20240501…; a URL-encoded "%2B" before it still counts as standing alone) and not be a date or an
# IPv4 address (the local line's "http://127.0.0.1:…" URLs). Fixed again (test_phone.py): digit runs of ARNs,
# queue URLs, UUIDs and hex ids were masked too ("arn:aws:lambda:us-east-1:1•••••9012:…").
# Ids whose digit runs stand alone yet are no phone number. Each is consumed whole before a number is looked for at
# the same place, so none of its digits is masked, while a number anywhere around it still is.
_IDS_IN_TEXT = (
    # An ARN's head up to its 12-digit account id ("arn:aws:lambda:us-east-1:123456789012:"); the resource after it
    # is still searched.
    r"\barn:[\w-]+:[\w-]*:[\w-]*:\d{12}:",
    # An SQS queue URL's account id ("http://127.0.0.1:4566/123456789012/peerline-inbound.fifo").
    r"\bhttps?://[\w.:-]+/\d{12}/",
    # UUIDs (Lambda request ids, KMS key ids, idempotency tokens), in either case.
    r"(?<![\w-])[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}(?![\w-])",
    # X-Ray trace ids ("1-67891233-abcdef012345678912345678").
    r"(?<![\w-])1-[0-9a-fA-F]{8}-[0-9a-fA-F]{24}(?![\w-])",
    # Hex strings of 16 or more characters (request ids, hashes), even all digits: E.164 numbers have at most 15.
    r"(?<![\w-])[0-9a-fA-F]{16,}(?![\w-])",
)
_ID_IN_TEXT = "|".join(_IDS_IN_TEXT)
# A number's run of digits and separators stops where an id starts ("5555550001 1-67891233-…" masks the number only).
_NUMBER_IN_TEXT = (
    r"(?:(?<=%2B)|(?<![\w.\-]))(?!\d{4}-\d{2}-\d{2}|\d{1,3}(?:\.\d{1,3}){3}\b)"
    rf"\+?\d(?:(?!{_ID_IN_TEXT})[\d\-\s().]){{6,}}(?!{_ID_IN_TEXT})\d(?!\w)"
)
_ID_OR_NUMBER_IN_TEXT = re.compile(f"(?P<id>{_ID_IN_TEXT})|{_NUMBER_IN_TEXT}")


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
    """Mask every phone-number-looking run inside free text; the digits of ARNs, UUIDs and hex ids stay readable."""
    return _ID_OR_NUMBER_IN_TEXT.sub(_masked_unless_id, text)


def _masked_unless_id(match: re.Match[str]) -> str:
    return match.group(0) if match.group("id") is not None else mask_number(match.group(0))
