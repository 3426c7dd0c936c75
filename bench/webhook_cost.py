"""What a forged POST to Twilio's webhooks costs: CPU per 1 MB forgery (refused 413 on its length) against a forgery
of a genuine text's size (parsed, then refused 403 by the signature check), and a genuine signed text for scale.

    make bench-webhook          (or: .venv/bin/python bench/webhook_cost.py [--n N] [--out FILE])

The handlers run in-process as warm execution environments against a moto server on loopback with every resource of
template.yaml (bench/common.py's Function). CPU is `time.thread_time()` of the invoking thread: the handler's own work,
not moto's. Two more rows price what surrounds the handler: the JSON decoding of a 1 MB event (which the Lambda runtime
does before any handler runs) and, for comparison, what the 1 MB forgery cost before the size check existed (the form
parsed and its signature checked, as the webhook did before issue 12).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from common import Function, environment, machine, moto_stack, progress, summary, table, write_results

WARMUP = 3
ONE_MEGABYTE = 1024 * 1024
FORGED_SIGNATURE = "Zm9yZ2Vk"


def forged_event(path: str, form: dict[str, str]) -> dict[str, Any]:
    from peerline_local.sample_events import signed_webhook_event

    event = signed_webhook_event(path, {}, signature=FORGED_SIGNATURE)
    event["body"] = urlencode(form)
    event["isBase64Encoded"] = False
    event["headers"]["content-length"] = str(len(event["body"]))
    return event


def cpu_ms_of(work: Callable[[], Any], n: int) -> list[float]:
    for _ in range(WARMUP):
        work()
    timings = []
    for _ in range(n):
        started = time.thread_time()
        work()
        timings.append((time.thread_time() - started) * 1000)
    return timings


def warm_function(stack: Any, logical_id: str) -> Function:
    # The handler checks its environment at import (its cold start), so it is imported under it.
    with environment({**stack.functions[logical_id].environment, "POWERTOOLS_LOG_LEVEL": "ERROR"}):
        return Function(stack, logical_id, POWERTOOLS_LOG_LEVEL="ERROR")


def bench_handler(function: Function, event: dict[str, Any], expected_status: int, n: int) -> list[float]:
    for _ in range(WARMUP):
        assert function(event)["statusCode"] == expected_status
    function.forget_timings()
    for _ in range(n):
        assert function(event)["statusCode"] == expected_status
    return list(function.cpu_ms)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50, help="measured invocations per row")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    n = args.n

    from peerline.adapters.twilio_signature import TwilioSignatureChecker
    from peerline_local.sample_events import (
        SAMPLE_AUTH_TOKEN,
        SAMPLE_PUBLIC_BASE_URL,
        signed_webhook_event,
        twilio_inbound_form,
    )

    # The costlier shape of a 1 MB forgery: ~100,000 short fields (every one parsed, sorted and signed), not one field.
    big_form = {"From": "+15555550101", **{f"f{index}": "x" for index in range(ONE_MEGABYTE // 10)}}
    small_form = twilio_inbound_form("hi, is anyone there?", message_sid="SM" + "f" * 32)
    rows: dict[str, tuple[int | None, list[float]]] = {}
    progress("provisioning template.yaml on moto")
    with moto_stack("bench-webhook") as stack:
        webhook = warm_function(stack, "InboundWebhookFunction")
        fallback = warm_function(stack, "InboundFallbackFunction")

        progress(f"1 MB forgeries: {n} to the webhook, {n} to the fallback URL")
        big = forged_event("/sms/inbound", big_form)
        rows["1 MB forged POST /sms/inbound (100k fields)"] = (413, bench_handler(webhook, big, 413, n))
        rows["1 MB forged POST /sms/fallback (100k fields)"] = (
            413,
            bench_handler(fallback, forged_event("/sms/fallback", big_form), 413, n),
        )
        serialized = json.dumps(big)
        rows["  Lambda runtime: JSON-decode the 1 MB event"] = (None, cpu_ms_of(lambda: json.loads(serialized), n))

        progress(f"small forgeries and genuine texts: {n} each")
        rows["small forged POST /sms/inbound"] = (
            403,
            bench_handler(webhook, forged_event("/sms/inbound", small_form), 403, n),
        )
        sids = iter(f"SM{i:032x}" for i in range(10 * n))

        def genuine() -> dict[str, Any]:
            sid = next(sids)
            return signed_webhook_event("/sms/inbound", {**small_form, "MessageSid": sid, "SmsSid": sid})

        events = [genuine() for _ in range(WARMUP + n)]
        for event in events[:WARMUP]:
            assert webhook(event)["statusCode"] == 200
        webhook.forget_timings()
        for event in events[WARMUP:]:
            assert webhook(event)["statusCode"] == 200
        rows["genuine signed text (queued)"] = (200, list(webhook.cpu_ms))

        progress("the 1 MB forgery without the size check (parse + signature check, as before)")
        checker = TwilioSignatureChecker(SAMPLE_AUTH_TOKEN)
        url = f"{SAMPLE_PUBLIC_BASE_URL}/sms/inbound"

        def unchecked_size() -> None:
            # What the webhook did before: parse the whole form (as form_of did), then check its signature.
            form = dict(parse_qsl(big["body"], keep_blank_values=True, strict_parsing=True))
            assert not checker.is_valid(url, form, FORGED_SIGNATURE)

        rows["  before issue 12: 1 MB forgery parsed + signature-checked"] = (
            403,
            cpu_ms_of(unchecked_size, max(5, n // 5)),
        )

    results = {
        "machine": machine(),
        "method": "in-process handlers, warm; CPU = thread_time of the invoking thread (moto's threads not charged); "
        f"{WARMUP} warm-up invocations not counted",
        "rows": {name: {"status": status, "cpu_ms": summary(cpu)} for name, (status, cpu) in rows.items()},
    }
    print("\nCPU per request at Twilio's webhooks (ms of the handler's thread)")
    print(
        table(
            ["request", "status", "n", "CPU median", "CPU p95", "CPU max"],
            [
                [
                    name,
                    entry["status"],
                    entry["cpu_ms"]["n"],
                    entry["cpu_ms"]["median"],
                    entry["cpu_ms"]["p95"],
                    entry["cpu_ms"]["max"],
                ]
                for name, entry in results["rows"].items()
            ],
        )
    )
    write_results("webhook_cost", results, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
