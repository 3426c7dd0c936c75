"""AWS calls per conversation, and what 1,000 conversations cost at public us-east-1 prices.

    make bench-calls            (or: .venv/bin/python bench/aws_calls.py [--out FILE])

Two scripted conversations run in-process against moto (every resource of template.yaml) and the Twilio fake,
each function as a warm execution environment (ports built once; set-up before the count starts):

  typical    first text, consent, offered to the available volunteer, accept (the dashboard lists conversations and
             loads the transcript), 10 texts each way (texter: webhook → engine; volunteer: volunteer API), close;
             every outbound text through the sender; Twilio's status callbacks (sent, delivered) for each; then
             every timer the conversation scheduled fires (fast-forwarded: they are stale by then and do nothing).
  escalated  a crisis text (safety text, page over SMS + SNS, re-page timer), the re-page timer firing once
             (fast-forwarded by RepageSeconds), the on-call professional texting "ACK <code>", then its timers.

botocore's before-call/after-call event hooks (registered on every botocore session) count the calls by service and
operation, and approximate DynamoDB capacity units. Lambda invocations are counted per function; the Lambda
service's own SQS polling for the event sources is estimated (1 ReceiveMessage + 1 DeleteMessageBatch per
SQS-triggered invocation; idle long polling is a fixed cost per queue, not per conversation, and is left out).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import botocore.session
from common import (
    Line,
    drain,
    environment,
    machine,
    moto_stack,
    progress,
    sqs_event,
    summary,
    table,
    twilio_fake,
    write_results,
)

# ================================================================================================================
# PRICES — public us-east-1 list prices, USD, as published on the AWS and Twilio pricing pages in 2025 (DynamoDB
# on-demand after the 1 Nov 2024 reduction). Not fetched at run time: re-check before quoting. Free tiers ignored.
PRICES_AS_OF = "2025 (AWS/Twilio public pricing pages, us-east-1; DynamoDB on-demand after the 2024-11-01 cut)"
PRICES: dict[str, float] = {
    "lambda_request": 0.20 / 1e6,  # per request
    "lambda_gb_second_arm64": 0.0000133334,  # per GB-s, arm64, first 7.5 billion GB-s a month
    "sqs_standard_request": 0.40 / 1e6,  # per request (each 64 KB chunk of a payload is one request)
    "sqs_fifo_request": 0.50 / 1e6,
    "dynamodb_write_request_unit": 0.625 / 1e6,  # on-demand WRU
    "dynamodb_read_request_unit": 0.125 / 1e6,  # on-demand RRU
    "http_api_request": 1.00 / 1e6,  # API Gateway HTTP API, first 300 million a month
    "sns_publish": 0.50 / 1e6,  # standard topic publishes (deliveries to e-mail/SMS endpoints are extra)
    # Not in the brief's list, but this line makes them too:
    "kms_request": 0.03 / 1e4,  # Encrypt/Decrypt/GenerateDataKey
    "secretsmanager_api_call": 0.05 / 1e4,
    "websocket_message": 1.00 / 1e6,  # API Gateway WebSocket messages (post_to_connection)
    "xray_trace_recorded": 5.00 / 1e6,  # Tracing: Active; upper bound: every invocation sampled
    # Twilio, shown separately: US long-code SMS, per segment, each way (carrier fees are extra).
    "twilio_sms_segment_us": 0.0083,
}
# ================================================================================================================

SQS_TRIGGERED = {"ConversationEngineFunction": True, "SendSmsFunction": True, "ConversationTimersFunction": False}
HTTP_TRIGGERED = {"InboundWebhookFunction", "StatusCallbackFunction", "VolunteerApiFunction"}

TEXTER_TEXTS = [
    "things have been really hard lately",
    "my best friend stopped talking to me",
    "I keep thinking it's my fault",
    "I haven't been sleeping much",
    "school is a lot right now too",
    "I guess I feel alone",
    "my mom is busy with work all the time",
    "maybe I could text my cousin",
    "yeah that might help",
    "thanks, I feel a bit better",
]
VOLUNTEER_REPLIES = [
    "I'm really glad you reached out. What's been going on?",
    "That sounds painful. How long has it been like that?",
    "It makes sense you'd wonder that. What happened?",
    "Not sleeping makes everything harder. What keeps you up?",
    "That's a lot to carry at once.",
    "Feeling alone is hard. Who do you usually talk to?",
    "It sounds like you miss having time with her.",
    "That sounds like a good idea. What would you say?",
    "I think that could really help.",
    "I'm glad. You can text us any time.",
]


class CallCounter:
    """Counts AWS API calls by service and operation through botocore's event hooks (only while ``active``)."""

    def __init__(self) -> None:
        self.active = False
        self.calls: Counter[tuple[str, str]] = Counter()
        self.read_units: defaultdict[str, float] = defaultdict(float)
        self.write_units: defaultdict[str, float] = defaultdict(float)
        self.sqs_requests: Counter[str] = Counter()  # "fifo" / "standard"

    def install(self) -> None:
        """Register the hooks on every botocore session created from now on (boto3 makes one per Session())."""
        original = botocore.session.Session.__init__
        counter = self

        def init(session: Any, *args: Any, **kwargs: Any) -> None:
            original(session, *args, **kwargs)
            session.register("before-call", counter.before_call)
            session.register("after-call", counter.after_call)

        setattr(botocore.session.Session, "__init__", init)  # noqa: B010

    def ignore(self, *clients: Any) -> None:
        for client in clients:
            client.meta.events.unregister("before-call", self.before_call)
            client.meta.events.unregister("after-call", self.after_call)

    @contextmanager
    def counting(self) -> Iterator[None]:
        self.active = True
        try:
            yield
        finally:
            self.active = False

    def snapshot(self) -> dict[str, Any]:
        return {
            "calls": Counter(self.calls),
            "read_units": sum(self.read_units.values()),
            "write_units": sum(self.write_units.values()),
            "sqs_requests": Counter(self.sqs_requests),
        }

    def before_call(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["bench_params"] = params

    def after_call(self, http_response: Any, model: Any, context: dict[str, Any], **_: Any) -> None:
        if not self.active:
            return
        try:
            self._count(http_response, model, context)
        except Exception as error:  # a counting hook must never break the call it watches
            print(f"  ! counting hook failed: {error!r}", file=sys.stderr)

    def _count(self, http_response: Any, model: Any, context: dict[str, Any]) -> None:
        service, operation = model.service_model.service_name, model.name
        self.calls[(service, operation)] += 1
        params = context.get("bench_params") or {}
        if service == "dynamodb":
            reads, writes = _capacity(operation, params, len(getattr(http_response, "content", b"") or b""))
            self.read_units[operation] += reads
            self.write_units[operation] += writes
        elif service == "sqs":
            self.sqs_requests["fifo" if str(params.get("QueueUrl", "")).endswith(".fifo") else "standard"] += 1


def _capacity(operation: str, params: dict[str, Any], response_bytes: int) -> tuple[float, float]:
    """Approximate (RRU, WRU): 1 WRU per write ≤ 1 KB (by request size), transactions 2×; 0.5 RRU per eventually
    consistent 4 KB read, 1 per strongly consistent (by response size). GSI write amplification is not counted."""
    per_read = 1.0 if params.get("ConsistentRead") else 0.5
    if operation in {"GetItem", "Query", "Scan"}:
        return per_read * max(1, math.ceil(response_bytes / 4096)), 0.0
    if operation == "BatchGetItem":
        keys = sum(len(request.get("Keys", [])) for request in params.get("RequestItems", {}).values())
        return per_read * keys, 0.0
    if operation == "TransactGetItems":
        return 2.0 * len(params.get("TransactItems", [])), 0.0
    if operation in {"PutItem", "UpdateItem", "DeleteItem"}:
        return 0.0, float(max(1, math.ceil(len(str(params)) / 1024)))
    if operation == "BatchWriteItem":
        return 0.0, float(sum(len(requests) for requests in params.get("RequestItems", {}).values()))
    if operation == "TransactWriteItems":
        return 0.0, 2.0 * len(params.get("TransactItems", []))
    return 0.0, 0.0


# ---------------------------------------------------------------------------------------------- the scripts


@contextmanager
def fast_forward(line: Line, seconds: float) -> Iterator[None]:
    """Timers become visible at once (moto's SQS delay is skipped) and the timer function's clock runs ahead."""
    from moto.sqs.models import Message

    handler = line.timers.handler
    saved_delayed, saved_fire = Message.delayed, handler.fire_timer

    def fire_and_record(timer: Any, **kwargs: Any) -> str:
        outcome = str(saved_fire(timer, **kwargs))
        TIMER_OUTCOMES[f"{timer.kind.value}:{outcome}"] += 1
        return outcome

    # Every clock of the line's code runs ahead: the timer handler's and the domain modules' `utc_now`.
    ahead = timedelta(seconds=seconds)
    clocks = [
        (module, name, value)
        for module in [handler, *(m for n, m in list(sys.modules.items()) if n.startswith("peerline"))]
        for name in ("utc_now",)
        if (value := getattr(module, name, None)) is not None and callable(value)
    ]
    ports = handler.composition
    with environment(line.timers.env):
        timers = ports.conversation_timers()
        built = (timers.engine, timers.router, timers.escalations)
    clocks += [(port, "_clock", port._clock) for port in built if hasattr(port, "_clock")]
    Message.delayed = property(lambda _message: False)  # type: ignore[assignment,method-assign]
    for module, name, value in clocks:
        setattr(module, name, (lambda original: lambda: original() + ahead)(value))
    handler.fire_timer = fire_and_record
    try:
        yield
    finally:
        Message.delayed = saved_delayed  # type: ignore[method-assign]
        for module, name, value in clocks:
            setattr(module, name, value)
        handler.fire_timer = saved_fire


TIMER_KINDS: Counter[str] = Counter()
TIMER_OUTCOMES: Counter[str] = Counter()


def fire_timers(line: Line, seconds: float, passes: int = 3) -> int:
    """Fire what the timer queue holds as if ``seconds`` had passed (rescheduled timers get up to ``passes``)."""
    fired = 0
    with fast_forward(line, seconds):
        for _ in range(passes):
            messages = drain(line.sqs, line.queue_url("TimerQueue"))
            TIMER_KINDS.update(json.loads(m["Body"]).get("kind", "?") for m in messages)
            for start in range(0, len(messages), 10):
                assert line.timers(sqs_event(messages[start : start + 10])) == {"batchItemFailures": []}
            line.settle()
            fired += len(messages)
            if not messages:
                break
    return fired


def status_callbacks(line: Line, fake: Any, known: set[str]) -> None:
    """What Twilio posts for every text the sender sent since ``known``: sent, then delivered."""
    for message in reversed(fake.messages()):
        if message["direction"] != "outbound-api" or message["sid"] in known:
            continue
        known.add(message["sid"])
        for status in ("sent", "delivered"):
            assert (
                line.status(line.status_event(message["sid"], status, message["to"], message["from"]))["statusCode"]
                == 200
            )


def typical_conversation(line: Line, fake: Any, texter: str) -> dict[str, Any]:
    known = {m["sid"] for m in fake.messages()}
    before = set(known)
    line.text(texter, "hi, I need to talk to someone")
    line.settle()
    line.text(texter, "yes")
    line.settle()
    status, listing = line.api("GET", "/volunteer/conversations", "sub-ana")
    [offered] = [c for c in listing["conversations"] if c["status"] == "offered"]
    path = f"/volunteer/conversations/{offered['id']}"
    assert line.api("POST", f"{path}/accept", "sub-ana")[0] == 200
    line.settle()
    assert line.api("GET", f"{path}/messages", "sub-ana")[0] == 200
    for texter_text, reply in zip(TEXTER_TEXTS, VOLUNTEER_REPLIES, strict=True):
        line.text(texter, texter_text)
        line.settle()
        assert line.api("POST", f"{path}/messages", "sub-ana", {"body": reply})[0] == 200
        line.settle()
    status, _ = line.api("POST", f"{path}/close", "sub-ana", {"outcome": "supported", "tags": []})
    assert status in (200, 204), status
    line.settle()
    status_callbacks(line, fake, known)
    timers = fire_timers(line, seconds=3600)
    status_callbacks(line, fake, known)
    return {"timers_fired": timers, **_texts(fake, known_before=before)}


def escalated_conversation(line: Line, fake: Any, texter: str, on_call: str, repage_seconds: int) -> dict[str, Any]:
    known = {m["sid"] for m in fake.messages()}
    before = set(known)
    line.text(texter, "i just took 30 pills and i want to die")
    line.settle()
    pages = [m["body"] for m in fake.messages(to=on_call) if m["sid"] not in known]
    assert pages, "on-call was not paged"
    code = re.search(r"ACK ([A-Z0-9]+)", pages[0])
    assert code, pages[0]
    status_callbacks(line, fake, known)
    repage_fired = fire_timers(line, seconds=repage_seconds + 1, passes=1)
    status_callbacks(line, fake, known)
    line.text(on_call, f"ACK {code.group(1)}")
    line.settle()
    status_callbacks(line, fake, known)
    timers = fire_timers(line, seconds=3600)
    status_callbacks(line, fake, known)
    return {"timers_fired": repage_fired + timers, **_texts(fake, known_before=before)}


def _texts(fake: Any, *, known_before: set[str]) -> dict[str, Any]:
    from peerline_local.twilio_fake import count_segments

    outbound = [m for m in fake.messages() if m["direction"] == "outbound-api" and m["sid"] not in known_before]
    return {"outbound_texts": len(outbound), "outbound_segments": sum(count_segments(m["body"]) for m in outbound)}


# ---------------------------------------------------------------------------------------------- costing


def measure(line: Line, counter: CallCounter, script: Any) -> dict[str, Any]:
    before_calls = counter.snapshot()
    before_invocations = {name: f.invocations for name, f in line.functions.items()}
    before_wall = {name: len(f.wall_ms) for name, f in line.functions.items()}
    inbound_before = line.webhook.invocations
    TIMER_KINDS.clear()
    TIMER_OUTCOMES.clear()
    with counter.counting():
        texts = script()
    texts["timer_kinds"] = dict(TIMER_KINDS)
    texts["timer_outcomes"] = dict(TIMER_OUTCOMES)
    after = counter.snapshot()
    invocations = {
        name: f.invocations - before_invocations[name]
        for name, f in line.functions.items()
        if f.invocations - before_invocations[name]
    }
    wall = {name: f.wall_ms[before_wall[name] :] for name, f in line.functions.items() if name in invocations}
    calls = after["calls"] - before_calls["calls"]
    return {
        "texts": texts,
        "inbound_texts": line.webhook.invocations - inbound_before,
        "lambda_invocations": invocations,
        "lambda_wall_ms": {name: summary(values) for name, values in wall.items()},
        "aws_calls": {f"{service}.{operation}": n for (service, operation), n in sorted(calls.items())},
        "aws_calls_by_service": _by_service(calls),
        "dynamodb_read_units": round(after["read_units"] - before_calls["read_units"], 1),
        "dynamodb_write_units": round(after["write_units"] - before_calls["write_units"], 1),
        "sqs_requests_by_handlers": dict(after["sqs_requests"] - before_calls["sqs_requests"]),
    }


def _by_service(calls: Counter[tuple[str, str]]) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for (service, _), n in calls.items():
        totals[service] += n
    return dict(totals.most_common())


def cost_per_1000(run: dict[str, Any], memory_mb: dict[str, int]) -> dict[str, Any]:
    """USD per 1,000 such conversations, line by line, from PRICES."""
    invocations = run["lambda_invocations"]
    gb_seconds = sum(
        n * math.ceil(run["lambda_wall_ms"][name]["median"]) / 1000 * memory_mb[name] / 1024
        for name, n in invocations.items()
    )
    poller: Counter[str] = Counter()
    for name, n in invocations.items():
        if name in SQS_TRIGGERED:
            poller["fifo" if SQS_TRIGGERED[name] else "standard"] += 2 * n
    sqs = Counter(run["sqs_requests_by_handlers"])
    sqs.update(poller)
    calls = run["aws_calls"]
    http_requests = sum(n for name, n in invocations.items() if name in HTTP_TRIGGERED)
    lines = {
        "Lambda requests": sum(invocations.values()) * PRICES["lambda_request"],
        "Lambda GB-s (arm64)": gb_seconds * PRICES["lambda_gb_second_arm64"],
        "SQS FIFO requests (incl. Lambda poller est.)": sqs["fifo"] * PRICES["sqs_fifo_request"],
        "SQS standard requests (incl. Lambda poller est.)": sqs["standard"] * PRICES["sqs_standard_request"],
        "DynamoDB write units": run["dynamodb_write_units"] * PRICES["dynamodb_write_request_unit"],
        "DynamoDB read units": run["dynamodb_read_units"] * PRICES["dynamodb_read_request_unit"],
        "API Gateway HTTP API requests": http_requests * PRICES["http_api_request"],
        "SNS publishes": calls.get("sns.Publish", 0) * PRICES["sns_publish"],
    }
    other = {
        "KMS requests": sum(n for op, n in calls.items() if op.startswith("kms.")) * PRICES["kms_request"],
        "Secrets Manager calls": sum(n for op, n in calls.items() if op.startswith("secretsmanager."))
        * PRICES["secretsmanager_api_call"],
        "WebSocket messages": calls.get("apigatewaymanagementapi.PostToConnection", 0) * PRICES["websocket_message"],
        "X-Ray traces (upper bound)": sum(invocations.values()) * PRICES["xray_trace_recorded"],
    }
    segments = run["texts"]["outbound_segments"] + run["inbound_texts"]
    per_1000 = {name: round(value * 1000, 4) for name, value in lines.items()}
    other_1000 = {name: round(value * 1000, 4) for name, value in other.items()}
    return {
        "aws_brief_items_usd": per_1000,
        "aws_brief_items_total_usd": round(sum(per_1000.values()), 4),
        "aws_other_usd": other_1000,
        "aws_other_total_usd": round(sum(other_1000.values()), 4),
        "gb_seconds_per_conversation": round(gb_seconds, 3),
        "sqs_requests_per_conversation": dict(sqs),
        "twilio_segments_per_conversation": segments,
        "twilio_usd": round(segments * PRICES["twilio_sms_segment_us"] * 1000, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    counter = CallCounter()
    counter.install()
    repage_seconds = 300
    progress("provisioning template.yaml on moto")
    with moto_stack("bench-calls", RepageSeconds=str(repage_seconds)) as stack, twilio_fake() as fake:
        line = Line(stack, fake.url)
        counter.ignore(line.sqs, line.dynamodb)  # the bench's own event-source emulation is not the line's
        memory_mb = {name: f.memory_mb for name, f in line.functions.items()}
        on_call = "+15555559901"
        _set_up(line, on_call)
        # One unmeasured conversation first: every function's ports and clients built, secrets cached (warm).
        progress("warm-up conversation (not counted)")
        typical_conversation(line, fake, "+15555557000")
        escalated_conversation(line, fake, "+15555557100", on_call, repage_seconds)
        with fast_forward(line, 0):  # the warm-up's pending timers are not the next conversation's
            drain(line.sqs, line.queue_url("TimerQueue"))
        progress("typical conversation")
        typical = measure(line, counter, lambda: typical_conversation(line, fake, "+15555557001"))
        progress("escalated conversation")
        escalated = measure(
            line, counter, lambda: escalated_conversation(line, fake, "+15555557101", on_call, repage_seconds)
        )

    results: dict[str, Any] = {
        "machine": machine(),
        "prices_as_of": PRICES_AS_OF,
        "prices_usd": PRICES,
        "memory_mb": memory_mb,
        "duration_note": "Lambda GB-s use each function's median wall time per invocation measured here against "
        "local moto (rounded up to 1 ms); real AWS calls take longer over the network",
        "conversations": {"typical": typical, "escalated": escalated},
        "cost_per_1000": {
            "typical": cost_per_1000(typical, memory_mb),
            "escalated": cost_per_1000(escalated, memory_mb),
        },
    }
    report(results)
    write_results("aws_calls", results, args.out)
    return 0


def _set_up(line: Line, on_call: str) -> None:
    from peerline.adapters.escalations import DynamoOnCallDirectory
    from peerline.adapters.kms import KmsNumberVault
    from peerline.adapters.secrets import secret_string
    from peerline_ops.oncall import OnCallAdmin

    resources = line.stack.resources
    line.register_volunteer("sub-ana", "Ana")
    line.register_volunteer("sub-sol", "Sol", supervisor=True)
    OnCallAdmin(
        directory=DynamoOnCallDirectory(resources["OnCallTable"].physical_id, dynamodb_client=line.dynamodb),
        vault=KmsNumberVault(resources["PhoneNumberKey"].physical_id),
        pepper=secret_string(resources["TexterIdPepperSecret"].physical_id),
    ).add("Dr On-Call", on_call)
    assert line.api("PUT", "/volunteer/me/availability", "sub-ana", {"status": "available"})[0] == 200


def report(results: dict[str, Any]) -> None:
    conversations = results["conversations"]
    names = list(conversations)
    print("\nAWS calls per conversation (botocore hooks, against moto)")
    operations = sorted({op for run in conversations.values() for op in run["aws_calls"]})
    rows: list[list[Any]] = [[op, *(conversations[n]["aws_calls"].get(op, "") for n in names)] for op in operations]
    rows.append(["TOTAL", *(sum(conversations[n]["aws_calls"].values()) for n in names)])
    print(table(["service.operation", *names], rows))

    print("\nLambda invocations per conversation (median wall ms per invocation, against moto)")
    functions = sorted({f for run in conversations.values() for f in run["lambda_invocations"]})
    rows = [
        [
            f,
            *(
                f"{conversations[n]['lambda_invocations'].get(f, 0)}"
                + (
                    f"  ({conversations[n]['lambda_wall_ms'][f]['median']} ms)"
                    if f in conversations[n]["lambda_wall_ms"]
                    else ""
                )
                for n in names
            ),
        ]
        for f in functions
    ]
    print(table(["function", *names], rows))
    rows = [
        ["inbound texts", *(conversations[n]["inbound_texts"] for n in names)],
        ["outbound texts", *(conversations[n]["texts"]["outbound_texts"] for n in names)],
        ["timers fired", *(conversations[n]["texts"]["timers_fired"] for n in names)],
        ["DynamoDB RRU (approx.)", *(conversations[n]["dynamodb_read_units"] for n in names)],
        ["DynamoDB WRU (approx.)", *(conversations[n]["dynamodb_write_units"] for n in names)],
    ]
    print()
    print(table(["", *names], rows))

    costs = results["cost_per_1000"]
    print(f"\nCost per 1,000 conversations, USD (prices: {results['prices_as_of']})")
    items = list(costs[names[0]]["aws_brief_items_usd"])
    rows = [[item, *(f"{costs[n]['aws_brief_items_usd'][item]:.4f}" for n in names)] for item in items]
    rows.append(["AWS total (the brief's items)", *(f"{costs[n]['aws_brief_items_total_usd']:.4f}" for n in names)])
    others = list(costs[names[0]]["aws_other_usd"])
    rows += [[item, *(f"{costs[n]['aws_other_usd'][item]:.4f}" for n in names)] for item in others]
    rows.append(["AWS other total", *(f"{costs[n]['aws_other_total_usd']:.4f}" for n in names)])
    rows.append(["Twilio SMS segments (each way)", *(costs[n]["twilio_segments_per_conversation"] for n in names)])
    rows.append(["Twilio USD (segments × price)", *(f"{costs[n]['twilio_usd']:.2f}" for n in names)])
    print(table(["item (per 1,000 conversations)", *names], rows))


if __name__ == "__main__":
    sys.exit(main())
