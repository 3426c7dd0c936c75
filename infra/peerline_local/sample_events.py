"""Writes the real-shaped sample events under ``events/`` (``python -m peerline_local.sample_events``).

The webhook samples are signed with ``SAMPLE_AUTH_TOKEN`` for ``SAMPLE_PUBLIC_BASE_URL``: a test (or ``sam local
invoke``) that configures those two values sees them as genuine Twilio requests. Numbers are fictional 555 numbers.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from peerline_local.emulators import api_gateway_v2_event

SAMPLE_AUTH_TOKEN = "0123456789abcdef0123456789abcdef"
SAMPLE_ACCOUNT_SID = "AC00000000000000000000000000000000"
SAMPLE_PUBLIC_BASE_URL = "https://sms.example.org"
SAMPLE_LINE_NUMBER = "+15555550000"
SAMPLE_TEXTER_NUMBER = "+15555550100"
_SAMPLE_TEXTER_ID = "5" * 64
_SAMPLE_CIPHERTEXT = base64.b64encode(b"sample-ciphertext-not-decryptable").decode()


def twilio_inbound_form(body: str, *, from_number: str = SAMPLE_TEXTER_NUMBER, message_sid: str) -> dict[str, str]:
    """The form Twilio posts for an inbound SMS (blank location fields included: Twilio signs them too)."""
    return {
        "ToCountry": "US",
        "ToState": "",
        "SmsMessageSid": message_sid,
        "NumMedia": "0",
        "ToCity": "",
        "FromZip": "",
        "SmsSid": message_sid,
        "FromState": "",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": body,
        "FromCountry": "US",
        "To": SAMPLE_LINE_NUMBER,
        "ToZip": "",
        "NumSegments": "1",
        "MessageSid": message_sid,
        "AccountSid": SAMPLE_ACCOUNT_SID,
        "From": from_number,
        "ApiVersion": "2010-04-01",
    }


def signed_webhook_event(
    path: str, form: dict[str, str], *, auth_token: str = SAMPLE_AUTH_TOKEN, signature: str | None = None
) -> dict[str, Any]:
    """An API Gateway v2 event for a Twilio POST to ``path``, signed unless ``signature`` is given."""
    url = f"{SAMPLE_PUBLIC_BASE_URL}{path}"
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "host": "sms.example.org",
        "user-agent": "TwilioProxy/1.1",
        "i-twilio-idempotency-token": str(uuid.uuid5(uuid.NAMESPACE_URL, url + json.dumps(form, sort_keys=True))),
        "x-twilio-signature": signature
        if signature is not None
        else RequestValidator(auth_token).compute_signature(url, form),
    }
    event = api_gateway_v2_event(
        method="POST",
        path=path,
        query="",
        headers=headers,
        body=urlencode(form).encode(),
        source_ip="54.172.60.0",
        domain="sms.example.org",
    )
    event["requestContext"]["requestId"] = "sample-request"
    event["requestContext"]["time"] = "25/Nov/2026:19:44:32 +0000"
    event["requestContext"]["timeEpoch"] = 1795635872000
    return event


def _sqs_record(
    body: dict[str, Any], *, index: int, queue: str, group: str | None, dedup: str | None
) -> dict[str, Any]:
    attributes = {
        "ApproximateReceiveCount": "1",
        "SentTimestamp": "1795635872000",
        "SenderId": "AROAEXAMPLE:inbound-webhook",
        "ApproximateFirstReceiveTimestamp": "1795635872010",
    }
    if group is not None:
        attributes |= {
            "MessageGroupId": group,
            "MessageDeduplicationId": dedup or "",
            "SequenceNumber": f"1{index:019d}",
        }
    text = json.dumps(body)
    return {
        "messageId": str(uuid.uuid5(uuid.NAMESPACE_OID, f"{queue}-{index}")),
        "receiptHandle": f"sample-receipt-{index}",
        "body": text,
        "attributes": attributes,
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{queue}",
        "awsRegion": "us-east-1",
    }


def sample_events() -> dict[str, dict[str, Any]]:
    """Every sample event, by its path under ``events/``."""
    at = datetime(2026, 11, 25, 19, 44, 32, tzinfo=UTC).isoformat()
    first = twilio_inbound_form("Hi, is anyone there? I need to talk", message_sid="SM" + "a" * 32)
    spanish = twilio_inbound_form("Hola, necesito ayuda", message_sid="SM" + "b" * 32)
    no_from = {key: value for key, value in first.items() if key != "From"}
    status_form = {
        "MessageSid": "SM" + "c" * 32,
        "SmsSid": "SM" + "c" * 32,
        "MessageStatus": "delivered",
        "SmsStatus": "delivered",
        "AccountSid": SAMPLE_ACCOUNT_SID,
        "From": SAMPLE_LINE_NUMBER,
        "To": SAMPLE_TEXTER_NUMBER,
        "ApiVersion": "2010-04-01",
    }
    inbound_texts = [
        {
            "message_sid": f"SM{index:032x}",
            "texter_id": _SAMPLE_TEXTER_ID,
            "encrypted_number": _SAMPLE_CIPHERTEXT,
            "body": body,
            "received_at": at,
            "num_media": 0,
            "opt_out_type": None,
        }
        for index, body in enumerate(["hi", "YES"], start=1)
    ]
    outbound = {
        "outbound_id": f"SM{1:032x}:welcome",
        "recipient_id": _SAMPLE_TEXTER_ID,
        "encrypted_to": _SAMPLE_CIPHERTEXT,
        "body": "Peerline: you've reached a free, confidential peer support text line.",
        "purpose": "welcome",
        "conversation_id": "c20261125" + "0" * 20,
        "texter_id": _SAMPLE_TEXTER_ID,
    }
    timer = {
        "timer_id": f"SM{1:032x}:consent_timeout",
        "kind": "consent_timeout",
        "conversation_id": "c20261125" + "0" * 20,
        "texter_id": _SAMPLE_TEXTER_ID,
        "fire_at": at,
    }
    erasures: list[dict[str, Any]] = [
        {"message_sid": f"SM{1:032x}", "conversation_id": timer["conversation_id"]},
        {"message_sid": f"SM{9:032x}", "conversation_id": None},
    ]
    return {
        "inbound_webhook/signed_text.json": signed_webhook_event("/sms/inbound", first),
        "inbound_webhook/signed_spanish_text.json": signed_webhook_event("/sms/inbound", spanish),
        "inbound_webhook/forged_signature.json": signed_webhook_event(
            "/sms/inbound", first, signature="bm90IGEgcmVhbCBzaWduYXR1cmU="
        ),
        "inbound_webhook/signed_without_from.json": signed_webhook_event("/sms/inbound", no_from),
        "status_callback/delivered.json": signed_webhook_event("/sms/status", status_form),
        "conversation_engine/sqs_batch.json": {
            "Records": [
                _sqs_record(
                    text,
                    index=index,
                    queue="InboundQueue.fifo",
                    group=_SAMPLE_TEXTER_ID,
                    dedup=str(text["message_sid"]),
                )
                for index, text in enumerate(inbound_texts)
            ]
        },
        "send_sms/sqs_batch.json": {
            "Records": [
                _sqs_record(
                    outbound,
                    index=0,
                    queue="OutboundQueue.fifo",
                    group=_SAMPLE_TEXTER_ID,
                    dedup=outbound["outbound_id"],
                )
            ]
        },
        "conversation_timers/sqs_batch.json": {
            "Records": [_sqs_record(timer, index=0, queue="TimerQueue", group=None, dedup=None)]
        },
        # Two erasure jobs: the texter's first text (its conversation), and an answer outside any conversation.
        "erase_messages/sqs_batch.json": {
            "Records": [
                _sqs_record(job, index=index, queue="EraseQueue", group=None, dedup=None)
                for index, job in enumerate(erasures)
            ]
        },
    }


def write_sample_events(folder: Path) -> list[Path]:
    """Write every sample event under ``folder``; returns the files written."""
    written = []
    for relative, event in sample_events().items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    from peerline_local.paths import project_root

    for path in write_sample_events(project_root() / "events"):
        print(path)
