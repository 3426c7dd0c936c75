"""Numbers under the line's KMS key (moto, resources from template.yaml): each bound to its owner and purpose, the
reveal operation routed to its own function, and the fallback on-call phone recognised without the pepper."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from api_gateway_kit import template_routes
from botocore.exceptions import ClientError
from handler_kit import drain, sqs_event

from peerline.adapters.kms import KmsNumberVault
from peerline.number_context import FALLBACK_ONCALL_ID, NumberOwner, oncall_number, texter_number
from peerline_local.sample_events import (
    SAMPLE_ACCOUNT_SID,
    SAMPLE_AUTH_TOKEN,
    signed_webhook_event,
    twilio_inbound_form,
)

NUMBER = "+15555550321"
FALLBACK = "+15555550100"


@pytest.fixture(scope="module")
def aws(stack: Any) -> dict[str, Any]:
    session = boto3.session.Session(region_name="us-east-1")
    clients = {name: session.client(name) for name in ("sqs", "dynamodb", "secretsmanager", "kms")}
    clients["secretsmanager"].create_secret(
        Name=stack.functions["SendSmsFunction"].environment["TWILIO_SECRET_NAME"],
        SecretString=json.dumps({"account_sid": SAMPLE_ACCOUNT_SID, "auth_token": SAMPLE_AUTH_TOKEN}),
    )
    return clients


@pytest.fixture(scope="module")
def vault(stack: Any, aws: dict[str, Any]) -> KmsNumberVault:
    return KmsNumberVault(stack.physical_id("PhoneNumberKey"), aws["kms"])


def test_a_number_decrypts_under_its_own_context(vault: KmsNumberVault) -> None:
    ciphertext = vault.encrypt(NUMBER, texter_number("texter-a"))
    assert vault.decrypt(ciphertext, texter_number("texter-a")) == NUMBER


@pytest.mark.parametrize(
    "wrong", [texter_number("texter-b"), oncall_number("texter-a"), NumberOwner(texter_number("a").purpose, "")]
)
def test_kms_refuses_a_number_under_another_owners_or_purposes_context(
    vault: KmsNumberVault, wrong: NumberOwner
) -> None:
    # given texter A's number
    ciphertext = vault.encrypt(NUMBER, texter_number("texter-a"))

    # when it is decrypted as another texter's, or as an on-call number, then KMS refuses
    with pytest.raises(ClientError) as refused:
        vault.decrypt(ciphertext, wrong)
    assert refused.value.response["Error"]["Code"] == "InvalidCiphertextException"


def test_the_webhook_encrypts_a_texters_number_for_that_texter(
    as_function: Callable[..., Any], lambda_context: Any, stack: Any, aws: dict[str, Any], vault: KmsNumberVault
) -> None:
    # when a text arrives
    form = twilio_inbound_form("hi", from_number=NUMBER, message_sid="SM" + "0a" * 16)
    with as_function("InboundWebhookFunction") as webhook:
        assert webhook.lambda_handler(signed_webhook_event("/sms/inbound", form), lambda_context)["statusCode"] == 200

    # then the queued ciphertext decrypts as that texter's number only
    [queued] = [json.loads(m["Body"]) for m in drain(aws["sqs"], stack.physical_id("InboundQueue"))]
    assert vault.decrypt(queued["encrypted_number"], texter_number(queued["texter_id"])) == NUMBER
    with pytest.raises(ClientError):
        vault.decrypt(queued["encrypted_number"], oncall_number(queued["texter_id"]))


def test_an_ack_from_the_fallback_number_is_recognised_without_the_pepper(
    as_function: Callable[..., Any], lambda_context: Any, stack: Any, aws: dict[str, Any], vault: KmsNumberVault
) -> None:
    # given the deployment's fallback on-call number (the engine holds no pepper to compute its HMAC id)
    assert "PEPPER_SECRET_ARN" not in stack.functions["ConversationEngineFunction"].environment

    # when it texts ACK with an unknown code
    form = twilio_inbound_form("ACK 7KQ2MX", from_number=FALLBACK, message_sid="SM" + "0b" * 16)
    with as_function("InboundWebhookFunction", ONCALL_FALLBACK_NUMBER=FALLBACK) as webhook:
        assert webhook.lambda_handler(signed_webhook_event("/sms/inbound", form), lambda_context)["statusCode"] == 200
    messages = drain(aws["sqs"], stack.physical_id("InboundQueue"))
    with as_function("ConversationEngineFunction", ONCALL_FALLBACK_NUMBER=FALLBACK) as engine:
        assert engine.lambda_handler(sqs_event(messages), lambda_context) == {"batchItemFailures": []}

    # then the webhook gave it the fallback's fixed id, and the engine answered it as on-call (not as a new texter),
    # to a number the sender can decrypt
    assert json.loads(messages[0]["Body"])["texter_id"] == FALLBACK_ONCALL_ID
    [reply] = [json.loads(m["Body"]) for m in drain(aws["sqs"], stack.physical_id("OutboundQueue"))]
    assert (reply["purpose"], reply["recipient_id"]) == ("ack", FALLBACK_ONCALL_ID)
    assert "no escalation with code 7KQ2MX" in reply["body"]
    assert vault.decrypt(reply["encrypted_to"], texter_number(FALLBACK_ONCALL_ID)) == FALLBACK


def test_api_gateway_sends_reveals_to_the_reveal_function_behind_the_jwt_authorizer(stack: Any) -> None:
    # given the template's HTTP API routes, matched as API Gateway matches them
    api = template_routes(stack)

    # when a reveal and other volunteer operations come in
    reveal = api.match("POST", "/volunteer/escalations/esc-1/reveal")
    acknowledge = api.match("POST", "/volunteer/escalations/esc-1/acknowledge")
    listing = api.match("GET", "/volunteer/escalations/esc-1/reveal")

    # then only the reveal goes to the reveal function, with its path parameter, behind the volunteers' JWT
    assert reveal is not None and acknowledge is not None and listing is not None
    assert reveal[0].function.logical_id == "RevealNumberFunction"
    assert reveal[1] == {"escalation_id": "esc-1"}
    assert reveal[0].authorizer is not None and reveal[0].authorizer == acknowledge[0].authorizer
    assert acknowledge[0].function.logical_id == listing[0].function.logical_id == "VolunteerApiFunction"
