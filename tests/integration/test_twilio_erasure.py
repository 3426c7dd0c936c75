"""After close, Twilio forgets the conversation and the Deliveries table links nothing: every handler in-process
against moto (resources from template.yaml), the real twilio client against the Twilio fake over real HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest
from handler_kit import drain, load_event, sqs_event

from peerline.adapters.dynamo import from_item
from peerline.adapters.volunteers import DynamoVolunteerRegistry
from peerline.models import Language, Role, VolunteerRecord
from peerline.phone import texter_id_for
from peerline_local.emulators import api_gateway_v2_event
from peerline_local.sample_events import (
    SAMPLE_ACCOUNT_SID,
    SAMPLE_AUTH_TOKEN,
    SAMPLE_LINE_NUMBER,
    signed_webhook_event,
)
from peerline_local.twilio_fake import TwilioFake

# What a status callback needs, and nothing else (see DynamoDeliveryLog).
DELIVERY_ATTRIBUTES = {"message_sid", "delivery_status", "status_rank", "status_at", "error_code", "expires_at"}


@dataclass
class Receiver:
    """Where the Twilio fake posts: texters' texts and status callbacks, kept to hand to the handlers in-process."""

    url: str = ""
    posts: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, path: str) -> list[dict[str, str]]:
        with self.lock:
            taken = [form for where, form in self.posts if where == path]
            self.posts = [(where, form) for where, form in self.posts if where != path]
        return taken


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            form = {key: values[0] for key, values in parse_qs(raw, keep_blank_values=True).items()}
            with state.lock:
                state.posts.append((self.path, form))
            self.send_response(200)
            self.send_header("Content-Length", "11")
            self.end_headers()
            self.wfile.write(b"<Response/>")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def twilio_fake(receiver: Receiver) -> Iterator[TwilioFake]:
    # Deliveries advance only when the test says so (finish_deliveries): "still in flight" is a state, not a race.
    fake = TwilioFake(
        account_sid=SAMPLE_ACCOUNT_SID,
        auth_token=SAMPLE_AUTH_TOKEN,
        line_number=SAMPLE_LINE_NUMBER,
        inbound_webhook_url=f"{receiver.url}/sms/inbound",
        status_delay_seconds=3600,
    )
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def aws(stack: Any) -> dict[str, Any]:
    session = boto3.session.Session(region_name="us-east-1")
    clients = {name: session.client(name) for name in ("sqs", "dynamodb", "secretsmanager")}
    clients["secretsmanager"].create_secret(
        Name=stack.functions["SendSmsFunction"].environment["TWILIO_SECRET_NAME"],
        SecretString=json.dumps({"account_sid": SAMPLE_ACCOUNT_SID, "auth_token": SAMPLE_AUTH_TOKEN}),
    )
    DynamoVolunteerRegistry(stack.resources["VolunteersTable"].physical_id, clients["dynamodb"]).create(
        VolunteerRecord(
            volunteer_id="sub-ana",
            username="ana",
            display_name="Ana",
            roles=[Role.VOLUNTEER],
            languages=[Language.ENGLISH],
            certified_until=date.today() + timedelta(days=365),
        )
    )
    return clients


@dataclass
class Line:
    """The line's functions in-process, fed from their queues; Twilio is the fake, reached over HTTP."""

    as_function: Callable[..., Any]
    context: Any
    aws: dict[str, Any]
    stack: Any
    fake: TwilioFake
    receiver: Receiver
    number: str = "+15555550401"
    sent: list[dict[str, Any]] = field(default_factory=list)

    def queue(self, logical_id: str) -> str:
        return str(self.stack.resources[logical_id].physical_id)

    def run(self, logical_id: str, queue: str, **environment: str) -> list[dict[str, Any]]:
        """One pass: what is on the queue now goes to the function (jobs it puts back wait for the next pass)."""
        messages = drain(self.aws["sqs"], self.queue(queue))
        with self.as_function(logical_id, **environment) as handler:
            for start in range(0, len(messages), 10):
                result = handler.lambda_handler(sqs_event(messages[start : start + 10]), self.context)
                assert result == {"batchItemFailures": []}
        return [json.loads(message["Body"]) for message in messages]

    def text(self, body: str, *, media: tuple[str, ...] = ()) -> None:
        """The texter texts the line: Twilio (the fake) receives it and posts the webhook; the line takes it in."""
        self.fake.send_inbound(self.number, body, media_content_types=media)
        for form in self.receiver.take("/sms/inbound"):
            with self.as_function("InboundWebhookFunction") as webhook:
                response = webhook.lambda_handler(signed_webhook_event("/sms/inbound", form), self.context)
                assert response["statusCode"] == 200
        self.run("ConversationEngineFunction", "InboundQueue")
        self.send()

    def send(self) -> None:
        self.sent += self.run(
            "SendSmsFunction",
            "OutboundQueue",
            TWILIO_API_BASE_URL=self.fake.url,
            STATUS_CALLBACK_URL=f"{self.receiver.url}/sms/status",
        )

    def carriers_deliver(self) -> None:
        """Every text in flight is delivered; Twilio's status callbacks reach the status callback function."""
        self.fake.finish_deliveries()
        for form in self.receiver.take("/sms/status"):
            with self.as_function("StatusCallbackFunction") as callback:
                response = callback.lambda_handler(signed_webhook_event("/sms/status", form), self.context)
                assert response["statusCode"] == 200

    def erase(self) -> list[dict[str, Any]]:
        return self.run(
            "EraseMessagesFunction",
            "EraseQueue",
            TWILIO_API_BASE_URL=self.fake.url,
            ERASE_RECHECK_SECONDS="0",
            ERASE_IN_FLIGHT_RETRY_SECONDS="0",
        )

    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        event = api_gateway_v2_event(
            method=method,
            path=path,
            query="",
            headers={"content-type": "application/json", "host": "api.example.org"},
            body=b"" if body is None else json.dumps(body).encode(),
            source_ip="127.0.0.1",
            domain="api.example.org",
        )
        event["routeKey"] = event["requestContext"]["routeKey"] = "ANY /volunteer/{proxy+}"
        event["requestContext"]["authorizer"] = {"jwt": {"claims": {"sub": "sub-ana"}, "scopes": None}}
        with self.as_function("VolunteerApiFunction") as handler:
            response = handler.lambda_handler(event, self.context)
        payload = response.get("body") or ""
        return int(response["statusCode"]), json.loads(payload) if payload else None

    def held_at_twilio(self) -> list[dict[str, Any]]:
        """The texter's messages the Twilio account still holds (either direction)."""
        return [message for message in self.fake.held_messages() if self.number in (message["to"], message["from"])]

    def deliveries(self) -> list[dict[str, Any]]:
        table = self.queue("DeliveriesTable")
        return [from_item(item) for item in self.aws["dynamodb"].scan(TableName=table, ConsistentRead=True)["Items"]]


@pytest.fixture
def line(
    as_function: Callable[..., Any],
    lambda_context: Any,
    aws: dict[str, Any],
    stack: Any,
    twilio_fake: TwilioFake,
    receiver: Receiver,
) -> Line:
    return Line(as_function, lambda_context, aws, stack, twilio_fake, receiver)


def test_after_a_no_consent_close_twilio_holds_none_of_its_messages_and_deliveries_link_nothing(
    line: Line, aws: dict[str, Any], stack: Any
) -> None:
    # given Ana is available, and a texter who texts (with a picture), says NO to consent and is taken by Ana
    assert line.api("PUT", "/volunteer/me/availability", {"status": "available"})[0] == 200
    line.text("hi, I need to talk", media=("image/jpeg",))
    line.text("no")
    [offered] = line.api("GET", "/volunteer/conversations")[1]["conversations"]
    conversation_id = offered["id"]
    assert line.api("POST", f"/volunteer/conversations/{conversation_id}/accept")[0] == 200
    line.send()
    assert line.api("POST", f"/volunteer/conversations/{conversation_id}/messages", {"body": "Hi, I'm Ana."})[0] == 200
    line.send()
    line.text("thanks for answering")
    line.carriers_deliver()
    held_while_open = line.held_at_twilio()
    # the texter's 3 texts; the welcome, "thanks", "finding", "joined" and Ana's reply
    assert sorted(message["direction"] for message in held_while_open) == ["inbound"] * 3 + ["outbound-api"] * 5

    # when the erasure jobs run while the conversation is open
    line.erase()

    # then Twilio still holds every message (the texter is still in the conversation), and every job waits
    assert line.held_at_twilio() == held_while_open
    waiting = drain(aws["sqs"], line.queue("EraseQueue"))
    assert {json.loads(job["Body"])["message_sid"] for job in waiting} == {m["sid"] for m in held_while_open}
    for job in waiting:
        aws["sqs"].send_message(QueueUrl=line.queue("EraseQueue"), MessageBody=job["Body"])

    # when Ana closes it, the closing text goes out, and the erasure jobs run while that text is still in flight
    assert (
        line.api("POST", f"/volunteer/conversations/{conversation_id}/close", {"outcome": "ok", "tags": []})[0] == 204
    )
    line.send()
    line.erase()

    # then everything is gone from Twilio but the closing text, which Twilio refused to delete (20009): its job is
    # back on the queue, counting the refusal, not lost
    [closing] = line.held_at_twilio()
    assert closing["direction"] == "outbound-api" and closing not in held_while_open
    [retry] = [json.loads(job["Body"]) for job in drain(aws["sqs"], line.queue("EraseQueue"))]
    assert (retry["message_sid"], retry["in_flight_refusals"]) == (closing["sid"], 1)
    aws["sqs"].send_message(QueueUrl=line.queue("EraseQueue"), MessageBody=json.dumps(retry))

    # when the carrier delivers it and the job runs again
    line.carriers_deliver()
    line.erase()

    # then Twilio holds nothing of the conversation: no message either way, no picture
    assert line.held_at_twilio() == []
    assert line.fake.media_count() == 0
    assert drain(aws["sqs"], line.queue("EraseQueue")) == []

    # and no delivery names the texter or the conversation, holds more than a status callback needs, or is kept
    # longer than 48 hours
    pepper = aws["secretsmanager"].get_secret_value(SecretId=stack.resources["TexterIdPepperSecret"].physical_id)
    texter_id = texter_id_for(line.number, pepper["SecretString"])
    deliveries = line.deliveries()
    sent_sids = {message["sid"] for message in held_while_open if message["direction"] == "outbound-api"}
    assert sent_sids <= {delivery["message_sid"] for delivery in deliveries}
    dumped = json.dumps(deliveries, default=str)
    assert texter_id not in dumped
    assert conversation_id not in dumped
    assert all(set(delivery) <= DELIVERY_ATTRIBUTES for delivery in deliveries)
    latest_expiry = datetime.now(UTC) + timedelta(hours=48)
    assert all(int(delivery["expires_at"]) <= latest_expiry.timestamp() for delivery in deliveries)


def test_a_help_answer_outside_any_conversation_is_erased_at_once(line: Line, aws: dict[str, Any]) -> None:
    # given an opted-out texter (STOP closed their conversation; nothing is open)
    line.number = "+15555550402"
    line.text("hi")
    line.text("STOP")
    line.carriers_deliver()
    line.erase()

    # when they text HELP and get the answer
    line.text("HELP")
    line.carriers_deliver()
    line.erase()

    # then neither their texts nor the line's answers stay at Twilio
    assert line.held_at_twilio() == []
    assert drain(aws["sqs"], line.queue("EraseQueue")) == []


def test_the_sample_batch_waits_for_the_open_conversation_and_counts_twilios_404_as_done(
    line: Line, aws: dict[str, Any], stack: Any
) -> None:
    # given the sample erasure batch: a text of a conversation that is open, and one outside any conversation
    # (neither held by the Twilio account: already deleted, say, by an earlier attempt)
    event = load_event("erase_messages/sqs_batch.json")
    jobs = [json.loads(record["body"]) for record in event["Records"]]
    conversation_id = jobs[0]["conversation_id"]
    aws["dynamodb"].put_item(
        TableName=stack.resources["ConversationsTable"].physical_id,
        Item={"conversation_id": {"S": conversation_id}, "state": {"S": "active"}},
    )
    drain(aws["sqs"], line.queue("EraseQueue"))

    # when the eraser handles it
    with line.as_function(
        "EraseMessagesFunction", TWILIO_API_BASE_URL=line.fake.url, ERASE_RECHECK_SECONDS="0"
    ) as handler:
        result = handler.lambda_handler(event, line.context)

    # then both records succeed: the open conversation's job is back on the queue, the other is done (404)
    assert result == {"batchItemFailures": []}
    assert [json.loads(job["Body"]) for job in drain(aws["sqs"], line.queue("EraseQueue"))] == [
        {**jobs[0], "in_flight_refusals": 0}
    ]
