"""Fixtures shared by the integration and end-to-end suites."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
SHARED_HANDBOOK = ROOT.parent / "shared"

_AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "tests",
}


def load_event(relative: str) -> dict[str, Any]:
    """A sample event from ``events/``."""
    event: dict[str, Any] = json.loads((EVENTS / relative).read_text())
    return event


_loaded_handlers: dict[str, ModuleType] = {}


def load_handler(function_folder: str) -> ModuleType:
    """Import ``functions/<folder>/handler.py`` under a unique module name (every function's module is `handler`)."""
    if function_folder not in _loaded_handlers:
        path = ROOT / "functions" / function_folder / "handler.py"
        spec = importlib.util.spec_from_file_location(f"handler_{function_folder}", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        _loaded_handlers[function_folder] = module
    return _loaded_handlers[function_folder]


class FakeLambdaContext:
    function_name = "test-function"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto server on loopback, for integration tests (real HTTP, real botocore serialisation)."""
    from moto.server import ThreadedMotoServer

    from peerline_ops.paths import free_port

    saved = {key: os.environ.get(key) for key in [*_AWS_TEST_ENV, "AWS_ENDPOINT_URL"]}
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update(_AWS_TEST_ENV)
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    yield endpoint
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def stack(moto_endpoint: str, request: pytest.FixtureRequest) -> Any:
    """Every resource of ``template.yaml``, provisioned in moto for this test module."""
    from peerline_ops.sample_events import SAMPLE_LINE_NUMBER, SAMPLE_PUBLIC_BASE_URL
    from peerline_ops.stack import provision

    session = boto3.session.Session(region_name="us-east-1")
    name = f"it-{request.module.__name__.rsplit('.', 1)[-1].replace('_', '-')}"[:40]
    return provision(
        ROOT / "template.yaml",
        parameters={
            "LineNumber": SAMPLE_LINE_NUMBER,
            "PublicBaseUrl": SAMPLE_PUBLIC_BASE_URL,
            "TwilioSecretName": f"{name}/twilio",
        },
        stack_name=name,
        session=session,
        endpoint_url=moto_endpoint,
    )


@pytest.fixture
def as_function(stack: Any) -> Callable[..., Any]:
    """``with as_function("SendSmsFunction", EXTRA="x"):`` — the function's template environment, fresh ports."""
    from peerline import composition

    @contextmanager
    def activate(logical_id: str, **extra: str) -> Iterator[None]:
        environment = {**stack.functions[logical_id].environment, **extra}
        saved = {key: os.environ.get(key) for key in environment}
        os.environ.update(environment)
        composition.reset()
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            composition.reset()

    return activate
