"""Log lines can't leak a phone number, and stay readable."""

from __future__ import annotations

import json

import pytest

from peerline.observability import make_logger


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
