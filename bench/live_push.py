"""How long a texter's text takes to reach the volunteer's dashboard socket: webhook POST → `message` event.

The browser and e2e tests check that a text arrives live and once; how fast is measured here (a test must not fail
because the machine is busy). Starts a local line on loopback (ports 0), signs volunteer.en in through the local
Cognito, accepts one texter, then times ``--texts`` texts one after another and prints median, p95 and max.

    .venv/bin/python bench/live_push.py [--texts 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import requests  # noqa: E402
from line_kit import running_line, sign_in, text_line  # noqa: E402
from websockets.sync.client import ClientConnection, connect  # noqa: E402

TEXTER = "+15555550977"


def next_event(socket: ClientConnection, kind: str, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        event = json.loads(socket.recv(timeout=left))
        if event["type"] == kind:
            return dict(event)
    raise TimeoutError(f"no {kind} event within {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=30, help="how many texts to time (default 30)")
    args = parser.parse_args()
    parameters = {"ConsentTimeoutSeconds": "600", "StillWaitingSeconds": "600", "OfferTimeoutSeconds": "120"}
    with tempfile.TemporaryDirectory() as state, running_line(Path(state), "bench-live", parameters=parameters) as line:
        token = sign_in(line, "volunteer.en")

        def call(method: str, path: str, body: Any = None) -> requests.Response:
            headers = {"Authorization": f"Bearer {token}"}
            return requests.request(method, f"{line['api_url']}{path}", json=body, headers=headers, timeout=10)

        print("local line up; volunteer.en signed in", flush=True)
        with connect(f"{line['socket_url']}?token={token}", open_timeout=10) as socket:
            call("PUT", "/volunteer/me/availability", {"status": "available"}).raise_for_status()
            text_line(line, TEXTER, "hi, is anyone there?")
            text_line(line, TEXTER, "yes")
            conversation_id = next_event(socket, "offer")["conversation"]["id"]
            call("POST", f"/volunteer/conversations/{conversation_id}/accept").raise_for_status()
            seconds: list[float] = []
            for number in range(args.texts):
                started = time.monotonic()
                text_line(line, TEXTER, f"text {number + 1}")
                while True:
                    event = next_event(socket, "message")
                    if event["message"]["body"] == f"text {number + 1}":
                        break
                seconds.append(time.monotonic() - started)
                if (number + 1) % 10 == 0:
                    print(f"  {number + 1}/{args.texts} texts timed", flush=True)
    ordered = sorted(seconds)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    print(
        f"webhook → dashboard socket, {len(seconds)} texts: median {statistics.median(seconds) * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
