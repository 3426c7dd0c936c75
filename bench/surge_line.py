"""The local line for the surge benchmark, in its own process (so its memory and CPU are measured apart from the
simulated texters and volunteers).

    python bench/surge_line.py --state-dir DIR [--param Name=Value ...]

Starts ``LocalLine`` on 127.0.0.1 with its logs appended to ``DIR/line.log``, writes ``DIR/local.json`` when ready,
and on SIGTERM/SIGINT writes every text the Twilio fake holds (with microsecond timestamps) to
``DIR/fake_messages.json`` before tearing the line down.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path
from typing import Any

from peerline_local.local_line import LocalLine, LocalLineOptions
from peerline_local.paths import project_root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--stack-name", default="surge")
    parser.add_argument("--param", action="append", default=[], help="template parameter Name=Value")
    parser.add_argument("--env", action="append", default=[], help="function environment NAME=VALUE")
    args = parser.parse_args()

    state_dir: Path = args.state_dir
    state_dir.mkdir(parents=True, exist_ok=True)
    log_file = (state_dir / "line.log").open("a", buffering=1)
    log_lock = threading.Lock()

    def sink(function: str, line: str) -> None:
        with log_lock:
            log_file.write(f"[{function}] {line}\n")

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    local = LocalLine(
        LocalLineOptions(
            root=project_root(),
            state_dir=state_dir,
            stack_name=args.stack_name,
            parameters=dict(item.split("=", 1) for item in args.param),
            function_environment=dict(item.split("=", 1) for item in args.env),
            log_sink=sink,
        )
    )
    local.start()
    try:
        while not stop.wait(0.2):
            pass
        fake = local.twilio_fake
        stored = fake._matching(to=None, from_=None, newest_first=False)  # the fake's own records, exact times
        dump: list[dict[str, Any]] = [
            {
                "sid": message.sid,
                "to": message.to,
                "from": message.from_,
                "body": message.body,
                "direction": message.direction,
                "created_at": message.created_at.timestamp(),
                "sequence": message.sequence,
            }
            for message in stored
        ]
        (state_dir / "fake_messages.tmp").write_text(json.dumps(dump))
        (state_dir / "fake_messages.tmp").rename(state_dir / "fake_messages.json")
    finally:
        local.stop()
        log_file.close()


if __name__ == "__main__":
    main()
