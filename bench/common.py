"""What the Peerline benchmarks share: the template's functions, a moto server with the stack, handlers in-process,
timing summaries, tables and the results folder. Loopback only; everything started here is stopped here."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import platform
import statistics
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from peerline_local.harness import FakeLambdaContext as LambdaContext
from peerline_local.harness import drain, load_handler, sqs_event

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
RESULTS = ROOT / "bench" / "results"
EVENTS = ROOT / "events"

for _folder in (ROOT / "shared", ROOT / "infra"):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    # Handlers log one line per event at INFO; the benchmark measures the work, not a terminal's speed.
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}


def progress(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def summary(values: Sequence[float], digits: int = 2) -> dict[str, Any]:
    """n, median, p95, max of ``values`` (rounded)."""
    ordered = sorted(values)
    if not ordered:
        return {"n": 0, "median": None, "p95": None, "max": None}
    return {
        "n": len(ordered),
        "median": round(statistics.median(ordered), digits),
        "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], digits),
        "max": round(ordered[-1], digits),
    }


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, indent: str = "  ") -> str:
    """A plain text table: the first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers], *[["" if v is None else str(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return indent + "  ".join(
            value.ljust(widths[i]) if i == 0 else value.rjust(widths[i]) for i, value in enumerate(row)
        )

    rule = indent + "  ".join("-" * width for width in widths)
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def write_results(name: str, results: dict[str, Any], out: Path | None = None) -> Path:
    path = out or RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n")
    print(f"\nwrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return path


def load_event(relative: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / relative).read_text())
    return event


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def moto_stack(stack_name: str, **parameters: str) -> Iterator[Any]:
    """moto (LocalAwsServer) on a loopback port it binds itself, with every resource of template.yaml, and the Twilio secret."""
    import boto3

    from peerline_local.local_aws import LocalAwsServer
    from peerline_local.sample_events import (
        SAMPLE_ACCOUNT_SID,
        SAMPLE_AUTH_TOKEN,
        SAMPLE_LINE_NUMBER,
        SAMPLE_PUBLIC_BASE_URL,
    )
    from peerline_local.stack import provision

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    server = LocalAwsServer().start()  # port 0: bound by the server, reported by .url
    endpoint = server.url
    try:
        with environment({**AWS_TEST_ENV, "AWS_ENDPOINT_URL": endpoint}):
            session = boto3.session.Session(region_name="us-east-1")
            stack = provision(
                TEMPLATE,
                parameters={
                    "LineNumber": SAMPLE_LINE_NUMBER,
                    "PublicBaseUrl": SAMPLE_PUBLIC_BASE_URL,
                    "TwilioSecretName": f"{stack_name}/twilio",
                    **parameters,
                },
                stack_name=stack_name,
                session=session,
                endpoint_url=endpoint,
            )
            session.client("secretsmanager").create_secret(
                Name=f"{stack_name}/twilio",
                SecretString=json.dumps({"account_sid": SAMPLE_ACCOUNT_SID, "auth_token": SAMPLE_AUTH_TOKEN}),
            )
            yield stack
    finally:
        server.stop()


@contextmanager
def as_function(stack: Any, logical_id: str, **extra: str) -> Iterator[None]:
    """The function's template environment (plus ``extra``), with the composition root rebuilt for it."""
    from peerline import composition

    with environment({**stack.functions[logical_id].environment, **extra}):
        composition.reset()
        try:
            yield
        finally:
            composition.reset()


class Function:
    """One Lambda function of the template in-process, as one warm execution environment: its own handler module
    and its own copy of the composition root (so its ports are built once, like a warm container's), run under its
    template environment. Counts its invocations and keeps each one's CPU (this thread only: the moto server's threads
    are not charged) and wall time in ms."""

    def __init__(self, stack: Any, logical_id: str, **extra_env: str) -> None:
        spec = stack.functions[logical_id]
        self.logical_id = logical_id
        self.memory_mb = int(spec.memory_size)
        self.env = {**spec.environment, **extra_env}
        # Under its environment: a handler builds its ports at import (a bad environment fails the cold start).
        with environment(self.env):
            self.handler = load_handler(Path(spec.code_uri))
        composition_spec = importlib.util.spec_from_file_location(
            f"peerline.composition_{spec.code_uri.name}", ROOT / "shared" / "peerline" / "composition.py"
        )
        assert composition_spec and composition_spec.loader
        composition = importlib.util.module_from_spec(composition_spec)
        sys.modules[composition_spec.name] = composition
        composition_spec.loader.exec_module(composition)
        self.handler.composition = composition  # type: ignore[attr-defined]
        self.context = LambdaContext()
        self.cpu_ms: list[float] = []
        self.wall_ms: list[float] = []

    @property
    def invocations(self) -> int:
        return len(self.cpu_ms)

    def __call__(self, event: dict[str, Any]) -> Any:
        import time

        with environment(self.env):
            cpu, wall = time.thread_time(), time.perf_counter()
            result = self.handler.lambda_handler(event, self.context)
            self.cpu_ms.append((time.thread_time() - cpu) * 1000)
            self.wall_ms.append((time.perf_counter() - wall) * 1000)
        return result

    def forget_timings(self) -> None:
        self.cpu_ms.clear()
        self.wall_ms.clear()


class Line:
    """The whole line in-process on a moto stack: Twilio's webhooks, the SQS event sources, the volunteer API."""

    def __init__(self, stack: Any, twilio_api_url: str) -> None:
        import boto3

        from peerline_local.sample_events import SAMPLE_AUTH_TOKEN

        self.stack = stack
        self.auth_token = SAMPLE_AUTH_TOKEN
        self.sqs = boto3.session.Session(region_name="us-east-1").client("sqs")
        self.dynamodb = boto3.session.Session(region_name="us-east-1").client("dynamodb")
        fast_sender = {"TWILIO_API_BASE_URL": twilio_api_url, "RETRY_BASE_DELAY_SECONDS": "0"}
        self.functions = {
            logical_id: Function(stack, logical_id, **(fast_sender if logical_id == "SendSmsFunction" else {}))
            for logical_id in sorted(stack.functions)
        }
        self.webhook = self.functions["InboundWebhookFunction"]
        self.engine = self.functions["ConversationEngineFunction"]
        self.timers = self.functions["ConversationTimersFunction"]
        self.sender = self.functions["SendSmsFunction"]
        self.status = self.functions["StatusCallbackFunction"]
        self.api_function = self.functions["VolunteerApiFunction"]
        self.sid_counter = 0

    def queue_url(self, logical_id: str) -> str:
        return str(self.stack.resources[logical_id].physical_id)

    def new_sid(self) -> str:
        import uuid

        self.sid_counter += 1
        return "SM" + uuid.uuid4().hex

    def text_event(self, number: str, body: str, sid: str | None = None) -> dict[str, Any]:
        from peerline_local.sample_events import signed_webhook_event, twilio_inbound_form

        return signed_webhook_event(
            "/sms/inbound", twilio_inbound_form(body, from_number=number, message_sid=sid or self.new_sid())
        )

    def text(self, number: str, body: str) -> None:
        """A texter's text through the webhook (as Twilio posts it)."""
        response = self.webhook(self.text_event(number, body))
        assert response["statusCode"] == 200, response

    def status_event(self, message_sid: str, status: str, to: str, from_: str) -> dict[str, Any]:
        from peerline_local.sample_events import SAMPLE_ACCOUNT_SID, signed_webhook_event

        form = {
            "SmsSid": message_sid,
            "SmsStatus": status,
            "MessageStatus": status,
            "To": to,
            "MessageSid": message_sid,
            "AccountSid": SAMPLE_ACCOUNT_SID,
            "From": from_,
            "ApiVersion": "2010-04-01",
        }
        return signed_webhook_event("/sms/status", form)

    def pump(self, queue_logical_id: str, function: Function, *, max_batch: int = 10) -> int:
        """Lambda's SQS event source: everything visible on the queue, to the function in batches; the records
        the function reports failed stay on the queue (here: are dropped and counted)."""
        messages = drain(self.sqs, self.queue_url(queue_logical_id))
        failures = 0
        for start in range(0, len(messages), max_batch):
            result = function(sqs_event(messages[start : start + max_batch]))
            failures += len(result.get("batchItemFailures", []))
        if failures:
            raise RuntimeError(f"{function.logical_id}: {failures} records failed")
        return len(messages)

    def run_engine(self) -> int:
        return self.pump("InboundQueue", self.engine)

    def run_sender(self) -> int:
        return self.pump("OutboundQueue", self.sender)

    def run_timers(self) -> int:
        return self.pump("TimerQueue", self.timers)

    def settle(self) -> None:
        """Run the engine and the sender until both queues are empty (what Lambda does within a second)."""
        while self.run_engine() + self.run_sender():
            pass

    def api(self, method: str, path: str, sub: str, body: Any = None) -> tuple[int, Any]:
        """The volunteer API as API Gateway calls it after its JWT authorizer accepted the volunteer's token."""
        from peerline_local.emulators import api_gateway_v2_event

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
        event["requestContext"]["authorizer"] = {"jwt": {"claims": {"sub": sub}, "scopes": None}}
        response = self.api_function(event)
        payload = response.get("body") or ""
        return int(response["statusCode"]), json.loads(payload) if payload else None

    def register_volunteer(self, volunteer_id: str, name: str, *, supervisor: bool = False) -> None:
        from datetime import date, timedelta

        from peerline.adapters.volunteers import DynamoVolunteerRegistry
        from peerline.models import Language, Role, VolunteerRecord

        registry = DynamoVolunteerRegistry(self.stack.resources["VolunteersTable"].physical_id, self.dynamodb)
        registry.create(
            VolunteerRecord(
                volunteer_id=volunteer_id,
                username=name.lower(),
                display_name=name,
                roles=[Role.VOLUNTEER, *([Role.SUPERVISOR] if supervisor else [])],
                languages=[Language.ENGLISH],
                certified_until=date.today() + timedelta(days=365),
            )
        )


@contextmanager
def twilio_fake() -> Iterator[Any]:
    """The Twilio fake on loopback; its own status callbacks are held back (they would go to the public URL)."""
    from peerline_local.sample_events import SAMPLE_ACCOUNT_SID, SAMPLE_AUTH_TOKEN, SAMPLE_LINE_NUMBER
    from peerline_local.twilio_fake import TwilioFake

    fake = TwilioFake(
        account_sid=SAMPLE_ACCOUNT_SID,
        auth_token=SAMPLE_AUTH_TOKEN,
        line_number=SAMPLE_LINE_NUMBER,
        status_delay_seconds=3600,
        log=logging.getLogger("bench.twilio_fake"),
    )
    logging.getLogger("bench.twilio_fake").setLevel(logging.ERROR)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
