"""What the webhook refuses from lengths alone, and a signature check that can't run."""

from __future__ import annotations

import base64
from collections.abc import Mapping

import pytest

from peerline.inbound import WebhookRequest, WebhookVerdict, accept_inbound_text
from peerline.webhook_limits import MAX_WEBHOOK_BODY_BYTES, WebhookTooLargeError, refuse_oversized

from .fakes import START, RecordingInboundQueue, ReversibleVault


def test_a_body_at_the_limit_is_let_through() -> None:
    # given / when / then: no exception
    refuse_oversized({}, "x" * MAX_WEBHOOK_BODY_BYTES, is_base64=False)


def test_a_body_one_byte_over_the_limit_is_refused() -> None:
    with pytest.raises(WebhookTooLargeError):
        refuse_oversized({}, "x" * (MAX_WEBHOOK_BODY_BYTES + 1), is_base64=False)


def test_a_base64_body_is_measured_by_what_it_decodes_to_without_decoding_it() -> None:
    # given base64 of a body at the limit (longer than the limit as text), and one of a body just over it
    at_limit = base64.b64encode(b"x" * MAX_WEBHOOK_BODY_BYTES).decode()
    over = base64.b64encode(b"x" * (MAX_WEBHOOK_BODY_BYTES + 3)).decode()

    # when / then
    refuse_oversized({}, at_limit, is_base64=True)
    with pytest.raises(WebhookTooLargeError):
        refuse_oversized({}, over, is_base64=True)


def test_a_declared_content_length_over_the_limit_is_refused_before_the_body_is_measured() -> None:
    with pytest.raises(WebhookTooLargeError):
        refuse_oversized({"content-length": str(MAX_WEBHOOK_BODY_BYTES + 1)}, "", is_base64=False)


class _UnreadableSecretChecker:
    def is_valid(self, url: str, params: Mapping[str, str], signature: str | None) -> bool:
        raise ConnectionError("simulated: Secrets Manager unavailable")


def test_a_signature_check_that_cannot_run_answers_the_fallback_and_queues_nothing() -> None:
    # given a signature checker whose auth token can't be read
    queue = RecordingInboundQueue()

    # when a text arrives
    verdict = accept_inbound_text(
        WebhookRequest(url="https://line.example.org/sms/inbound", form={"From": "+15555550001"}, signature="x"),
        checker=_UnreadableSecretChecker(),
        texter_id_for=lambda number: "t",
        vault=ReversibleVault(),
        queue=queue,
        now=START,
    )

    # then the texter is answered with the fallback reply (UNAVAILABLE), and nothing is queued
    assert verdict is WebhookVerdict.UNAVAILABLE
    assert queue.texts == []
