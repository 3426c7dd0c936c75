"""Fixtures shared by the integration and end-to-end suites."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import boto3
import pytest
from handler_kit import ROOT, FakeLambdaContext

_AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "tests",
}


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto server on loopback, for integration tests (real HTTP, real botocore serialisation)."""
    from peerline_local.local_aws import LocalAwsServer

    saved = {key: os.environ.get(key) for key in [*_AWS_TEST_ENV, "AWS_ENDPOINT_URL"]}
    # Port 0: the server binds whatever port the OS gives it and reports it (no pick-then-bind race).
    server = LocalAwsServer().start()
    endpoint = server.url
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
    from peerline_local.sample_events import SAMPLE_LINE_NUMBER, SAMPLE_PUBLIC_BASE_URL
    from peerline_local.stack import provision

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
    """``with as_function("SendSmsFunction", EXTRA="x") as handler:`` — the function's template environment, fresh
    ports, and its handler module (imported, the first time, under that environment: ports are built at import)."""
    from peerline import composition
    from peerline_local.harness import load_handler

    @contextmanager
    def activate(logical_id: str, **extra: str) -> Iterator[ModuleType]:
        environment = {**stack.functions[logical_id].environment, **extra}
        saved = {key: os.environ.get(key) for key in environment}
        os.environ.update(environment)
        composition.reset()
        try:
            yield load_handler(stack.functions[logical_id].code_uri)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            composition.reset()

    return activate
