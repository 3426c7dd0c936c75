"""Helpers for tests that drive a running local line the way Twilio, a volunteer and an operator would."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import requests
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from peerline_local.local_line import LocalLine, LocalLineOptions
from peerline_local.paths import project_root


@contextmanager
def running_line(state_dir: Path, stack_name: str, **options: Any) -> Iterator[dict[str, Any]]:
    """Start a local line (its own stack name, quiet logs unless a sink is given) and yield its local.json."""
    options.setdefault("log_sink", lambda *_: None)
    local = LocalLine(LocalLineOptions(root=project_root(), state_dir=state_dir, stack_name=stack_name, **options))
    local.start()
    try:
        yield json.loads((state_dir / "local.json").read_text())
    finally:
        local.stop()


def twilio_client(line: dict[str, Any]) -> Client:
    """The real twilio client, pointed at the local fake through its base URL."""
    client = Client(line["twilio_account_sid"], line["twilio_auth_token"])
    client.api.base_url = line["twilio_api_url"]
    return client


def aws_client(line: dict[str, Any], service: str) -> Any:
    return boto3.session.Session(
        aws_access_key_id=line["aws_access_key_id"],
        aws_secret_access_key=line["aws_secret_access_key"],
        region_name=line["region"],
    ).client(service, endpoint_url=line["aws_endpoint_url"])


def text_line(
    line: dict[str, Any],
    number: str,
    body: str,
    *,
    sid: str | None = None,
    token: str | None = None,
    expect: int | None = 200,
) -> requests.Response:
    """POST what Twilio posts for an inbound SMS, signed with twilio's RequestValidator (``expect``: its status)."""
    url = line["inbound_sms_url"]
    sid = sid or "SM" + uuid.uuid4().hex
    form = {
        "ToCountry": "US", "ToState": "", "SmsMessageSid": sid, "NumMedia": "0", "ToCity": "", "FromZip": "",
        "SmsSid": sid, "FromState": "", "SmsStatus": "received", "FromCity": "", "Body": body, "FromCountry": "US",
        "To": line["line_number"], "ToZip": "", "NumSegments": "1", "MessageSid": sid,
        "AccountSid": line["twilio_account_sid"], "From": number, "ApiVersion": "2010-04-01",
    }  # fmt: skip
    signature = RequestValidator(token or line["twilio_auth_token"]).compute_signature(url, form)
    response = requests.post(url, data=form, headers={"X-Twilio-Signature": signature}, timeout=10)
    if expect is not None:
        assert response.status_code == expect, (response.status_code, response.text[:200])
    return response


def texts_to(twilio: Client, number: str) -> list[str]:
    """What the line texted this number, oldest first, as the phone received them: the Twilio account itself forgets
    a conversation's messages once it closed (``twilio.messages.list`` then lists none of them), the phone does not.
    Read through the fake's phone simulator, which sits beside the REST API the client is pointed at."""
    thread = requests.get(f"{twilio.api.base_url}/simulator/api/messages", params={"number": number}, timeout=10).json()
    return [message["body"] for message in thread if message["direction"] == "outbound"]


def eventually(probe: Callable[[], Any], timeout: float = 8.0, interval: float = 0.05) -> Any:
    """``probe()`` once it is truthy, or its last falsy value after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(interval)
    return probe()


def sign_in(line: dict[str, Any], username: str) -> str:
    """A demo user's access token, exactly as the dashboard gets it (USER_PASSWORD_AUTH against the pool)."""
    [user] = [user for user in line["demo_users"] if user["username"] == username]
    result = aws_client(line, "cognito-idp").initiate_auth(
        ClientId=line["user_pool_client_id"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": user["password"]},
    )
    return str(result["AuthenticationResult"]["AccessToken"])
