"""API Gateway HTTP API (payload v2) ⇄ the webhook domain: the URL Twilio called, its form, the TwiML answer."""

from __future__ import annotations

import binascii
from typing import Any
from urllib.parse import parse_qsl

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from peerline.inbound import WebhookRequest
from peerline.webhook_limits import MAX_WEBHOOK_FORM_FIELDS, WebhookTooLargeError, refuse_oversized

_EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def public_url_of(event: APIGatewayProxyEventV2, public_base_url: str) -> str:
    """The exact URL Twilio called, which is what it signed.

    The route's own path (not ``rawPath``, which carries named stages) hangs off the configured public base URL;
    without one, off the domain the request came in on.
    """
    route_key = event.route_key or ""
    path = route_key.split(" ", 1)[1] if " " in route_key else event.raw_path
    base = public_base_url.rstrip("/") or f"https://{event.request_context.domain_name}"
    query = event.raw_query_string
    return f"{base}{path}?{query}" if query else f"{base}{path}"


def form_of(event: APIGatewayProxyEventV2) -> dict[str, str] | None:
    """The posted form (blank values kept: Twilio signs them too), or None if the body can't be read as one.

    Raises ``WebhookTooLargeError`` for a form of more fields than any Twilio webhook has, before splitting it.
    """
    content_type = (event.headers or {}).get("content-type", "")
    if content_type and not content_type.startswith("application/x-www-form-urlencoded"):
        return None
    try:
        body = event.decoded_body or ""
        if body.count("&") >= MAX_WEBHOOK_FORM_FIELDS:
            raise WebhookTooLargeError(f"more than {MAX_WEBHOOK_FORM_FIELDS} form fields")
        return dict(parse_qsl(body, keep_blank_values=True, strict_parsing=bool(body)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def refuse_oversized_webhook(event: APIGatewayProxyEventV2) -> None:
    """Raise ``WebhookTooLargeError`` if the request is larger than any Twilio webhook, from lengths alone."""
    refuse_oversized(event.headers or {}, event.body, is_base64=bool(event.is_base64_encoded))


def webhook_request_from(event: APIGatewayProxyEventV2, public_base_url: str) -> WebhookRequest:
    """Everything the webhook domain needs from an API Gateway v2 event.

    Raises ``WebhookTooLargeError`` before decoding or parsing anything when the body is over the webhook limits.
    """
    refuse_oversized_webhook(event)
    return WebhookRequest(
        url=public_url_of(event, public_base_url),
        form=form_of(event),
        signature=(event.headers or {}).get("x-twilio-signature"),
    )


def twiml_response(status_code: int, reply: str | None = None) -> dict[str, Any]:
    """A TwiML answer: empty (Twilio texts nothing by itself; a text/plain body would be texted), or one reply."""
    body = _EMPTY_TWIML
    if reply:
        from twilio.twiml.messaging_response import MessagingResponse  # only on the rare fallback path

        twiml = MessagingResponse()
        twiml.message(reply)
        body = str(twiml)
    return {"statusCode": status_code, "headers": {"Content-Type": "text/xml"}, "body": body}
