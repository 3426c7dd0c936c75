"""A texter's DELETE, a supervisor's erase / block / unblock by alias, and escalation records after a close — through
the webhook, the engine and the volunteer API in-process, against moto with every resource from template.yaml."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from api_gateway_kit import call_api, template_routes
from handler_kit import drain, sqs_event
from test_handlers import queue_url, text_event
from two_step_kit import register_team

from peerline.adapters.dynamo import from_item, to_item
from peerline.models import Language, Role
from peerline.phone import texter_alias, texter_id_for
from peerline_local.emulators import HttpApiEmulator
from peerline_local.sample_events import SAMPLE_ACCOUNT_SID, SAMPLE_AUTH_TOKEN

CRISIS = "i just took a whole bottle of pills"


@pytest.fixture(scope="module")
def aws(stack: Any) -> dict[str, Any]:
    session = boto3.session.Session(region_name="us-east-1")
    clients = {name: session.client(name) for name in ("sqs", "dynamodb", "secretsmanager")}
    clients["secretsmanager"].create_secret(
        Name=stack.functions["SendSmsFunction"].environment["TWILIO_SECRET_NAME"],
        SecretString=json.dumps({"account_sid": SAMPLE_ACCOUNT_SID, "auth_token": SAMPLE_AUTH_TOKEN}),
    )
    register_team(
        stack,
        [
            ("sub-ana", "Ana", [Language.ENGLISH], [Role.VOLUNTEER]),
            ("sub-sol", "Sol", [Language.ENGLISH], [Role.VOLUNTEER, Role.SUPERVISOR]),
        ],
    )
    return clients


@pytest.fixture(scope="module")
def pepper(aws: dict[str, Any], stack: Any) -> str:
    secret = stack.resources["TexterIdPepperSecret"].physical_id
    return str(aws["secretsmanager"].get_secret_value(SecretId=secret)["SecretString"])


@pytest.fixture(scope="module")
def routes(stack: Any) -> HttpApiEmulator:
    return template_routes(stack)


@pytest.fixture
def api(
    as_function: Callable[..., Any], lambda_context: Any, routes: HttpApiEmulator
) -> Callable[..., tuple[int, Any]]:
    def call(method: str, path: str, sub: str | None = "sub-sol", body: Any = None) -> tuple[int, Any]:
        return call_api(routes, as_function, lambda_context, method, path, sub=sub, body=body)

    return call


_sids = iter(range(10_000))


@pytest.fixture
def texter_texts(as_function: Callable[..., Any], lambda_context: Any, aws: Any, stack: Any) -> Callable[..., None]:
    def text(number: str, body: str, **engine_environment: str) -> None:
        sid = f"SM{next(_sids):032d}"
        with as_function("InboundWebhookFunction") as webhook:
            assert (
                webhook.lambda_handler(text_event(body, from_number=number, sid=sid), lambda_context)["statusCode"]
                == 200
            )
        with as_function("ConversationEngineFunction", **engine_environment) as engine:
            messages = drain(aws["sqs"], queue_url(stack, "InboundQueue"))
            assert engine.lambda_handler(sqs_event(messages), lambda_context) == {"batchItemFailures": []}

    return text


def _items(aws: dict[str, Any], stack: Any, table: str) -> list[dict[str, Any]]:
    name = stack.resources[table].physical_id
    return [from_item(item) for item in aws["dynamodb"].scan(TableName=name, ConsistentRead=True)["Items"]]


def _texter(aws: dict[str, Any], stack: Any, texter_id: str) -> dict[str, Any] | None:
    name = stack.resources["TextersTable"].physical_id
    item = aws["dynamodb"].get_item(TableName=name, Key=to_item({"texter_id": texter_id}), ConsistentRead=True)
    return from_item(item["Item"]) if "Item" in item else None


def _outbound(aws: dict[str, Any], stack: Any) -> list[dict[str, Any]]:
    return [json.loads(message["Body"]) for message in drain(aws["sqs"], queue_url(stack, "OutboundQueue"))]


def _audit(aws: dict[str, Any], stack: Any, actor_id: str) -> list[dict[str, Any]]:
    return [
        from_item(item)
        for item in aws["dynamodb"].query(
            TableName=stack.resources["AuditTable"].physical_id,
            KeyConditionExpression="actor_id = :actor",
            ExpressionAttributeValues=to_item({":actor": actor_id}),
            ConsistentRead=True,
        )["Items"]
    ]


def test_the_texter_operations_are_in_the_openapi_document_with_their_refusals(api: Any) -> None:
    status, document = api("GET", "/openapi.json", sub=None)
    assert status == 200
    for path, operation_id in [
        ("/volunteer/texters/{alias}/erase", "eraseTexter"),
        ("/volunteer/texters/{alias}/block", "blockTexter"),
        ("/volunteer/texters/{alias}/unblock", "unblockTexter"),
    ]:
        operation = document["paths"][path]["post"]
        assert operation["operationId"] == operation_id
        assert {"403", "404", "422"} <= set(operation["responses"])
        # and what it answers when it works
        assert {"204" if operation_id == "eraseTexter" else "200"} <= set(operation["responses"])
    block = document["paths"]["/volunteer/texters/{alias}/block"]["post"]["responses"]["200"]
    assert block["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/TexterBlock"}


def test_delete_erases_the_texter_their_consented_metadata_and_their_escalation_links(
    api: Any, texter_texts: Any, aws: Any, stack: Any, pepper: str
) -> None:
    # given a texter who consented, then sent a crisis text that opened an escalation
    number = "+15555550401"
    texter_id = texter_id_for(number, pepper)
    texter_texts(number, "hi")
    texter_texts(number, "yes")
    texter_texts(number, CRISIS)
    texter = _texter(aws, stack, texter_id)
    assert texter is not None
    conversation_id = texter["open_conversation_id"]
    assert [e for e in _items(aws, stack, "EscalationsTable") if e.get("texter_id") == texter_id]
    _outbound(aws, stack)

    # when they text DELETE
    texter_texts(number, "Delete")

    # then their record, their (consented) conversation and its bodies are gone
    assert _texter(aws, stack, texter_id) is None
    assert all(c["conversation_id"] != conversation_id for c in _items(aws, stack, "ConversationsTable"))
    assert all(m["conversation_id"] != conversation_id for m in _items(aws, stack, "MessagesTable"))
    # and no escalation names them or their conversation; the open one is still open (still paged)
    escalations = _items(aws, stack, "EscalationsTable")
    assert all(e.get("texter_id") != texter_id and e.get("conversation_id") != conversation_id for e in escalations)
    [still_open] = [e for e in escalations if e["status"] == "open" and e["texter_id"] == ""]
    # whose number can no longer be revealed (it is gone): a 404, not a 500
    reveal = {"reason": "welfare check requested by police"}
    assert api("POST", f"/volunteer/escalations/{still_open['escalation_id']}/reveal", body=reveal)[0] == 404
    assert texter_id not in json.dumps(escalations, default=str)
    # and one confirmation was queued, to the encrypted number, naming no texter and no conversation
    [confirmation] = [text for text in _outbound(aws, stack) if text["purpose"] == "erased"]
    assert confirmation["encrypted_to"] == texter["encrypted_number"]
    assert (confirmation["texter_id"], confirmation["conversation_id"]) == (None, None)
    # and the audit log holds an anonymous entry
    [entry] = _audit(aws, stack, "texter")
    assert (entry["action"], entry["subject"]) == ("erase_texter", "")


def test_a_supervisor_blocks_unblocks_and_erases_a_texter_by_alias_audited(
    api: Any, texter_texts: Any, aws: Any, stack: Any, pepper: str
) -> None:
    # given a texter in a conversation, known to supervisors by alias only
    number = "+15555550402"
    texter_id = texter_id_for(number, pepper)
    texter_texts(number, "hi")
    alias = texter_alias(texter_id)
    code = alias.removeprefix("Texter ")
    _outbound(aws, stack)

    # then a volunteer may not block, a bad body or alias is refused, an unknown alias is not found
    reason = {"reason": "abusive texts to volunteers", "hours": 2}
    assert api("POST", f"/volunteer/texters/{code}/block", sub="sub-ana", body=reason)[0] == 403
    assert api("POST", f"/volunteer/texters/{code}/block", body={"reason": "abuse", "hours": 0})[0] == 422
    assert api("POST", f"/volunteer/texters/{code}/block", body={"reason": "abuse", "hours": 24 * 365})[0] == 422
    assert api("POST", f"/volunteer/texters/{code}/block", body={"hours": 2})[0] == 422
    assert api("POST", "/volunteer/texters/ZZZZ/block", body=reason)[0] == 422
    unknown = next(f"{n:04X}" for n in range(0x10000) if f"{n:04X}" != code.upper())
    assert api("POST", f"/volunteer/texters/{unknown}/block", body=reason)[0] == 404

    # when a supervisor blocks them for 2 hours
    status, block = api("POST", f"/volunteer/texters/{code}/block", body=reason)

    # then they are blocked until then, and the audit log says who, what, whom and why
    assert status == 200 and block["texter_alias"] == alias
    assert datetime.fromisoformat(block["blocked_until"]) > datetime.now(UTC) + timedelta(hours=1)
    [entry] = _audit(aws, stack, "sub-sol")
    assert (entry["action"], entry["subject"]) == ("block_texter", alias)
    assert "abusive texts to volunteers" in entry["reason"]

    # and their next texts close their conversation, reach no volunteer and get one notice
    texter_texts(number, "you can't stop me")
    texter_texts(number, "hello??")
    assert [text["purpose"] for text in _outbound(aws, stack)] == ["blocked"]
    assert _texter(aws, stack, texter_id).get("open_conversation_id") is None  # type: ignore[union-attr]

    # when the supervisor lifts the block, then erases the texter
    status, lifted = api("POST", f"/volunteer/texters/{code}/unblock", body={"reason": "talked it through"})
    assert (status, lifted["blocked_until"]) == (200, None)
    assert api("POST", f"/volunteer/texters/{code}/erase", body={"reason": "asked us by phone"})[0] == 204

    # then the texter is gone, told so once, and both steps are audited under the supervisor's id
    assert _texter(aws, stack, texter_id) is None
    assert [text["purpose"] for text in _outbound(aws, stack)] == ["erased"]
    actions = [(entry["action"], entry["subject"]) for entry in _audit(aws, stack, "sub-sol")]
    assert sorted(actions) == sorted([("block_texter", alias), ("unblock_texter", alias), ("erase_texter", alias)])
    [erased] = [entry for entry in _audit(aws, stack, "sub-sol") if entry["action"] == "erase_texter"]
    assert erased["reason"] == "asked us by phone"
    assert api("POST", f"/volunteer/texters/{code}/erase", body={"reason": "asked us by phone"})[0] == 404
    # and an erase without a reason is refused, naming the missing field
    status, problem = api("POST", f"/volunteer/texters/{code}/erase", body={})
    assert status == 422 and "reason" in problem["message"]


def test_a_block_lapses_by_itself(api: Any, texter_texts: Any, aws: Any, stack: Any, pepper: str) -> None:
    # given a blocked texter who was told so
    number = "+15555550403"
    texter_id = texter_id_for(number, pepper)
    texter_texts(number, "hi")
    _outbound(aws, stack)
    code = texter_alias(texter_id).removeprefix("Texter ")
    assert api("POST", f"/volunteer/texters/{code}/block", body={"reason": "spam", "hours": 1})[0] == 200
    texter_texts(number, "hello?")
    assert [text["purpose"] for text in _outbound(aws, stack)] == ["blocked"]

    # when the block's time has passed (the record says it ended a minute ago)
    aws["dynamodb"].update_item(
        TableName=stack.resources["TextersTable"].physical_id,
        Key=to_item({"texter_id": texter_id}),
        UpdateExpression="SET blocked_until = :past",
        ExpressionAttributeValues=to_item({":past": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()}),
    )
    texter_texts(number, "hi again")

    # then they are answered and queued for a volunteer as usual
    purposes = [text["purpose"] for text in _outbound(aws, stack)]
    assert "blocked" not in purposes and purposes
    assert _texter(aws, stack, texter_id).get("open_conversation_id") is not None  # type: ignore[union-attr]


def test_without_consent_a_closed_conversations_escalation_keeps_no_texter_or_conversation_id(
    api: Any, texter_texts: Any, aws: Any, stack: Any, pepper: str
) -> None:
    # given Ana in a conversation with a texter who said NO, then sent a crisis text
    number = "+15555550404"
    texter_id = texter_id_for(number, pepper)
    assert api("PUT", "/volunteer/me/availability", sub="sub-ana", body={"status": "available"})[0] == 200
    texter_texts(number, "hi")
    texter_texts(number, "no")
    conversation_id = _texter(aws, stack, texter_id)["open_conversation_id"]  # type: ignore[index]
    assert api("POST", f"/volunteer/conversations/{conversation_id}/accept", sub="sub-ana")[0] == 200
    texter_texts(number, CRISIS)
    [escalation] = [e for e in _items(aws, stack, "EscalationsTable") if e.get("texter_id") == texter_id]
    # and a supervisor acknowledged it
    assert api("POST", f"/volunteer/escalations/{escalation['escalation_id']}/acknowledge")[0] == 200

    # when Ana closes the conversation
    body = {"outcome": "supported", "tags": []}
    assert api("POST", f"/volunteer/conversations/{conversation_id}/close", sub="sub-ana", body=body)[0] == 204

    # then the escalation keeps only anonymous facts: no texter, no conversation, no alias
    [kept] = [e for e in _items(aws, stack, "EscalationsTable") if e["escalation_id"] == escalation["escalation_id"]]
    assert (kept["texter_id"], kept.get("conversation_id"), kept["texter_alias"]) == ("", None, "Texter")
    assert (kept["level"], kept["status"]) == (escalation["level"], "acknowledged")
    assert kept["acknowledged_by"] == "supervisor:Sol"


def test_texts_above_the_per_texter_rate_limit_are_kept_and_triaged_but_get_no_automatic_reply(
    texter_texts: Any, aws: Any, stack: Any, pepper: str
) -> None:
    # given a line that answers each texter's first 2 texts of a minute, and a texter who used them
    number, per_minute = "+15555550931", {"TEXTER_TEXTS_PER_MINUTE": "2"}
    texter_texts(number, "hi", **per_minute)
    texter_texts(number, "HELP", **per_minute)
    _outbound(aws, stack)

    # when they text HELP a third time within the minute
    texter_texts(number, "HELP", **per_minute)

    # then nothing is texted back
    assert _outbound(aws, stack) == []

    # and a crisis text above the limit still gets the safety text and pages on-call
    texter_texts(number, "i have my pills here and i'm going to take them all tonight", **per_minute)
    assert "safety" in [text["purpose"] for text in _outbound(aws, stack)]
    texter_id = texter_id_for(number, pepper)
    assert any(item.get("texter_id") == texter_id for item in _items(aws, stack, "EscalationsTable"))
