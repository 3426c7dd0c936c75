"""Supervisors — who can reveal numbers — need two-step sign-in (TOTP): the volunteer API, in-process against moto
(resources from template.yaml), refuses supervisor-only operations until the user pool says TOTP is on."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import boto3
import pytest
from api_gateway_kit import call_api, template_routes
from test_handlers import drain, queue_url, sqs_event, text_event
from two_step_kit import PASSWORD, cognito_user, with_totp

from peerline.adapters.volunteers import DynamoVolunteerRegistry
from peerline.models import Language, Role, VolunteerRecord
from peerline_local.emulators import HttpApiEmulator
from peerline_local.sample_events import SAMPLE_ACCOUNT_SID, SAMPLE_AUTH_TOKEN

SUPERVISOR_ONLY = [
    ("GET", "/volunteer/line", None),
    ("GET", "/volunteer/escalations", None),
    ("PUT", "/volunteer/library", {"canned_responses": [], "resources": []}),
    ("POST", "/volunteer/escalations/no-such-escalation/reveal", {"reason": "imminent risk, calling 911"}),
]


@pytest.fixture(scope="module")
def routes(stack: Any) -> HttpApiEmulator:
    return template_routes(stack)


@pytest.fixture
def api(
    as_function: Callable[..., Any], lambda_context: Any, routes: HttpApiEmulator
) -> Callable[..., tuple[int, Any]]:
    def call(method: str, path: str, sub: str, body: Any = None) -> tuple[int, Any]:
        return call_api(routes, as_function, lambda_context, method, path, sub=sub, body=body)

    return call


def supervisor(stack: Any, username: str) -> str:
    """A supervisor in the pool (password only, so far) and in the registry; their sub."""
    sub = cognito_user(stack, username)
    registry = DynamoVolunteerRegistry(
        stack.resources["VolunteersTable"].physical_id,
        boto3.session.Session(region_name="us-east-1").client("dynamodb"),
    )
    registry.create(
        VolunteerRecord(
            volunteer_id=sub,
            username=username,
            display_name=username.title(),
            roles=[Role.VOLUNTEER, Role.SUPERVISOR],
            languages=[Language.ENGLISH],
            certified_until=date.today() + timedelta(days=365),
        )
    )
    return sub


def test_a_supervisor_without_totp_is_refused_supervisor_operations_until_set_up(stack: Any, api: Any) -> None:
    # given a supervisor who signs in with a password only
    sub = supervisor(stack, "rae")

    # then every supervisor-only operation is refused, saying what to do, and getMe tells the dashboard to lead them
    for method, path, body in SUPERVISOR_ONLY:
        status, answer = api(method, path, sub, body)
        assert (status, answer) == (403, {"message": "set up two-step sign-in first"}), f"{method} {path}"
    status, me = api("GET", "/volunteer/me", sub)
    assert status == 200 and me["two_step_setup_required"] is True

    # when they set TOTP up (as the dashboard does)
    with_totp(stack, "rae", PASSWORD)

    # then the same operations are theirs at once, and nothing more is asked
    assert api("GET", "/volunteer/line", sub)[0] == 200
    assert api("GET", "/volunteer/escalations", sub)[0] == 200
    assert api("POST", "/volunteer/escalations/no-such-escalation/reveal", sub, SUPERVISOR_ONLY[3][2])[0] == 404
    assert api("GET", "/volunteer/me", sub)[1]["two_step_setup_required"] is False


def test_a_volunteer_is_not_asked_for_totp(stack: Any, api: Any) -> None:
    # given a volunteer (not a supervisor) who signs in with a password only
    sub = cognito_user(stack, "noa")
    DynamoVolunteerRegistry(
        stack.resources["VolunteersTable"].physical_id,
        boto3.session.Session(region_name="us-east-1").client("dynamodb"),
    ).create(VolunteerRecord(volunteer_id=sub, username="noa", display_name="Noa"))

    # then their own operations work and nothing asks them to set TOTP up
    status, me = api("GET", "/volunteer/me", sub)
    assert status == 200 and me["two_step_setup_required"] is False
    assert api("GET", "/volunteer/line", sub) == (403, {"message": "supervisors only"})


def test_without_totp_a_supervisor_sees_only_their_own_conversations(
    stack: Any, api: Any, as_function: Callable[..., Any], lambda_context: Any
) -> None:
    # given an open conversation nobody holds (a texter's first text), and a supervisor without TOTP
    session = boto3.session.Session(region_name="us-east-1")
    session.client("secretsmanager").create_secret(
        Name=stack.functions["InboundWebhookFunction"].environment["TWILIO_SECRET_NAME"],
        SecretString=json.dumps({"account_sid": SAMPLE_ACCOUNT_SID, "auth_token": SAMPLE_AUTH_TOKEN}),
    )
    with as_function("InboundWebhookFunction") as webhook:
        event = text_event("hi, I need to talk", from_number="+15555550771", sid="SM" + "7" * 32)
        assert webhook.lambda_handler(event, lambda_context)["statusCode"] == 200
    with as_function("ConversationEngineFunction") as engine:
        messages = drain(session.client("sqs"), queue_url(stack, "InboundQueue"))
        assert engine.lambda_handler(sqs_event(messages), lambda_context) == {"batchItemFailures": []}
    sub = supervisor(stack, "ivo")

    # then no open conversation but their own is listed for them, as for any volunteer
    status, listed = api("GET", "/volunteer/conversations", sub)
    assert (status, listed["conversations"]) == (200, [])

    # when they set TOTP up, then they see every open conversation and may read its transcript
    with_totp(stack, "ivo", PASSWORD)
    status, listed = api("GET", "/volunteer/conversations", sub)
    assert status == 200 and listed["conversations"], "a supervisor with TOTP sees every open conversation"
    conversation_id = listed["conversations"][0]["id"]
    assert api("GET", f"/volunteer/conversations/{conversation_id}/messages", sub)[0] == 200

    # and another supervisor, still without TOTP, can't read that transcript
    assert api("GET", f"/volunteer/conversations/{conversation_id}/messages", supervisor(stack, "uma"))[0] == 404
