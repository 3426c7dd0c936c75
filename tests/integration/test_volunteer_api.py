"""The volunteer API handler in-process against moto (resources from template.yaml), events as API Gateway
sends them after its JWT authorizer accepted the token."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from api_gateway_kit import call_api, template_routes
from handler_kit import load_handler
from test_handlers import drain, queue_url, sqs_event, text_event
from two_step_kit import cognito_user, register_team, with_totp

from peerline.adapters.audit import DynamoAuditLog
from peerline.adapters.volunteers import DynamoVolunteerRegistry
from peerline.audit import AuditEntry
from peerline.models import Language, Role, VolunteerRecord
from peerline_local.emulators import HttpApiEmulator
from peerline_local.sample_events import SAMPLE_ACCOUNT_SID, SAMPLE_AUTH_TOKEN

OPERATIONS = {
    "getMe",
    "setAvailability",
    "listConversations",
    "takeNext",
    "acceptConversation",
    "declineConversation",
    "listMessages",
    "sendMessage",
    "transferConversation",
    "closeConversation",
    "escalateConversation",
    "listEscalations",
    "acknowledgeEscalation",
    "revealTexterNumber",
    "getLine",
    "getLibrary",
    "updateLibrary",
    "updateSettings",
    "listTransferCandidates",
    "assignConversation",
}


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
            ("sub-ben", "Ben", [Language.ENGLISH], [Role.VOLUNTEER]),
            ("sub-sol", "Sol", [Language.ENGLISH, Language.SPANISH], [Role.VOLUNTEER, Role.SUPERVISOR]),
        ],
    )
    return clients


@pytest.fixture(scope="module")
def http_api(stack: Any) -> HttpApiEmulator:
    return template_routes(stack)


@pytest.fixture
def api(
    as_function: Callable[..., Any], lambda_context: Any, aws: Any, http_api: HttpApiEmulator
) -> Callable[..., tuple[int, Any]]:
    def call(
        method: str, path: str, sub: str | None = "sub-ana", body: Any = None, **environment: str
    ) -> tuple[int, Any]:
        return call_api(http_api, as_function, lambda_context, method, path, sub=sub, body=body, **environment)

    return call


@pytest.fixture
def texter_texts(as_function: Callable[..., Any], lambda_context: Any, aws: Any, stack: Any) -> Callable[..., None]:
    def text(number: str, body: str, sid: str) -> None:
        with as_function("InboundWebhookFunction") as webhook:
            assert (
                webhook.lambda_handler(text_event(body, from_number=number, sid=sid), lambda_context)["statusCode"]
                == 200
            )
        with as_function("ConversationEngineFunction") as engine:
            messages = drain(aws["sqs"], queue_url(stack, "InboundQueue"))
            assert engine.lambda_handler(sqs_event(messages), lambda_context) == {"batchItemFailures": []}

    return text


def test_openapi_document_is_public_and_names_every_operation(api: Any) -> None:
    status, document = api("GET", "/openapi.json", sub=None)
    assert status == 200
    operation_ids = {op["operationId"] for path in document["paths"].values() for op in path.values()}
    assert operation_ids >= OPERATIONS


def test_the_reveal_operation_served_by_its_own_function_is_documented_with_the_rest(api: Any) -> None:
    # when the volunteer API's document is read
    document = api("GET", "/openapi.json", sub=None)[1]

    # then revealTexterNumber is there, at its path, answering a RevealedNumber and declaring its refusals
    operation = document["paths"]["/volunteer/escalations/{escalation_id}/reveal"]["post"]
    assert operation["operationId"] == "revealTexterNumber"
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/RevealedNumber"}
    assert set(document["components"]["schemas"]["RevealedNumber"]["properties"]) == {
        "escalation_id",
        "texter_alias",
        "number",
    }
    assert {"403", "404", "409", "422", "429"} <= set(operation["responses"])


def test_unknown_caller_is_forbidden(api: Any) -> None:
    assert api("GET", "/volunteer/me", sub="sub-nobody")[0] == 403


def test_bad_bodies_are_422_with_a_readable_message(api: Any) -> None:
    status, problem = api("PUT", "/volunteer/me/availability", body={"status": "sleeping"})
    assert status == 422
    assert "status" in problem["message"]
    assert api("PUT", "/volunteer/me/availability", body=b"{not json")[0] == 422
    assert api("PUT", "/volunteer/me/availability", body={"status": "away", "extra": 1})[0] == 422


def test_a_texter_reaches_a_volunteer_and_they_talk_both_ways(
    api: Any, texter_texts: Any, aws: Any, stack: Any
) -> None:
    # given Ana is available (Ben and Sol are offline)
    status, me = api("PUT", "/volunteer/me/availability", body={"status": "available"})
    assert (status, me["status"]) == (200, "available")

    # when a texter texts and answers NO to the consent question
    texter_texts("+15555550301", "hi, I need to talk", "SM" + "a1" * 16)
    texter_texts("+15555550301", "no", "SM" + "a2" * 16)

    # then the conversation is offered to Ana, shown with an alias and no number
    status, listing = api("GET", "/volunteer/conversations")
    [offered] = [c for c in listing["conversations"] if c["status"] == "offered"]
    assert offered["texter_alias"].startswith("Texter ")
    assert "5555550301" not in json.dumps(listing)
    conversation = offered["id"]

    # when Ana accepts, Ben can't (404: not offered to him), nor can Ana twice (409)
    assert api("POST", f"/volunteer/conversations/{conversation}/accept")[0] == 200
    assert api("POST", f"/volunteer/conversations/{conversation}/accept", sub="sub-ben")[0] == 404
    assert api("POST", f"/volunteer/conversations/{conversation}/accept")[0] == 409

    # then she reads the texter's first text and, marked automatic, everything the line texted them on its own
    status, transcript = api("GET", f"/volunteer/conversations/{conversation}/messages")
    assert [(m["direction"], m["purpose"]) for m in transcript["messages"]] == [
        ("inbound", None),
        ("automatic", "welcome"),
        ("automatic", "consent_refused"),
        ("automatic", "finding"),
        ("automatic", "joined"),
    ]
    assert transcript["messages"][0]["body"] == "hi, I need to talk"
    assert transcript["messages"][-1]["body"].startswith("You're now texting with Ana")
    # and her reply goes out through the outbound queue
    status, sent = api("POST", f"/volunteer/conversations/{conversation}/messages", body={"body": "Hi, I'm Ana."})
    assert (status, sent["direction"]) == (200, "outbound")
    outbound = [json.loads(m["Body"]) for m in drain(aws["sqs"], queue_url(stack, "OutboundQueue"))]
    assert any(text["body"].startswith("You're now texting with Ana") for text in outbound)
    assert any(text["body"] == "Hi, I'm Ana." for text in outbound)

    # and a texter's next text reaches her transcript
    texter_texts("+15555550301", "thanks for answering", "SM" + "a3" * 16)
    messages = api("GET", f"/volunteer/conversations/{conversation}/messages")[1]["messages"]
    assert [m["direction"] for m in messages] == ["inbound", *["automatic"] * 4, "outbound", "inbound"]

    # when Ana closes with a wrap-up
    status, _ = api(
        "POST", f"/volunteer/conversations/{conversation}/close", body={"outcome": "supported", "tags": ["anxiety"]}
    )
    assert status == 204

    # then the texter who said NO leaves no record of the conversation, its bodies are gone, Ana's load is back
    table = stack.resources["ConversationsTable"].physical_id
    assert "Item" not in aws["dynamodb"].get_item(TableName=table, Key={"conversation_id": {"S": conversation}})
    messages_table = stack.resources["MessagesTable"].physical_id
    remaining = aws["dynamodb"].query(
        TableName=messages_table,
        KeyConditionExpression="conversation_id = :c",
        ExpressionAttributeValues={":c": {"S": conversation}},
    )["Items"]
    assert remaining == []
    assert api("GET", "/volunteer/me")[1]["load"] == 0
    closing = [json.loads(m["Body"])["purpose"] for m in drain(aws["sqs"], queue_url(stack, "OutboundQueue"))]
    assert "closed" in closing


_cases = iter(range(100))


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("POST", "accept", None),
        ("POST", "decline", None),
        ("GET", "messages", None),
        ("POST", "messages", {"body": "hello"}),
        ("POST", "transfer", {"to": "queue"}),
        ("POST", "close", {"outcome": "supported", "tags": []}),
    ],
)
def test_a_volunteer_cannot_act_on_a_conversation_not_theirs(
    api: Any, texter_texts: Any, method: str, suffix: str, body: Any
) -> None:
    # given a conversation offered to Ana
    api("PUT", "/volunteer/me/availability", body={"status": "available"})
    case = next(_cases)
    number = f"+1555555{400 + case:04d}"
    texter_texts(number, "hello?", f"SM{case:030d}c1")
    texter_texts(number, "yes", f"SM{case:030d}c2")
    offered = [c for c in api("GET", "/volunteer/conversations")[1]["conversations"] if c["status"] == "offered"]
    assert offered, "nothing was offered to Ana"

    # when Ben tries any operation on it, it doesn't exist for him
    status, _ = api(method, f"/volunteer/conversations/{offered[0]['id']}/{suffix}", sub="sub-ben", body=body)
    assert status == 404


def test_an_inactive_conversation_is_closed_with_a_notice_to_both_sides(
    api: Any, texter_texts: Any, as_function: Any, lambda_context: Any, aws: Any, stack: Any
) -> None:
    # given an active conversation of Sol's (Ana is made away)
    api("PUT", "/volunteer/me/availability", body={"status": "away"})
    api("PUT", "/volunteer/me/availability", sub="sub-sol", body={"status": "available"})
    texter_texts("+15555550501", "hola", "SM" + "d1" * 16)
    texter_texts("+15555550501", "sí", "SM" + "d2" * 16)
    listing = api("GET", "/volunteer/conversations", sub="sub-sol")[1]["conversations"]
    # (Sol may first be offered older English conversations still waiting from earlier tests)
    conversation = next(c["id"] for c in listing if c["status"] == "offered")
    assert api("POST", f"/volunteer/conversations/{conversation}/accept", sub="sub-sol")[0] == 200
    drain(aws["sqs"], queue_url(stack, "OutboundQueue"))
    item = aws["dynamodb"].get_item(
        TableName=stack.resources["ConversationsTable"].physical_id, Key={"conversation_id": {"S": conversation}}
    )["Item"]
    last_activity = item["last_activity_at"]["S"]

    # when its inactivity timer fires (due now), and a stale one for an older activity too
    def timer(activity_at: str) -> dict[str, Any]:
        body = {
            "timer_id": f"inactivity:{conversation}:{activity_at}",
            "kind": "inactivity",
            "conversation_id": conversation,
            "texter_id": item["texter_id"]["S"],
            "fire_at": "2020-01-01T00:00:00Z",
            "activity_at": activity_at,
        }
        return {"MessageId": activity_at, "ReceiptHandle": "r", "Body": json.dumps(body), "MD5OfBody": ""}

    with as_function("ConversationTimersFunction"):
        timers = load_handler("conversation_timers")
        assert timers.lambda_handler(sqs_event([timer("2020-01-01T00:00:00+00:00")]), lambda_context) == {
            "batchItemFailures": []
        }
        listing = api("GET", "/volunteer/conversations", sub="sub-sol")[1]["conversations"]
        assert next(c for c in listing if c["id"] == conversation)["status"] == "active"
        timers.lambda_handler(sqs_event([timer(last_activity)]), lambda_context)

    # then the texter is told (in their language) and Sol gets a notice; the conversation is gone from her list
    texts = [json.loads(m["Body"]) for m in drain(aws["sqs"], queue_url(stack, "OutboundQueue"))]
    assert [t["purpose"] for t in texts] == ["closed_inactive"]
    expected = "No hemos sabido de ti" if item["language"]["S"] == "es" else "We haven't heard from you"
    assert texts[0]["body"].startswith(expected)
    me = api("GET", "/volunteer/me", sub="sub-sol")[1]
    assert any("closed after" in notice for notice in me["notices"])
    assert all(
        c["id"] != conversation for c in api("GET", "/volunteer/conversations", sub="sub-sol")[1]["conversations"]
    )


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/volunteer/nothing-here", None),
        ("POST", "/volunteer/me", None),
        ("PUT", "/volunteer/me/availability", b"\xff\xfe not utf-8"),
        ("PUT", "/volunteer/me/availability", b"[]"),
        ("PUT", "/volunteer/me/availability", {"status": None}),
        ("PUT", "/volunteer/me/availability", {"status": "available" * 1000}),
        ("POST", "/volunteer/conversations/..%2F..%2Fetc/accept", None),
        ("POST", "/volunteer/conversations/" + "x" * 5000 + "/accept", None),
        ("POST", "/volunteer/conversations/c1/messages", {"body": ""}),
        ("POST", "/volunteer/conversations/c1/messages", {"body": "x" * 5000}),
        ("POST", "/volunteer/conversations/c1/messages", {"body": 42}),
        ("POST", "/volunteer/conversations/c1/transfer", {}),
        ("POST", "/volunteer/conversations/c1/close", {"outcome": "ok", "tags": "not-a-list"}),
        ("POST", "/volunteer/conversations/c1/close", {"outcome": "ok", "tags": ["t"] * 100}),
        ("POST", "/volunteer/conversations/take-next", b"garbage"),
        ("DELETE", "/volunteer/conversations/c1", None),
    ],
)
def test_no_input_makes_the_api_fail_with_a_5xx(api: Any, method: str, path: str, body: Any) -> None:
    status, payload = api(method, path, body=body)
    assert 400 <= status < 500, (status, payload)


@pytest.fixture(scope="module")
def on_call(aws: Any, stack: Any) -> str:
    """One professional on the rota (through the same admin code as `peerline oncall add`)."""
    from peerline.adapters.escalations import DynamoOnCallDirectory
    from peerline.adapters.kms import KmsNumberVault
    from peerline_ops.oncall import OnCallAdmin

    session = boto3.session.Session(region_name="us-east-1")
    pepper = session.client("secretsmanager").get_secret_value(
        SecretId=stack.resources["TexterIdPepperSecret"].physical_id
    )["SecretString"]
    number = "+15555550999"
    OnCallAdmin(
        directory=DynamoOnCallDirectory(stack.resources["OnCallTable"].physical_id, dynamodb_client=aws["dynamodb"]),
        vault=KmsNumberVault(stack.resources["PhoneNumberKey"].physical_id, session.client("kms")),
        pepper=pepper,
    ).add("Dr. Test", number)
    return number


def test_a_crisis_is_escalated_acknowledged_and_revealed_only_by_a_supervisor(
    api: Any, texter_texts: Any, on_call: str, aws: Any, stack: Any
) -> None:
    # given a texter whose text shows imminent risk
    drain(aws["sqs"], queue_url(stack, "OutboundQueue"))
    texter_texts("+15555550801", "i just took a whole bottle of pills", "SM" + "e1" * 16)

    # then the safety text comes first, then the page; the page has a code and no number or words
    outbound = [json.loads(m["Body"]) for m in drain(aws["sqs"], queue_url(stack, "OutboundQueue"))]
    purposes = [text["purpose"] for text in outbound]
    assert purposes[0] == "safety"
    assert "page" in purposes
    page = next(text for text in outbound if text["purpose"] == "page")
    assert "ACK " in page["body"] and "pills" not in page["body"] and "5555550801" not in page["body"]

    # the supervisor sees the open escalation; a volunteer may not list, acknowledge or reveal
    status, listing = api("GET", "/volunteer/escalations", sub="sub-sol")
    assert status == 200
    escalation = next(e for e in listing["escalations"] if e["level"] == "imminent" and e["code"] in page["body"])
    assert api("GET", "/volunteer/escalations", sub="sub-ana")[0] == 403
    path = f"/volunteer/escalations/{escalation['id']}"
    assert api("POST", f"{path}/acknowledge", sub="sub-ana")[0] == 403
    assert api("POST", f"{path}/reveal", sub="sub-ana", body={"reason": "welfare check needed now"})[0] == 403
    assert api("POST", f"{path}/reveal", sub="sub-sol", body={"reason": "short"})[0] == 422

    # when the supervisor reveals the number for the rescue, with a reason, and acknowledges
    status, revealed = api("POST", f"{path}/reveal", sub="sub-sol", body={"reason": "calling 911 for a welfare check"})
    assert (status, revealed["number"]) == (200, "+15555550801")
    status, acknowledged = api("POST", f"{path}/acknowledge", sub="sub-sol")

    # then the escalation's trail says who acknowledged — never the number or the texter's words
    assert status == 200 and acknowledged["status"] == "acknowledged"
    actions = [(entry["action"], entry["actor"]) for entry in acknowledged["audit"]]
    assert ("escalated", "triage") in actions
    assert ("acknowledged", "supervisor:Sol") in actions
    assert "5555550801" not in json.dumps(acknowledged) and "pills" not in json.dumps(acknowledged)
    # and the reveal is in the append-only audit log, by volunteer id, with the reason (not in the mutable escalation)
    assert "number_revealed" not in [action for action, _ in actions]
    [entry] = [entry for entry in reveals_by(stack, "sub-sol") if entry.subject == escalation["id"]]
    assert (entry.action, entry.reason) == ("reveal_number", "calling 911 for a welfare check")
    assert "5555550801" not in entry.model_dump_json()


def test_revealing_a_number_whose_texter_record_is_gone_is_not_found(
    api: Any, texter_texts: Any, on_call: str, aws: Any, stack: Any
) -> None:
    # given an open escalation whose texter record is gone (e.g. expired by its TTL)
    before = {e["id"] for e in api("GET", "/volunteer/escalations", sub="sub-sol")[1]["escalations"]}
    texter_texts("+15555550809", "i just took a whole bottle of pills", "SM" + "e9" * 16)
    status, listing = api("GET", "/volunteer/escalations", sub="sub-sol")
    escalation = next(e for e in listing["escalations"] if e["id"] not in before)
    stored = aws["dynamodb"].get_item(
        TableName=stack.physical_id("EscalationsTable"), Key={"escalation_id": {"S": escalation["id"]}}
    )["Item"]
    aws["dynamodb"].delete_item(TableName=stack.physical_id("TextersTable"), Key={"texter_id": stored["texter_id"]})

    # when a supervisor asks for the number
    status, problem = api(
        "POST", f"/volunteer/escalations/{escalation['id']}/reveal", sub="sub-sol", body={"reason": "calling 911 now"}
    )

    # then it is not found (a 404 with a message), not a server error, and nothing was revealed or audited
    assert status == 404
    assert "texter" in problem["message"] and "number" not in problem
    assert escalation["id"] not in [entry.subject for entry in reveals_by(stack, "sub-sol")]


def reveals_by(stack: Any, volunteer_id: str) -> list[AuditEntry]:
    """What the audit log holds for a volunteer (the operator's CLI reads it so; no function can)."""
    log = DynamoAuditLog(stack.physical_id("AuditTable"), retention_days=2555)
    return log.entries_by(volunteer_id, since=datetime(2020, 1, 1, tzinfo=UTC))


def _new_escalation(api: Any, texter_texts: Any, number: str, sid: str) -> dict[str, Any]:
    before = {e["id"] for e in api("GET", "/volunteer/escalations", sub="sub-sol")[1]["escalations"]}
    texter_texts(number, "i just took a whole bottle of pills", sid)
    listing = api("GET", "/volunteer/escalations", sub="sub-sol")[1]["escalations"]
    return next(e for e in listing if e["id"] not in before)


def test_revealing_an_unknown_escalation_is_not_found(api: Any) -> None:
    status, problem = api(
        "POST", "/volunteer/escalations/esc-nope/reveal", sub="sub-sol", body={"reason": "calling 911 now"}
    )
    assert (status, problem["message"]) == (404, "no escalation esc-nope")


def test_revealing_for_an_escalation_unlinked_from_its_texter_is_not_found(
    api: Any, texter_texts: Any, on_call: str, aws: Any, stack: Any
) -> None:
    # given an escalation whose texter id was removed (as a close without consent or an erasure may do)
    escalation = _new_escalation(api, texter_texts, "+15555550814", "SM" + "a6" * 16)
    aws["dynamodb"].update_item(
        TableName=stack.physical_id("EscalationsTable"),
        Key={"escalation_id": {"S": escalation["id"]}},
        UpdateExpression="SET texter_id = :none",
        ExpressionAttributeValues={":none": {"S": ""}},
    )

    # when a supervisor asks for the number, then it is not found (never a lookup by an empty key, a 500)
    status, problem = api(
        "POST", f"/volunteer/escalations/{escalation['id']}/reveal", sub="sub-sol", body={"reason": "calling 911 now"}
    )
    assert status == 404 and "no texter record" in problem["message"]


def test_a_number_is_not_revealed_once_the_escalations_window_has_passed(
    api: Any, texter_texts: Any, on_call: str, aws: Any, stack: Any
) -> None:
    # given an escalation opened more than RevealWindowMinutes (60) ago, its conversation still open
    escalation = _new_escalation(api, texter_texts, "+15555550811", "SM" + "a7" * 16)
    aws["dynamodb"].update_item(
        TableName=stack.physical_id("EscalationsTable"),
        Key={"escalation_id": {"S": escalation["id"]}},
        UpdateExpression="SET created_at = :opened",
        ExpressionAttributeValues={":opened": {"S": (datetime.now(UTC) - timedelta(minutes=61)).isoformat()}},
    )

    # when a supervisor asks for the number
    status, problem = api(
        "POST", f"/volunteer/escalations/{escalation['id']}/reveal", sub="sub-sol", body={"reason": "calling 911 now"}
    )

    # then it is refused as a conflict, with why, and nothing is audited
    assert status == 409 and "more than 60 minutes ago" in problem["message"]
    assert escalation["id"] not in [entry.subject for entry in reveals_by(stack, "sub-sol")]


@pytest.fixture
def kim(aws: Any, stack: Any) -> Iterator[str]:
    """A second supervisor, for this test only (the line's head count stays as the other tests expect)."""
    table = stack.physical_id("VolunteersTable")
    # A supervisor reveals only with two-step sign-in (TOTP) on.
    cognito_user(stack, "kim")
    with_totp(stack, "kim")
    DynamoVolunteerRegistry(table, aws["dynamodb"]).create(
        VolunteerRecord(
            volunteer_id="sub-kim", username="kim", display_name="Kim", roles=[Role.VOLUNTEER, Role.SUPERVISOR]
        )
    )
    yield "sub-kim"
    aws["dynamodb"].delete_item(TableName=table, Key={"volunteer_id": {"S": "sub-kim"}})


def test_a_supervisor_past_the_hourly_allowance_is_refused(
    api: Any, texter_texts: Any, on_call: str, kim: str, stack: Any
) -> None:
    # given a second supervisor, allowed one reveal per hour, who has revealed one number
    first = _new_escalation(api, texter_texts, "+15555550812", "SM" + "a8" * 16)
    second = _new_escalation(api, texter_texts, "+15555550813", "SM" + "a9" * 16)
    reason = {"reason": "calling 911 for a welfare check"}
    status, revealed = api("POST", f"/volunteer/escalations/{first['id']}/reveal", kim, reason, REVEALS_PER_HOUR="1")
    assert (status, revealed["number"]) == (200, "+15555550812")

    # when they ask for another number within the hour
    status, problem = api("POST", f"/volunteer/escalations/{second['id']}/reveal", kim, reason, REVEALS_PER_HOUR="1")

    # then they are refused (429, with when to try again), and only the first reveal is audited
    assert status == 429 and "at most 1 numbers may be revealed per hour" in problem["message"]
    assert [entry.subject for entry in reveals_by(stack, kim)] == [first["id"]]


def test_ack_from_the_on_call_phone_acknowledges(
    api: Any, texter_texts: Any, on_call: str, aws: Any, stack: Any
) -> None:
    # given an open escalation
    drain(aws["sqs"], queue_url(stack, "OutboundQueue"))
    texter_texts("+15555550802", "I'm going to kill myself tonight", "SM" + "e2" * 16)
    page = next(
        json.loads(m["Body"])
        for m in drain(aws["sqs"], queue_url(stack, "OutboundQueue"))
        if json.loads(m["Body"])["purpose"] == "page"
    )
    code = page["body"].split("ACK ")[1].split()[0]

    # when the on-call professional texts ACK <code> from their phone
    texter_texts(on_call, f"ACK {code}", "SM" + "e3" * 16)

    # then it is acknowledged by them, they are told so, and supervisors still see it (acknowledged, by whom)
    # while its conversation is open, so that a number can still be revealed for the rescue
    replies = [json.loads(m["Body"]) for m in drain(aws["sqs"], queue_url(stack, "OutboundQueue"))]
    assert [reply["purpose"] for reply in replies] == ["ack"]
    assert "Thank you" in replies[0]["body"]
    listing = api("GET", "/volunteer/escalations", sub="sub-sol")[1]["escalations"]
    [shown] = [e for e in listing if e["code"] == code]
    assert shown["status"] == "acknowledged" and shown["acknowledged_by"].endswith("(on-call)")

    # when a supervisor acknowledges it as well, they learn someone already had, and nothing changes
    status, second = api("POST", f"/volunteer/escalations/{shown['id']}/acknowledge", sub="sub-sol")
    assert status == 200 and second["already_acknowledged"] is True
    assert "already acknowledged by" in second["message"] and "(on-call)" in second["message"]
    assert second["acknowledged_at"] == shown["acknowledged_at"]

    # and a second ACK from the phone is answered with who was first, not "thank you"
    texter_texts(on_call, f"ACK {code}", "SM" + "e4" * 16)
    [again] = [json.loads(m["Body"]) for m in drain(aws["sqs"], queue_url(stack, "OutboundQueue"))]
    assert "already acknowledged" in again["body"] and "Thank you" not in again["body"]


def test_the_line_at_a_glance_is_for_supervisors(api: Any) -> None:
    assert api("GET", "/volunteer/line", sub="sub-ana")[0] == 403
    status, line = api("GET", "/volunteer/line", sub="sub-sol")
    assert status == 200
    assert set(line) == {
        "waiting",
        "longest_wait_seconds",
        "volunteers",
        "active",
        "escalations",
        "queue",
        "available_volunteers",
    }
    assert sum(line["volunteers"].values()) == 3
    assert "+1555" not in json.dumps(line)


def test_the_library_is_read_by_volunteers_and_edited_by_supervisors(api: Any) -> None:
    # given the default library
    status, library = api("GET", "/volunteer/library", sub="sub-ana")
    assert status == 200 and library["canned_responses"] and library["resources"]

    # when a volunteer tries to edit it, refused; a supervisor's edit sticks; a bad edit is a 422
    library["canned_responses"].append(
        {"id": "breathe", "title": "Breathe", "text": "Let's take a slow breath together."}
    )
    assert api("PUT", "/volunteer/library", sub="sub-ana", body=library)[0] == 403
    assert api("PUT", "/volunteer/library", sub="sub-sol", body=library)[0] == 200
    assert any(entry["id"] == "breathe" for entry in api("GET", "/volunteer/library")[1]["canned_responses"])
    assert api("PUT", "/volunteer/library", sub="sub-sol", body={"canned_responses": [{"id": "x"}]})[0] == 422


def test_the_dashboard_config_is_public_and_names_the_user_pool(api: Any, stack: Any) -> None:
    status, config = api("GET", "/config.json", sub=None)
    assert status == 200
    assert config["userPoolId"] == stack.resources["VolunteerUserPool"].physical_id
    assert config["userPoolClientId"] == stack.resources["DashboardUserPoolClient"].physical_id
    assert config["apiUrl"].startswith("http")


def _offered_to(api: Any, sub: str, alias_of_first_text: str) -> dict[str, Any]:
    listing = api("GET", "/volunteer/conversations", sub=sub)[1]["conversations"]
    return next(c for c in listing if c["status"] == "offered" and c["preview"] == alias_of_first_text)


@pytest.fixture(scope="module")
def spanish_team(aws: Any, stack: Any) -> None:
    """Two Spanish-only volunteers, so that conversations other tests leave behind (English) never reach them."""
    register_team(
        stack,
        [
            ("sub-kai", "Kai", [Language.SPANISH], [Role.VOLUNTEER]),
            ("sub-lee", "Lee", [Language.SPANISH], [Role.VOLUNTEER]),
            ("sub-sam", "Sam", [Language.SPANISH], [Role.VOLUNTEER, Role.SUPERVISOR]),
        ],
    )


def _only_kai_available(api: Any) -> None:
    for sub, status in (("sub-ana", "away"), ("sub-ben", "away"), ("sub-kai", "available"), ("sub-lee", "away")):
        assert api("PUT", "/volunteer/me/availability", sub=sub, body={"status": status})[0] == 200
    assert api("PUT", "/volunteer/me/availability", sub="sub-sol", body={"status": "away"})[0] == 200


def test_a_shift_decline_take_next_assign_and_transfer_candidates(
    api: Any, texter_texts: Any, spanish_team: None
) -> None:
    # given Kai is the only available volunteer (Lee away, Sol the supervisor away)
    _only_kai_available(api)

    # when a texter texts, the offer tells Kai how long they waited, the risk and their first words
    texter_texts("+15555550901", "hola, quería hablar un rato sobre mi compañera de piso", "SM" + "f1" * 16)
    texter_texts("+15555550901", "no", "SM" + "f2" * 16)
    offer = _offered_to(api, "sub-kai", "hola, quería hablar un rato sobre mi compañera de piso")
    assert offer["waiting_seconds"] is not None and offer["risk_level"] == "none"
    assert offer["volunteer_name"] == "Kai" and offer["awaiting_reply"] is True
    assert "5555550901" not in json.dumps(offer)

    # when Kai declines it, nobody else is free: Take next still gives it to her (never "nobody is waiting")
    assert api("POST", f"/volunteer/conversations/{offer['id']}/decline", sub="sub-kai")[0] == 204
    status, taken = api("POST", "/volunteer/conversations/take-next", sub="sub-kai")
    assert (status, taken["id"], taken["status"]) == (200, offer["id"], "active")

    # and her transfer picker lists colleagues who could take it now: Lee once he is available, never herself
    assert (
        api("GET", f"/volunteer/conversations/{offer['id']}/transfer-candidates", sub="sub-kai")[1]["volunteers"] == []
    )
    api("PUT", "/volunteer/me/availability", sub="sub-lee", body={"status": "available"})
    candidates = api("GET", f"/volunteer/conversations/{offer['id']}/transfer-candidates", sub="sub-kai")[1][
        "volunteers"
    ]
    assert [(c["volunteer_id"], c["display_name"]) for c in candidates] == [("sub-lee", "Lee")]
    assert api("GET", f"/volunteer/conversations/{offer['id']}/transfer-candidates", sub="sub-lee")[0] == 404
    api("PUT", "/volunteer/me/availability", sub="sub-lee", body={"status": "away"})
    assert (
        api("POST", f"/volunteer/conversations/{offer['id']}/transfer", body={"to": "queue"}, sub="sub-kai")[0] == 200
    )

    # when Kai goes away, the texter waits; the supervisor sees them in the queue and who is free (nobody)
    api("PUT", "/volunteer/me/availability", sub="sub-kai", body={"status": "away"})
    line = api("GET", "/volunteer/line", sub="sub-sol")[1]
    assert offer["id"] in [c["id"] for c in line["queue"]]
    assert line["available_volunteers"] == []

    # then assigning it to an away volunteer is refused with a reason; a volunteer can't assign at all
    status, refused = api(
        "POST", f"/volunteer/conversations/{offer['id']}/assign", sub="sub-sol", body={"to": "sub-lee"}
    )
    assert status == 409 and "Lee is away" in refused["message"]
    assert (
        api("POST", f"/volunteer/conversations/{offer['id']}/assign", sub="sub-kai", body={"to": "sub-kai"})[0] == 403
    )

    # and the supervisor can assign it to Kai once she is available (an offer, though she declined it) ...
    api("PUT", "/volunteer/me/availability", sub="sub-kai", body={"status": "available"})
    current = next(
        c for c in api("GET", "/volunteer/conversations", sub="sub-sol")[1]["conversations"] if c["id"] == offer["id"]
    )
    if current["status"] == "waiting":
        status, assigned = api(
            "POST", f"/volunteer/conversations/{offer['id']}/assign", sub="sub-sol", body={"to": "sub-kai"}
        )
        assert (status, assigned["status"], assigned["volunteer_name"]) == (200, "offered", "Kai")
    api("POST", f"/volunteer/conversations/{offer['id']}/decline", sub="sub-kai")

    # ... or a supervisor takes it themselves, at once (Sam, who is away rather than offline)
    assert api("PUT", "/volunteer/me/availability", sub="sub-sam", body={"status": "away"})[0] == 200
    status, mine = api("POST", f"/volunteer/conversations/{offer['id']}/assign", sub="sub-sam", body={"to": "sub-sam"})
    assert (status, mine.get("status"), mine.get("volunteer_name")) == (200, "active", "Sam"), mine
    api(
        "POST",
        f"/volunteer/conversations/{offer['id']}/close",
        sub="sub-sam",
        body={"outcome": "supported", "tags": []},
    )


def test_offers_while_holding_a_crisis_are_a_setting_off_by_default(api: Any, spanish_team: None) -> None:
    status, me = api("GET", "/volunteer/me", sub="sub-lee")
    assert (status, me["offers_during_crisis"], me["holding_crisis"]) == (200, False, False)
    status, me = api("PUT", "/volunteer/me/settings", sub="sub-lee", body={"offers_during_crisis": True})
    assert (status, me["offers_during_crisis"]) == (200, True)
    assert api("GET", "/volunteer/me", sub="sub-lee")[1]["offers_during_crisis"] is True
    assert api("PUT", "/volunteer/me/settings", sub="sub-lee", body={"offers_during_crisis": "yes please"})[0] == 422
    api("PUT", "/volunteer/me/settings", sub="sub-lee", body={"offers_during_crisis": False})


def test_pressing_escalate_again_says_what_really_happened(
    api: Any, texter_texts: Any, on_call: str, spanish_team: None
) -> None:
    # given Kai holds an ordinary conversation
    _only_kai_available(api)
    texter_texts("+15555550902", "hola, una semana muy dura en el trabajo", "SM" + "f3" * 16)
    texter_texts("+15555550902", "no", "SM" + "f4" * 16)
    offer = _offered_to(api, "sub-kai", "hola, una semana muy dura en el trabajo")
    api("POST", f"/volunteer/conversations/{offer['id']}/accept", sub="sub-kai")
    path = f"/volunteer/conversations/{offer['id']}/escalate"

    # when she escalates, then presses it again, then again after a supervisor acknowledged
    first = api("POST", path, sub="sub-kai")[1]
    second = api("POST", path, sub="sub-kai")[1]
    api("POST", f"/volunteer/escalations/{first['id']}/acknowledge", sub="sub-sol")
    third = api("POST", path, sub="sub-kai")[1]

    # then each answer says what happened: paged, already open (no new page), already acknowledged by whom
    assert (first["outcome"], second["outcome"], third["outcome"]) == ("paged", "already_open", "already_acknowledged")
    assert "No new page was sent" in second["message"] and "Sol (supervisor)" in third["message"]

    # and her conversation carries the same escalation state as the supervisor's list
    mine = next(
        c for c in api("GET", "/volunteer/conversations", sub="sub-kai")[1]["conversations"] if c["id"] == offer["id"]
    )
    assert (
        mine["escalation"]["status"] == "acknowledged" and mine["escalation"]["acknowledged_by"] == "Sol (supervisor)"
    )
    api(
        "POST",
        f"/volunteer/conversations/{offer['id']}/close",
        body={"outcome": "supported", "tags": []},
        sub="sub-kai",
    )
