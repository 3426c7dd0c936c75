"""Log lines can't leak a phone number, and stay readable."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from peerline.observability import install_phone_masking, make_logger


def test_log_line_masks_the_number_and_keeps_timestamp_and_ids(capsys: pytest.CaptureFixture[str]) -> None:
    # given the line's logger
    logger = make_logger(service="unit")

    # when a caller logs a number by mistake, next to ids
    logger.info("outbound handled", outbound_id="SM00000000000000000000000000000001:welcome", number="+15555550001")

    # then the number is masked, and the timestamp and the id are intact
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["number"] == "+1•••••0001"
    assert line["outbound_id"] == "SM00000000000000000000000000000001:welcome"
    assert "•" not in line["timestamp"]


@pytest.fixture
def stdlib_log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A plain stdlib logger (botocore's, say) with its own handler, added after masking was installed."""
    install_phone_masking()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("botocore.unit-test")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield logger, stream
    logger.removeHandler(handler)


def test_a_plain_stdlib_logger_is_masked_too(stdlib_log: tuple[logging.Logger, io.StringIO]) -> None:
    # given a logger that isn't Powertools', writing through a handler of its own
    logger, stream = stdlib_log

    # when a number reaches it, as a %-argument and glued to letters in the message
    logger.debug("Sending http request: To=%s body=x15555550002", "%2B15555550001")

    # then both are masked
    assert (
        stream.getvalue().strip() == "DEBUG botocore.unit-test: Sending http request: To=%2B1•••••0001 body=x1•••••0002"
    )


def test_an_exception_traceback_is_masked(stdlib_log: tuple[logging.Logger, io.StringIO]) -> None:
    # given an exception whose message quotes a number
    logger, stream = stdlib_log
    try:
        raise ValueError("invalid 'To' number +15555550001")
    except ValueError:
        # when it is logged with its traceback
        logger.exception("send failed")

    # then the traceback is there, and the number in it masked
    output = stream.getvalue()
    assert "Traceback (most recent call last)" in output and "ValueError: invalid 'To' number +1•••••0001" in output
    assert "5555550001" not in output


def test_the_powertools_logger_keeps_its_exception_fields_masked(capsys: pytest.CaptureFixture[str]) -> None:
    # given the line's logger
    logger = make_logger(service="unit-exceptions")

    # when an exception quoting a number is logged
    try:
        raise RuntimeError("Twilio refused +15555550001")
    except RuntimeError:
        logger.exception("send failed")

    # then the JSON line still has its exception fields, masked
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["exception_name"] == "RuntimeError"
    assert "+1•••••0001" in line["exception"] and "5555550001" not in line["exception"]


def test_loading_a_lambda_handler_masks_every_logger_of_its_process() -> None:
    # given a fresh interpreter, as a Lambda execution environment is, with a plain stdlib handler on the root logger
    # (as the Lambda runtime installs one)
    root = Path(__file__).resolve().parents[2]
    program = (
        "import logging, sys\n"
        "logging.basicConfig(stream=sys.stdout, format='%(name)s %(message)s')\n"
        "from peerline_local.harness import load_handler\n"
        "from pathlib import Path\n"
        f"load_handler(Path({str(root / 'functions' / 'inbound_fallback')!r}))\n"
        "logging.getLogger('urllib3.connectionpool').warning('POST /Messages.json To=%s', '%2B15555550001')\n"
    )

    # when the handler is imported (its cold start) and a library logs a number
    output = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "shared"), str(root / "infra")])},
    ).stdout

    # then that library's line is masked
    assert "urllib3.connectionpool POST /Messages.json To=%2B1•••••0001" in output
    assert "5555550001" not in output
