"""Phone numbers: E.164 checks, pseudonymous texter ids, and masking for anything a person might read."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from peerline.phone import is_e164, mask_number, mask_phone_numbers, texter_alias, texter_id_for


def test_mask_number_keeps_country_digit_and_last_four() -> None:
    # given / when / then
    assert mask_number("+15555550001") == "+1•••••0001"


def test_mask_number_of_a_short_run_hides_every_digit() -> None:
    # given / when / then
    assert mask_number("1234") == "••••"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("texter +15555550001 said hi", "texter +1•••••0001 said hi"),
        ('{"number":"+15555550001"}', '{"number":"+1•••••0001"}'),
        ("call 555-555-0002 now", "call 5•••••0002 now"),
        ("From=%2B15555550001&To=%2B15555550009", "From=%2B1•••••0001&To=%2B1•••••0009"),
        ("tel:+15555550001", "tel:+1•••••0001"),
        # Glued to letters (missed before: the number had to stand alone).
        ("x15555550001", "x1•••••0001"),
        ("texter=abc15555550001xyz", "texter=abc1•••••0001xyz"),
        ("whatsapp:+15555550001", "whatsapp:+1•••••0001"),
        ("To=%2B15555550001&Body=hi", "To=%2B1•••••0001&Body=hi"),
        ("number15555550001", "number1•••••0001"),
        # A short E.164 number after a "+", and two numbers separated by a space.
        ("+3545550001", "+3•••••0001"),
        ("15555550001 15555550002", "1•••••0001 1•••••0002"),
        # Epoch seconds and milliseconds can't be told from a number: masked (a leak costs more than a timestamp).
        ('"timeEpoch":1795635872', '"timeEpoch":1•••••5872'),
        ('"timeEpoch":1795635872000', '"timeEpoch":1•••••2000'),
    ],
)
def test_mask_phone_numbers_masks_every_number_in_free_text(text: str, masked: str) -> None:
    # given free text holding phone numbers
    # when it is masked
    # then no number survives
    assert mask_phone_numbers(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        '"timestamp":"2024-05-25 20:00:57,417+0000"',
        "at 2024-05-01T12:00:00+00:00",
        "outbound_id=SM00000000000000000000000000000001:welcome",
        "conversation_id=c20240501f2caa3dbcd858f439df4",
        "api_url=http://127.0.0.1:4566/sms/inbound",
        "message_sid=SM0123456789abcdef0123456789abcdef account=AC99999999999999999999999999999999",
        "service=MG5555555000100000000000000000000a number=PN15555550001000000000000000000000",
        "at 2024-05-01T12:00:00.123456Z and 2026-11-30 20:52:42+00:00",
        "outbound_id=out-0123456789abcdef0123456789abcdef",
    ],
)
def test_mask_phone_numbers_leaves_timestamps_and_ids_readable(text: str) -> None:
    # given a log line with a timestamp or an id made of long digit runs, and no phone number
    # when it is masked
    # then it is unchanged
    assert mask_phone_numbers(text) == text


@pytest.mark.parametrize(
    "text",
    [
        '"function_arn":"arn:aws:lambda:us-east-1:123456789012:function:InboundSmsFunction"',
        "queue arn:aws:sqs:us-east-1:123456789012:peerline-inbound.fifo",
        "queue_url=http://127.0.0.1:4566/123456789012/peerline-inbound.fifo",
        '"function_request_id":"12345678-9943-409d-97cc-0920f239b18e"',
        "KeyId=12345678-1234-1234-1234-123456789012",
        "RequestId: 12345678-9943-409D-97CC-0920F239B18E",
        '"xray_trace_id":"1-67891233-abcdef012345678912345678"',
        '"requestId":"1234567890123456="',
        "texter_id=" + "1234567890" * 6 + "abcd",
    ],
)
def test_mask_phone_numbers_leaves_the_digits_of_arns_uuids_and_hex_ids_readable(text: str) -> None:
    # given a log line whose only long digit runs are an account id in an ARN or queue URL, a request id (UUID),
    # a trace id or a hex id
    # when it is masked
    # then it is unchanged
    assert mask_phone_numbers(text) == text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (
            "arn:aws:lambda:us-east-1:123456789012:function:Send to +15555550001",
            "arn:aws:lambda:us-east-1:123456789012:function:Send to +1•••••0001",
        ),
        (
            "request 12345678-9943-409d-97cc-0920f239b18e from 15555550001",
            "request 12345678-9943-409d-97cc-0920f239b18e from 1•••••0001",
        ),
        ("5555550001 1-67891233-abcdef012345678912345678", "5•••••0001 1-67891233-abcdef012345678912345678"),
        ('{"to":"555-555-0001","id":"1234567890123456"}', '{"to":"5•••••0001","id":"1234567890123456"}'),
        ("+15555550001 12345678-9943-409d-97cc-0920f239b18e", "+1•••••0001 12345678-9943-409d-97cc-0920f239b18e"),
        ("arn:aws:sns:us-east-1:123456789012:+15555550001", "arn:aws:sns:us-east-1:123456789012:+1•••••0001"),
    ],
)
def test_mask_phone_numbers_still_masks_numbers_next_to_ids(text: str, masked: str) -> None:
    # given a phone number, in a spelling the privacy scans look for, beside an id whose digits stay readable
    # when it is masked
    # then the number is masked and the id is not
    assert mask_phone_numbers(text) == masked


@pytest.mark.parametrize("number", ["+15555550001", "+447700900123", "+1234567"])
def test_e164_numbers_are_recognised(number: str) -> None:
    # given / when / then
    assert is_e164(number)


@pytest.mark.parametrize(
    "number", ["15555550001", "+05555550001", "+1 555 555 0001", "+123456", "+1234567890123456", "+15555550001\n", ""]
)
def test_non_e164_numbers_are_refused(number: str) -> None:
    # given / when / then
    assert not is_e164(number)


def test_texter_id_is_the_hmac_sha256_of_the_number_with_the_pepper() -> None:
    # given a number and a pepper
    # when its texter id is computed
    texter_id = texter_id_for("+15555550001", "pepper")

    # then it is HMAC-SHA256, hex, and does not contain the number
    assert texter_id == hmac.new(b"pepper", b"+15555550001", hashlib.sha256).hexdigest()
    assert len(texter_id) == 64
    assert "5555550001" not in texter_id


def test_texter_id_is_stable_for_the_same_number() -> None:
    # given / when / then
    assert texter_id_for("+15555550001", "pepper") == texter_id_for("+15555550001", "pepper")


def test_texter_id_differs_with_the_pepper() -> None:
    # given / when / then
    assert texter_id_for("+15555550001", "pepper") != texter_id_for("+15555550001", "another pepper")


def test_texter_id_differs_between_numbers() -> None:
    # given / when / then
    assert texter_id_for("+15555550001", "pepper") != texter_id_for("+15555550002", "pepper")


def test_texter_alias_is_short_and_uppercase() -> None:
    # given / when / then
    assert texter_alias("4f2a" + "0" * 60) == "Texter 4F2A"
