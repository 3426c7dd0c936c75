"""Phone numbers: pseudonymous texter ids and masking for anything a person might read."""

from __future__ import annotations

import hashlib
import hmac
import re

E164_PATTERN = re.compile(r"^\+[1-9]\d{6,14}$")
# Anything that looks like a phone number inside free text (log lines, error messages, tracebacks), see
# mask_phone_numbers. History (test_phone.py): the first pattern masked digit runs inside ids and every ISO timestamp
# ("timestamp":"2•••••2520:00:57"); the second kept ARNs, queue URLs, UUIDs and hex ids readable but only masked a
# number standing alone, so "x15555550001" (a number glued to letters) leaked. Now ids and timestamps are recognised
# first and kept whole, and any other run of 10 to 15 digits (7 to 15 after a "+") is masked wherever it stands.
_NOT_ALNUM_BEFORE = r"(?<![0-9A-Za-z])"
_NOT_ALNUM_AFTER = r"(?![0-9A-Za-z])"
# Ids and times whose digit runs are no phone number. Each is consumed whole before a number is looked for at the same
# place, so none of its digits is masked, while a number anywhere around it still is.
_IDS_IN_TEXT = (
    # An ARN's head up to its 12-digit account id ("arn:aws:lambda:us-east-1:123456789012:"); the resource after it
    # is still searched.
    r"\barn:[\w-]+:[\w-]*:[\w-]*:\d{12}:",
    # An SQS queue URL's account id ("http://127.0.0.1:4566/123456789012/peerline-inbound.fifo").
    r"\bhttps?://[\w.:-]+/\d{12}/",
    # UUIDs (Lambda request ids, KMS key ids, idempotency tokens), in either case.
    rf"{_NOT_ALNUM_BEFORE}[0-9a-fA-F]{{8}}(?:-[0-9a-fA-F]{{4}}){{3}}-[0-9a-fA-F]{{12}}{_NOT_ALNUM_AFTER}",
    # X-Ray trace ids ("1-67891233-abcdef012345678912345678").
    rf"{_NOT_ALNUM_BEFORE}1-[0-9a-fA-F]{{8}}-[0-9a-fA-F]{{24}}{_NOT_ALNUM_AFTER}",
    # Twilio SIDs: two capital letters and 32 hex digits (AC, SM, MM, PN, MG, ME...).
    rf"{_NOT_ALNUM_BEFORE}[A-Z]{{2}}[0-9a-fA-F]{{32}}{_NOT_ALNUM_AFTER}",
    # ISO dates and times ("2024-05-01", "2024-05-25 20:00:57,417+0000", "2024-05-01T12:00:00.5+00:00").
    r"(?<!\d)\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?(?!\d)",
    # IPv4 addresses (the local line's "http://127.0.0.1:…" URLs).
    r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?!\.?\d)",
    # Hex strings of 16 or more characters (texter ids, conversation ids, hashes), even all digits: E.164 numbers
    # have at most 15. Not right after a "+" (a number with hex letters glued after it) or a "%" ("%2B1555…" is a
    # URL-encoded "+1555…", not the hex string "2B1555…").
    rf"(?<![0-9A-Za-z+%])[0-9a-fA-F]{{16,}}{_NOT_ALNUM_AFTER}",
)
_ID_IN_TEXT = "|".join(_IDS_IN_TEXT)
# A run of digits, optionally after a "+", with at most two separators between digits ("(555) 555-0002"). It stops
# where an id starts ("5555550001 1-67891233-…" masks the number only); letters around it don't matter.
_NUMBER_IN_TEXT = rf"(?<!\d)\+?\d(?:[\-\s().]{{0,2}}(?!{_ID_IN_TEXT})\d)*(?!\d)"
_ID_OR_NUMBER_IN_TEXT = re.compile(f"(?P<id>{_ID_IN_TEXT})|{_NUMBER_IN_TEXT}")
_E164_MAX_DIGITS = 15


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
    """Mask every phone-number-looking run inside free text, even glued to letters (``x15555550001``, ``tel:+1…``,
    ``From=%2B1…``); ARNs, UUIDs, Twilio SIDs, hex ids, ISO timestamps and IPv4 addresses stay readable.

    A bare run of 10 to 15 digits is masked whatever it is: an epoch time in seconds or milliseconds is masked too,
    because it can't be told from a number and a leaked number costs more than an unreadable timestamp.
    """
    return _ID_OR_NUMBER_IN_TEXT.sub(_masked_unless_id, text)


def _masked_unless_id(match: re.Match[str]) -> str:
    return match.group(0) if match.group("id") is not None else _masked_if_a_number(match.group(0))


def _masked_if_a_number(run: str) -> str:
    digits = sum(character.isdigit() for character in run)
    if 10 <= digits <= _E164_MAX_DIGITS or (run.startswith("+") and 7 <= digits <= _E164_MAX_DIGITS):
        return mask_number(run)
    if digits > _E164_MAX_DIGITS and any(character.isspace() for character in run):
        # Too long for one number: several numbers (or a number beside other digits) separated by spaces.
        return re.sub(r"\S+", lambda part: _masked_if_a_number(part.group(0)), run)
    return run
