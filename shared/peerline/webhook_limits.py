"""What Twilio's webhooks may weigh: anything heavier is refused before it is decoded, parsed or signature-checked.

The webhook routes are open to the internet (no authorizer: Twilio signs, it doesn't log in), so the cost of a forged
request must not grow with its size. A 1.9 MB forged form used to cost about a second of CPU, parsed and HMAC'd whole
before the signature failed; refused on its length, it costs what reading a header costs.
"""

from __future__ import annotations

from collections.abc import Mapping

# Twilio's SMS/MMS webhook form is about 20 fields plus two per media item (at most 10): a few KB at most. The worst
# genuine case is a 1,600-character body (Twilio's limit) of 3-byte UTF-8 characters, percent-encoded to 9 bytes each:
# 14.4 KB, plus ~3 KB of other fields and media URLs. 32 KiB leaves room for that (and for Twilio adding fields) and
# is still 32 times smaller than the 1 MB forgery the issue describes.
MAX_WEBHOOK_BODY_BYTES = 32 * 1024
# Same reasoning: ~20 standard fields, 2 per media item, a few geographic ones; 64 is comfortably above any real form
# and bounds what the signature check sorts and concatenates.
MAX_WEBHOOK_FORM_FIELDS = 64


class WebhookTooLargeError(Exception):
    """The request is larger than any webhook Twilio sends: refused (413) without reading it."""


def refuse_oversized(
    headers: Mapping[str, str], raw_body: str | None, *, is_base64: bool, limit: int = MAX_WEBHOOK_BODY_BYTES
) -> None:
    """Raise ``WebhookTooLargeError`` when the declared or actual body size exceeds ``limit`` bytes.

    Only lengths are read: the body is neither decoded nor parsed (a base64 body's size is known from its length).
    """
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise WebhookTooLargeError(f"content-length {declared} over the {limit}-byte limit")
    if raw_body is None:
        return
    # Base64: 3 bytes per 4 characters, less its padding. Text: characters, which a form body spends as bytes.
    size = len(raw_body) * 3 // 4 - raw_body[-2:].count("=") if is_base64 else len(raw_body)
    if size > limit:
        raise WebhookTooLargeError(f"body of about {size} bytes over the {limit}-byte limit")
