"""Two local lines at once (a test run beside `make dev`): every server binds its own port and reports it, and
each line writes only its own local.json."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from line_kit import running_line

pytestmark = pytest.mark.e2e

URL_KEYS = ("api_url", "aws_endpoint_url", "twilio_api_url", "socket_url", "socket_callback_url", "dashboard_url")


def _ports(info: dict[str, object]) -> set[int]:
    return {int(urlsplit(str(info[key])).port or 0) for key in URL_KEYS}


def _same_ports(info: dict[str, object]) -> dict[str, int]:
    """The options that ask a line for exactly the ports ``info``'s line got (as `peerline dev`'s fixed ports)."""
    keys = {"api_port": "api_url", "aws_port": "aws_endpoint_url", "twilio_port": "twilio_api_url"}
    keys |= {"socket_port": "socket_url", "dashboard_port": "dashboard_url"}
    return {option: int(urlsplit(str(info[key])).port or 0) for option, key in keys.items()}


def test_two_lines_run_side_by_side_on_ports_they_bound_themselves(tmp_path: Path) -> None:
    with ExitStack() as lines:
        # given a line on port 0 everywhere
        first = lines.enter_context(running_line(tmp_path / "first", "two-lines-first"))
        # when a second one starts asking for the very ports the first one got
        second = lines.enter_context(running_line(tmp_path / "second", "two-lines-second", **_same_ports(first)))
        # then it falls back to ports of its own, and both lines answer on theirs
        assert not _ports(first) & _ports(second)
        for info in (first, second):
            assert requests.get(f"{info['dashboard_url']}/", timeout=5).status_code == 200
            assert requests.get(f"{info['simulator_url']}", timeout=5).status_code == 200
            assert requests.post(f"{info['api_url']}/sms/inbound", timeout=10).status_code in (400, 403)
        # and each wrote its own local.json (tests never use the checkout's .peerline, which `make dev` owns)
        assert (tmp_path / "first" / "local.json").is_file()
        assert (tmp_path / "second" / "local.json").is_file()
