"""Warm cost per event: CPU time per invocation of each handler on a realistic event, against moto.

    make bench-warm            (or: .venv/bin/python bench/warm_cost.py [--n N] [--out FILE])

Handlers run in-process as warm execution environments (each builds its ports once), against a moto server on
loopback with every resource of template.yaml and the Twilio fake. CPU is `time.thread_time()` of the invoking
thread: the handler's own work (parsing, validation, signing, serialising, its boto3/twilio clients), not the moto
server's, which runs in other threads of this process (`time.process_time()` would charge moto's work to the handler).
Wall time is shown beside it, but it includes moto's loopback latency, not AWS's.

Events: the signed inbound webhook (events/inbound_webhook/signed_text.json re-signed with a new MessageSid each
time), an SQS batch of 10 texts from 10 texters for the conversation engine (each texter's texts go first text,
consent answer, then ordinary texts; no volunteer is available, so conversations wait), the sender with one outbound
text per invocation through the Twilio fake, a signed delivery status callback, and the volunteer API
(GET /volunteer/me and listConversations, a registered volunteer, JWT claims as API Gateway passes them).
"""

from __future__ import annotations

import argparse
import base64
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from common import (
    Line,
    drain,
    load_event,
    machine,
    moto_stack,
    progress,
    sqs_event,
    summary,
    table,
    twilio_fake,
    write_results,
)

WARMUP = 5
TEXTER_BODIES = [
    "hi, I need to talk to someone",
    "yes",
    "things have been really hard at school lately",
    "I can't sleep and I keep thinking about it",
    "my parents don't get it",
    "I just feel tired all the time",
    "sorry, I'm not good at this",
    "it's been like this for weeks",
    "I don't know what to do",
    "thanks for listening",
]


def sample_form() -> dict[str, str]:
    event = load_event("inbound_webhook/signed_text.json")
    body = base64.b64decode(event["body"]).decode() if event.get("isBase64Encoded") else event["body"]
    return dict(parse_qsl(body, keep_blank_values=True))


def bench_webhook(line: Line, n: int) -> None:
    from peerline_local.sample_events import signed_webhook_event

    form = sample_form()
    for i in range(WARMUP + n):
        if i == WARMUP:
            line.webhook.forget_timings()
        sid = line.new_sid()
        event = signed_webhook_event("/sms/inbound", {**form, "MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid})
        assert line.webhook(event)["statusCode"] == 200
        if i % 50 == 49:
            drain(line.sqs, line.queue_url("InboundQueue"))  # only the webhook is measured here
    drain(line.sqs, line.queue_url("InboundQueue"))


def bench_engine(line: Line, n: int) -> list[int]:
    """n batches of 10 texts, each from a different texter. Groups of 10 texters go through TEXTER_BODIES: first
    text, consent, then texts in a conversation a volunteer accepted after the consent (10 volunteers, through the
    volunteer API, not measured); after a group's last text its volunteers close the conversations, so the line holds
    about 10 open conversations throughout, not a growing backlog."""
    volunteers = [f"sub-engine-{i}" for i in range(10)]
    for volunteer in volunteers:
        line.register_volunteer(volunteer, volunteer.title())
        assert line.api("PUT", "/volunteer/me/availability", volunteer, {"status": "available"})[0] == 200
    line.webhook.forget_timings()
    steps: list[int] = []
    for batch in range(WARMUP + n):
        group, step = divmod(batch, len(TEXTER_BODIES))
        if batch >= WARMUP:
            steps.append(step)
        for texter in range(10):
            line.text(f"+1555556{group:02d}{texter:02d}"[-12:], TEXTER_BODIES[step])
        if batch == WARMUP:
            line.engine.forget_timings()
        messages = line.pump("InboundQueue", line.engine)
        assert messages == 10, messages
        if step == 1:
            _volunteers_do(line, volunteers, "offered", "accept", None)
        elif step == len(TEXTER_BODIES) - 1:
            _volunteers_do(line, volunteers, "active", "close", {"outcome": "supported", "tags": []})
        if batch % 20 == 19:
            progress(f"engine: {batch + 1}/{WARMUP + n} batches")
    return steps


def _volunteers_do(line: Line, volunteers: list[str], status: str, action: str, body: Any) -> None:
    for volunteer in volunteers:
        _, listing = line.api("GET", "/volunteer/conversations", volunteer)
        for conversation in listing["conversations"]:
            if conversation["status"] == status:
                code, _ = line.api("POST", f"/volunteer/conversations/{conversation['id']}/{action}", volunteer, body)
                assert code in (200, 204), (action, code)


def bench_sender(line: Line, n: int) -> list[dict[str, Any]]:
    """One outbound text per invocation (what the engine queued above: welcomes, consent questions ...)."""
    messages = drain(line.sqs, line.queue_url("OutboundQueue"))
    if len(messages) < WARMUP + n:
        raise RuntimeError(f"only {len(messages)} outbound texts queued; need {WARMUP + n}")
    for i, message in enumerate(messages[: WARMUP + n]):
        if i == WARMUP:
            line.sender.forget_timings()
        assert line.sender(sqs_event([message])) == {"batchItemFailures": []}
    return messages


def bench_status(line: Line, fake: Any, n: int) -> None:
    sent = [m for m in fake.messages() if m["direction"] == "outbound-api"]
    for i in range(WARMUP + n):
        if i == WARMUP:
            line.status.forget_timings()
        message = sent[i % len(sent)]
        status = "sent" if i < len(sent) else "delivered"
        event = line.status_event(message["sid"], status, message["to"], message["from"])
        assert line.status(event)["statusCode"] == 200


def bench_api(line: Line, n: int) -> dict[str, list[float]]:
    line.register_volunteer("sub-bench", "Bench")
    assert line.api("PUT", "/volunteer/me/availability", "sub-bench", {"status": "available"})[0] == 200
    line.settle()  # offers go to the volunteer now available
    per_route: dict[str, list[float]] = {"GET /volunteer/me": [], "GET /volunteer/conversations": []}
    for i in range(WARMUP + n):
        for route in per_route:
            path = route.split(" ", 1)[1]
            status, _ = line.api("GET", path, "sub-bench")
            assert status == 200, (route, status)
            if i >= WARMUP:
                per_route[route].append(line.api_function.cpu_ms[-1])
    return per_route


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200, help="measured invocations per event (≥ 200 for the report)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    n = args.n

    results: dict[str, Any] = {
        "machine": machine(),
        "method": "in-process handlers, warm (ports built once); CPU = thread_time of the invoking thread; "
        f"{WARMUP} warm-up invocations not counted; moto server + Twilio fake on loopback",
        "events": {},
    }
    progress("provisioning template.yaml on moto")
    with moto_stack("bench-warm") as stack, twilio_fake() as fake:
        line = Line(stack, fake.url)
        rows: dict[str, tuple[str, list[float], list[float]]] = {}

        progress(f"inbound webhook: {n} signed texts")
        bench_webhook(line, n)
        rows["inbound webhook (1 signed text)"] = ("InboundWebhookFunction", *_copy(line.webhook))

        progress(f"conversation engine: {n} batches of 10 texts")
        steps = bench_engine(line, n)
        cpu, wall = _copy(line.engine)
        rows["conversation engine (SQS batch of 10)"] = ("ConversationEngineFunction", cpu, wall)
        for label, wanted in [
            ("first texts", {0}),
            ("consent answers", {1}),
            ("texts in conversation", set(range(2, 10))),
        ]:
            picked = [i for i, step in enumerate(steps) if step in wanted]
            rows[f"  engine batch: 10 {label}"] = (
                "ConversationEngineFunction",
                [cpu[i] for i in picked],
                [wall[i] for i in picked],
            )

        progress(f"sender: {n} texts through the Twilio fake")
        bench_sender(line, n)
        rows["sender (1 text via Twilio fake)"] = ("SendSmsFunction", *_copy(line.sender))

        progress(f"status callback: {n} signed callbacks")
        bench_status(line, fake, n)
        rows["status callback (1 signed callback)"] = ("StatusCallbackFunction", *_copy(line.status))

        progress(f"volunteer API: {n} × getMe and listConversations")
        per_route = bench_api(line, n)
        walls = line.api_function.wall_ms[-2 * n :]
        rows["volunteer API GET /volunteer/me"] = ("VolunteerApiFunction", per_route["GET /volunteer/me"], walls[0::2])
        rows["volunteer API listConversations"] = (
            "VolunteerApiFunction",
            per_route["GET /volunteer/conversations"],
            walls[1::2],
        )

    for name, (logical_id, cpu, wall) in rows.items():
        results["events"][name] = {
            "function": logical_id,
            "cpu_ms": summary(cpu),
            "wall_ms_against_moto": summary(wall),
        }
    report(results)
    write_results("warm_cost", results, args.out)
    return 0


def _copy(function: Any) -> tuple[list[float], list[float]]:
    return list(function.cpu_ms), list(function.wall_ms)


def report(results: dict[str, Any]) -> None:
    print("\nWarm cost per invocation (CPU ms of the handler's thread; wall ms against local moto)")
    rows = [
        [
            name,
            entry["cpu_ms"]["n"],
            entry["cpu_ms"]["median"],
            entry["cpu_ms"]["p95"],
            entry["wall_ms_against_moto"]["median"],
            entry["wall_ms_against_moto"]["p95"],
        ]
        for name, entry in results["events"].items()
    ]
    print(table(["event", "n", "CPU median", "CPU p95", "wall median", "wall p95"], rows))


if __name__ == "__main__":
    sys.exit(main())
