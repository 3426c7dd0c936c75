"""``peerline``: the operator's and developer's command line.

peerline dev                 start the whole line locally (what ``make dev`` runs); Ctrl-C stops it
peerline text "hello"        text the running local line as a simulated texter, and print its replies
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from peerline.observability import PhoneMaskingFilter


def _configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    handler.addFilter(PhoneMaskingFilter())
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], force=True)
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3", "twilio", "moto"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _dev(args: argparse.Namespace) -> int:
    from peerline_ops.local_line import LocalLine, LocalLineOptions
    from peerline_ops.paths import project_root

    _configure_logging(args.verbose)
    parameters = {
        "StillWaitingSeconds": str(args.still_waiting_seconds),
        "ConsentTimeoutSeconds": str(args.consent_timeout_seconds),
    }
    options = LocalLineOptions(
        root=project_root(),
        api_port=args.api_port,
        aws_port=args.aws_port,
        twilio_port=args.twilio_port,
        line_number=args.line_number,
        parameters=parameters,
    )
    line = LocalLine(options)
    stopped = threading.Event()
    # Both, explicitly: a shell may start a background job with SIGINT ignored.
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    print("Starting the local line (moto, functions, HTTP API, Twilio fake)…", flush=True)
    started = time.monotonic()
    try:
        info = line.start()
    except Exception as error:
        print(f"The local line could not start: {error}", file=sys.stderr)
        return 1
    print(
        f"\nPeerline is running locally ({time.monotonic() - started:.1f} s to start):\n"
        f"  phone simulator   {info['simulator_url']}   ← text the line from your browser\n"
        f"  inbound SMS URL   {info['inbound_sms_url']}\n"
        f"  HTTP API          {info['api_url']}\n"
        f"  AWS (moto)        {info['aws_endpoint_url']}  region {info['region']}\n"
        f"  Twilio fake API   {info['twilio_api_url']}/2010-04-01/Accounts/{info['twilio_account_sid']}/Messages.json\n"
        f"  line number       {info['line_number']}\n"
        f"  details           {line.state_dir / 'local.json'}\n"
        f'\nTry:  .venv/bin/peerline text "hi, I need to talk"      Ctrl-C stops everything.\n',
        flush=True,
    )
    while not stopped.wait(0.5):
        pass
    print("\nStopping the local line…", flush=True)
    line.stop()
    print("Stopped.", flush=True)
    return 0


def _load_local_info(state_dir: Path | None) -> dict[str, Any]:
    from peerline_ops.paths import project_root

    path = (state_dir or project_root() / ".peerline") / "local.json"
    if not path.is_file():
        raise SystemExit(f"No local line found ({path} is missing): start it with `make dev` first.")
    info: dict[str, Any] = json.loads(path.read_text())
    return info


def _text(args: argparse.Namespace) -> int:
    import requests
    from twilio.rest import Client

    info = _load_local_info(args.state_dir)
    body = " ".join(args.body)
    client = Client(info["twilio_account_sid"], info["twilio_auth_token"])
    client.api.base_url = info["twilio_api_url"]
    # Snapshot first: the line can answer before the POST below returns.
    before = {message.sid for message in client.messages.list(to=args.from_number)}
    response = requests.post(
        f"{info['simulator_url']}/api/send", json={"from": args.from_number, "body": body}, timeout=10
    )
    if response.status_code >= 300:
        print(f"The line did not take the text: HTTP {response.status_code} {response.text[:200]}", file=sys.stderr)
        return 1
    seen: set[str] = set()
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        for message in reversed(client.messages.list(to=args.from_number)):
            if message.sid not in before and message.sid not in seen:
                seen.add(message.sid)
                print(f"line › {message.body}\n")
        time.sleep(0.25)
    if not seen:
        print(f"(no reply within {args.wait:.0f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="peerline", description="Peerline: the peer support text line.")
    commands = parser.add_subparsers(dest="command", required=True)

    dev = commands.add_parser("dev", help="start the whole line locally in the foreground (Ctrl-C stops it)")
    dev.add_argument("--api-port", type=int, default=3000, help="HTTP API port (taken → any free port)")
    dev.add_argument("--aws-port", type=int, default=4566, help="moto server port (taken → any free port)")
    dev.add_argument("--twilio-port", type=int, default=4010, help="Twilio fake port (taken → any free port)")
    dev.add_argument("--line-number", default="+15555550000", help="the line's own number (E.164)")
    dev.add_argument("--still-waiting-seconds", type=int, default=120)
    dev.add_argument("--consent-timeout-seconds", type=int, default=60)
    dev.add_argument("-v", "--verbose", action="store_true")
    dev.set_defaults(run=_dev)

    text = commands.add_parser("text", help="text the running local line as a simulated texter")
    text.add_argument("body", nargs="+")
    text.add_argument("--from", dest="from_number", default="+15555550100", help="the simulated texter's number")
    text.add_argument("--wait", type=float, default=3.0, help="seconds to wait for replies")
    text.add_argument("--state-dir", type=Path, default=None)
    text.set_defaults(run=_text)

    args = parser.parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
