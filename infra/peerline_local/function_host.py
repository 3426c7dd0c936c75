"""One Lambda function of the local line, in its own process with its own environment.

Started by the local line as ``python -m peerline_local.function_host --code-uri DIR --handler handler.lambda_handler``.
It imports the handler the way the Lambda runtime does (the code folder and the layer's folders on ``sys.path``),
then serves ``POST /invoke`` on loopback, one invocation at a time like a single Lambda execution environment.
The first line it prints is ``READY <port>``; everything after is the function's own log output.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from peerline.observability import install_phone_masking
from peerline.phone import mask_phone_numbers
from peerline_local.quiet_http import LocalHTTPServer


@dataclass
class LocalLambdaContext:
    """The parts of the Lambda context object that handlers and Powertools use."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    deadline: float
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def _load_handler(code_uri: str, layer_dirs: list[str], handler: str) -> Any:
    for folder in [code_uri, *reversed(layer_dirs)]:
        sys.path.insert(0, folder)
    module_name, function_name = handler.rsplit(".", 1)
    return getattr(importlib.import_module(module_name), function_name)


def _error_payload(error: BaseException) -> dict[str, Any]:
    # Masked: an exception message may quote a phone number.
    return {
        "errorType": type(error).__name__,
        "errorMessage": mask_phone_numbers(str(error)),
        "stackTrace": [mask_phone_numbers(line) for line in traceback.format_exception(error)],
    }


def _exit_with_parent() -> None:
    """A host orphaned by a killed local line exits by itself instead of lingering on a port."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", required=True)
    parser.add_argument("--code-uri", required=True)
    parser.add_argument("--handler", required=True)
    parser.add_argument("--layer-dir", action="append", default=[])
    parser.add_argument("--timeout", type=int, default=30)
    parser.add_argument("--memory", type=int, default=512)
    parser.add_argument("--arn", default="")
    args = parser.parse_args(argv)

    install_phone_masking()  # as on Lambda, where every handler installs it through make_logger
    logging.basicConfig(level=logging.WARNING, stream=sys.stdout)
    handler = _load_handler(args.code_uri, args.layer_dir, args.handler)

    class InvokeHandler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            event = json.loads(self.rfile.read(length) or b"{}")
            context = LocalLambdaContext(
                function_name=args.name,
                memory_limit_in_mb=args.memory,
                invoked_function_arn=args.arn,
                aws_request_id=str(uuid.uuid4()),
                deadline=time.monotonic() + args.timeout,
            )
            try:
                payload = {"result": handler(event, context)}
            except Exception as error:
                payload = {"error": _error_payload(error)}
                print(json.dumps({"level": "ERROR", "message": "function error", **payload["error"]}), flush=True)
            body = json.dumps(payload, default=str).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    _exit_with_parent()
    # Not threaded on purpose: one execution environment handles one event at a time, as on Lambda.
    server = LocalHTTPServer(("127.0.0.1", 0), InvokeHandler)
    print(f"READY {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
