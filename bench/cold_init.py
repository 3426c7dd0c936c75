"""Cold init per function: the time to import each handler module in a fresh interpreter, against a boto3 floor.

    make bench-cold            (or: .venv/bin/python bench/cold_init.py [--runs N] [--out FILE])

Every AWS::Serverless::Function of template.yaml is imported (never invoked) in a fresh `python` process with its code
folder and shared/ (the layer) on sys.path and its template environment (resolved by provisioning the template on a
throw-away moto server), plus what the Lambda runtime sets (AWS_LAMBDA_FUNCTION_NAME ...; tracing stays on, as
`Tracing: Active` has it). The clock runs around the import only, not interpreter start-up. The floor is measured the
same way in the same run: a fresh interpreter that only imports boto3. Runs are interleaved (floor, f1, f2, ... per
round) so drift hits all alike. Target: each function's median ≤ 1.5 × the floor's median.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from common import ROOT, machine, moto_stack, progress, summary, table, write_results

TARGET_RATIO = 1.5
# Modules worth knowing about when a handler loads: heavy, or a sign that it loads more than it needs.
WATCHED = [
    "twilio.rest",
    "twilio",
    "aws_xray_sdk",
    "pydantic",
    "peerline.triage",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.utilities.idempotency",
    "aws_lambda_powertools.utilities.batch",
    "requests",
    "jwt",
    "cryptography",
    "yaml",
]
# Runtime variables the Lambda service sets that change what Powertools does at import (tracing on, not SAM local).
LAMBDA_RUNTIME_ENV = {
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
    "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
    "LAMBDA_TASK_ROOT": "/var/task",
    "_HANDLER": "handler.lambda_handler",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}

_PROBE = """
import importlib, json, sys, time
paths, module, watched = json.loads(sys.argv[1])
sys.path[:0] = paths
sys.stderr.write("--- import starts ---\\n")
sys.stderr.flush()
started = time.perf_counter()
importlib.import_module(module)
elapsed = time.perf_counter() - started
print(json.dumps({"ms": elapsed * 1000, "modules": len(sys.modules), "watched": [m for m in watched if m in sys.modules]}))
"""


def functions_of_template() -> list[dict[str, Any]]:
    """Every AWS::Serverless::Function of template.yaml, with its resolved environment (from a moto provisioning)."""
    with moto_stack("bench-cold") as stack:
        return [
            {
                "logical_id": logical_id,
                "code_uri": spec.code_uri,
                "handler": spec.handler,
                "paths": [str(spec.code_uri), *(str(folder) for folder in spec.layer_content_dirs)],
                "environment": dict(spec.environment),
                "memory_mb": spec.memory_size,
            }
            for logical_id, spec in sorted(stack.functions.items())
        ]


def _clean_environment() -> dict[str, str]:
    drop = ("AWS_", "POWERTOOLS_", "TWILIO_", "PYTHON")
    return {key: value for key, value in os.environ.items() if not key.startswith(drop)}


def probe(paths: list[str], module: str, extra_env: dict[str, str], *, importtime: bool = False) -> dict[str, Any]:
    command = [sys.executable, *(["-X", "importtime"] if importtime else []), "-c", _PROBE]
    command.append(json.dumps([paths, module, WATCHED]))
    done = subprocess.run(
        command, env={**_clean_environment(), **extra_env}, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"importing {module} from {paths[0]} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if importtime:
        result["top_imports"] = _direct_children(done.stderr, module)
    return result


_IMPORTTIME = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)$")


def _direct_children(stderr: str, module: str) -> list[dict[str, Any]]:
    """The top-level imports ``module`` triggers, by cumulative import time (ms), from `-X importtime` output."""
    after = stderr.split("--- import starts ---", 1)[-1]
    entries = [(int(m[2]), len(m[3]), m[4]) for m in map(_IMPORTTIME.match, after.splitlines()) if m]
    children = [
        {"module": name, "cumulative_ms": round(cumulative / 1000, 1)}
        for cumulative, indent, name in entries
        if indent == 0 and name != module
    ]
    return sorted(children, key=lambda child: -float(child["cumulative_ms"]))[:6]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="fresh interpreters per function (≥ 10)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    runs = max(10, args.runs)

    progress("reading template.yaml and resolving each function's environment on a throw-away moto server")
    functions = functions_of_template()
    envs = {
        f["logical_id"]: {
            **f["environment"],
            **LAMBDA_RUNTIME_ENV,
            "AWS_LAMBDA_FUNCTION_NAME": f["logical_id"],
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(f["memory_mb"]),
        }
        for f in functions
    }
    floor_env = {**LAMBDA_RUNTIME_ENV, "AWS_LAMBDA_FUNCTION_NAME": "boto3-floor"}

    # One unmeasured round first: bytecode caches written, files in the page cache, for the floor and every handler.
    probe([], "boto3", floor_env)
    for f in functions:
        probe(f["paths"], f["handler"].rsplit(".", 1)[0], envs[f["logical_id"]])

    floor_ms: list[float] = []
    times: dict[str, list[float]] = {f["logical_id"]: [] for f in functions}
    details: dict[str, dict[str, Any]] = {}
    for round_number in range(1, runs + 1):
        floor_ms.append(probe([], "boto3", floor_env)["ms"])
        for f in functions:
            measured = probe(f["paths"], f["handler"].rsplit(".", 1)[0], envs[f["logical_id"]])
            times[f["logical_id"]].append(measured["ms"])
            details[f["logical_id"]] = measured
        if round_number % 5 == 0:
            progress(f"round {round_number}/{runs}")
    for f in functions:  # one more run each under -X importtime: what each handler spends its import on
        details[f["logical_id"]]["top_imports"] = probe(
            f["paths"], f["handler"].rsplit(".", 1)[0], envs[f["logical_id"]], importtime=True
        )["top_imports"]

    floor = statistics.median(floor_ms)
    results: dict[str, Any] = {
        "machine": machine(),
        "runs": runs,
        "target_ratio": TARGET_RATIO,
        "method": "time around importlib.import_module(handler) in a fresh interpreter (startup excluded); "
        "template environment + Lambda runtime variables; bytecode cached; floor = `import boto3` the same way",
        "floor_boto3_ms": summary(floor_ms),
        "functions": {},
    }
    for f in functions:
        logical_id = f["logical_id"]
        stats = summary(times[logical_id])
        ratio = statistics.median(times[logical_id]) / floor
        results["functions"][logical_id] = {
            "code_uri": str(Path(f["code_uri"]).relative_to(ROOT)),
            "import_ms": stats,
            "ratio_to_floor": round(ratio, 2),
            "meets_target": ratio <= TARGET_RATIO,
            "modules_loaded": details[logical_id]["modules"],
            "watched_modules": details[logical_id]["watched"],
            "top_imports": details[logical_id]["top_imports"],
        }
    webhook = results["functions"].get("InboundWebhookFunction")
    results["inbound_webhook_imports_twilio_rest"] = bool(webhook and "twilio.rest" in webhook["watched_modules"])

    report(results)
    write_results("cold_init", results, args.out)
    return 0


def report(results: dict[str, Any]) -> None:
    floor = results["floor_boto3_ms"]
    print(f"\nCold init: importing each handler in a fresh interpreter ({results['runs']} runs each, ms)")
    rows: list[list[Any]] = [["boto3 floor", floor["median"], floor["max"], "1.00", "", ""]]
    for logical_id, entry in results["functions"].items():
        stats = entry["import_ms"]
        verdict = "ok" if entry["meets_target"] else "MISSES TARGET"
        rows.append([logical_id, stats["median"], stats["max"], f"{entry['ratio_to_floor']:.2f}", verdict, ""])
    print(table(["function", "median", "max", "× floor", f"≤ {results['target_ratio']}×", ""], rows))

    print("\nHeavy modules each handler loads at import")
    short = [m for m in WATCHED if m != "twilio"]
    rows = [
        [logical_id, entry["modules_loaded"], *("yes" if m in entry["watched_modules"] else "-" for m in short)]
        for logical_id, entry in results["functions"].items()
    ]
    print(table(["function", "modules", *(m.replace("aws_lambda_powertools.", "pt.") for m in short)], rows))

    print("\nWhere the import time goes (direct imports of handler.py, cumulative ms, one -X importtime run)")
    for logical_id, entry in results["functions"].items():
        tops = ", ".join(f"{t['module']} {t['cumulative_ms']}" for t in entry["top_imports"][:4])
        print(f"  {logical_id:<28} {tops}")

    verdict = "imports twilio.rest — MISSES TARGET" if results["inbound_webhook_imports_twilio_rest"] else "ok"
    print(f"\nInbound webhook and twilio.rest: {verdict}")


if __name__ == "__main__":
    sys.exit(main())
