"""The inbound webhook's domain: check it is Twilio, make the text anonymous, queue it once."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from peerline.inbound import WebhookRequest, WebhookVerdict, accept_inbound_text
from peerline.number_context import texter_number
from peerline.phone import texter_id_for

from .fakes import PEPPER, START, HmacSignatureChecker, RecordingInboundQueue, ReversibleVault

URL = "https://line.example.org/sms/inbound"
NUMBER = "+15555550001"
FORM = {
    "MessageSid": "SM" + "a" * 32,
    "AccountSid": "AC" + "b" * 32,
    "From": NUMBER,
    "To": "+15555559999",
    "Body": "hi, is anyone there?",
    "NumMedia": "0",
    "OptOutType": "",
}


class Webhook:
    def __init__(self) -> None:
        self.checker = HmacSignatureChecker()
        self.vault = ReversibleVault()
        self.queue = RecordingInboundQueue()

    def signed(self, form: Mapping[str, str] | None, url: str = URL) -> WebhookRequest:
        return WebhookRequest(url=url, form=form, signature=self.checker.sign(url, form or {}))

    def accept(self, request: WebhookRequest) -> WebhookVerdict:
        return accept_inbound_text(
            request,
            checker=self.checker,
            texter_id_for=lambda number: texter_id_for(number, PEPPER),
            vault=self.vault,
            queue=self.queue,
            now=START,
        )


@pytest.fixture
def webhook() -> Webhook:
    return Webhook()


def test_signed_text_is_accepted_and_queued(webhook: Webhook) -> None:
    # given a text signed by Twilio
    # when the webhook receives it
    verdict = webhook.accept(webhook.signed(FORM))

    # then it is queued with the texter's id, the body and the time it arrived
    assert verdict is WebhookVerdict.ACCEPTED
    [text] = webhook.queue.texts
    assert text.message_sid == FORM["MessageSid"]
    assert text.texter_id == texter_id_for(NUMBER, PEPPER)
    assert text.body == "hi, is anyone there?"
    assert text.received_at == START
    assert text.opt_out_type is None


def test_queued_text_holds_the_number_only_encrypted(webhook: Webhook) -> None:
    # given / when a signed text is accepted
    webhook.accept(webhook.signed(FORM))

    # then the queued model has the ciphertext, and no plaintext number anywhere
    [text] = webhook.queue.texts
    assert webhook.vault.decrypt(text.encrypted_number, texter_number(text.texter_id)) == NUMBER
    assert NUMBER not in text.model_dump_json()
    assert "5555550001" not in text.model_dump_json()


def test_twilio_opt_out_type_is_carried_to_the_engine(webhook: Webhook) -> None:
    # given a text Twilio matched as an opt-out
    form = {**FORM, "Body": "STOP", "OptOutType": "STOP"}

    # when it is accepted
    webhook.accept(webhook.signed(form))

    # then the engine will know Twilio already handled it
    assert webhook.queue.texts[0].opt_out_type == "STOP"


def test_forged_signature_is_forbidden_and_nothing_is_queued(webhook: Webhook) -> None:
    # given a request whose signature was made with another token
    forged = WebhookRequest(url=URL, form=FORM, signature=HmacSignatureChecker("not-the-token").sign(URL, FORM))

    # when it arrives
    verdict = webhook.accept(forged)

    # then it is refused
    assert verdict is WebhookVerdict.FORBIDDEN
    assert webhook.queue.texts == []


def test_missing_signature_is_forbidden_and_nothing_is_queued(webhook: Webhook) -> None:
    # given / when an unsigned request
    verdict = webhook.accept(WebhookRequest(url=URL, form=FORM, signature=None))

    # then it is refused
    assert verdict is WebhookVerdict.FORBIDDEN
    assert webhook.queue.texts == []


def test_tampered_form_is_forbidden(webhook: Webhook) -> None:
    # given a signed request whose body was changed afterwards
    request = webhook.signed(FORM)
    tampered = WebhookRequest(url=URL, form={**FORM, "From": "+15555550002"}, signature=request.signature)

    # when / then it is refused
    assert webhook.accept(tampered) is WebhookVerdict.FORBIDDEN
    assert webhook.queue.texts == []


def test_signature_for_another_url_is_forbidden(webhook: Webhook) -> None:
    # given a request signed for another URL
    request = webhook.signed(FORM, url="https://elsewhere.example.org/sms/inbound")

    # when / then it is refused at ours
    assert webhook.accept(WebhookRequest(URL, FORM, request.signature)) is WebhookVerdict.FORBIDDEN


def test_unreadable_body_with_a_forged_signature_is_forbidden(webhook: Webhook) -> None:
    # given / when a request whose body could not be read, with a made-up signature
    verdict = webhook.accept(WebhookRequest(url=URL, form=None, signature="bm9wZQ=="))

    # then it is refused as forged, not as malformed
    assert verdict is WebhookVerdict.FORBIDDEN


def test_unreadable_body_with_a_valid_signature_is_malformed(webhook: Webhook) -> None:
    # given a signed request whose form could not be parsed
    # when it arrives
    verdict = webhook.accept(webhook.signed(None))

    # then it is a bad request, and nothing is queued
    assert verdict is WebhookVerdict.MALFORMED
    assert webhook.queue.texts == []


@pytest.mark.parametrize(
    "form",
    [
        {key: value for key, value in FORM.items() if key != "From"},
        {key: value for key, value in FORM.items() if key != "MessageSid"},
        {**FORM, "MessageSid": ""},
        {**FORM, "From": "5555550001"},
        {**FORM, "From": "+1 555 555 0001"},
        {**FORM, "From": "+15555550001\n"},
        {**FORM, "From": "client:alice"},
        {**FORM, "NumMedia": "lots"},
        {**FORM, "Body": "x" * 1601},
        {**FORM, "MessageSid": "S"},
    ],
    ids=[
        "no-from",
        "no-sid",
        "empty-sid",
        "from-without-plus",
        "from-with-spaces",
        "from-with-newline",
        "from-not-a-number",
        "num-media-not-a-number",
        "body-too-long",
        "sid-too-short",
    ],
)
def test_signed_but_malformed_text_is_malformed_and_nothing_is_queued(webhook: Webhook, form: dict[str, str]) -> None:
    # given a signed form that is not a text we can handle
    # when it arrives
    verdict = webhook.accept(webhook.signed(form))

    # then it is a bad request (never an error), and nothing is queued
    assert verdict is WebhookVerdict.MALFORMED
    assert webhook.queue.texts == []


def test_text_without_body_is_accepted_as_empty(webhook: Webhook) -> None:
    # given a signed text with no Body (e.g. a picture only)
    form = {key: value for key, value in {**FORM, "NumMedia": "1"}.items() if key != "Body"}

    # when it arrives
    verdict = webhook.accept(webhook.signed(form))

    # then it is queued with an empty body and its media count
    assert verdict is WebhookVerdict.ACCEPTED
    assert webhook.queue.texts[0].body == ""
    assert webhook.queue.texts[0].num_media == 1


class BrokenQueue:
    def enqueue_once(self, text: object) -> None:
        raise ConnectionError("queue unreachable")


def test_text_that_cannot_be_queued_is_answered_directly_not_dropped(webhook: Webhook) -> None:
    # given a queue that is down
    webhook.queue = BrokenQueue()  # type: ignore[assignment]

    # when a genuine text arrives
    verdict = webhook.accept(webhook.signed(FORM))

    # then the webhook says so, so that the handler texts the texter back itself
    assert verdict is WebhookVerdict.UNAVAILABLE


class BrokenVault:
    def encrypt(self, number: str) -> str:
        raise ConnectionError("KMS unreachable")


@pytest.mark.parametrize("broken", ["kms", "pepper secret"])
def test_text_that_cannot_be_pseudonymised_is_answered_directly_not_a_500(webhook: Webhook, broken: str) -> None:
    # given KMS, or the pepper secret behind the texter id, failing
    if broken == "kms":
        webhook.vault = BrokenVault()  # type: ignore[assignment]
        verdict = webhook.accept(webhook.signed(FORM))
    else:

        def no_pepper(number: str) -> str:
            raise ConnectionError("Secrets Manager unreachable")

        verdict = accept_inbound_text(
            webhook.signed(FORM),
            checker=webhook.checker,
            texter_id_for=no_pepper,
            vault=webhook.vault,
            queue=webhook.queue,
            now=START,
        )

    # then the texter is answered directly with emergency resources (not silence), and nothing is queued
    assert verdict is WebhookVerdict.UNAVAILABLE
    assert webhook.queue.texts == []


def test_unavailable_reply_asks_to_text_again_with_emergency_resources_in_both_languages() -> None:
    from peerline.inbound import unavailable_reply

    reply = unavailable_reply("Call 911 or text 988.")
    assert "text again" in reply
    assert "Call 911 or text 988." in reply
    assert "Escríbenos de nuevo" in reply
