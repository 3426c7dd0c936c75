"""The volunteer API over real HTTP on the local line: fuzzed from its own OpenAPI document (schemathesis), and
what API Gateway answers before any function runs.

Each of a volunteer's and a supervisor's tokens drives schemathesis' examples, coverage, fuzzing and stateful phases
(links inferred from the document), seeded and bounded. Every response must be no 5xx, a status the operation
declares, with the declared content type and schema; a method a path doesn't have is a 405 with ``Allow``.

Left out of the coverage phase's undeclared methods: TRACE and QUERY, which no API Gateway route can have (the
gateway answers them as an unmatched route, 404, before any function runs: tested below).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from line_kit import running_line, sign_in, text_line
from schemathesis.engine import events, from_schema

pytestmark = pytest.mark.e2e

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "unsupported_method",
    "ignored_auth",
)
PHASES = ("examples", "coverage", "fuzzing", "stateful")


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with running_line(
        tmp_path_factory.mktemp("fuzz-line"),
        "e2e-api-fuzz",
        parameters={"ConsentTimeoutSeconds": "600", "StillWaitingSeconds": "600", "OfferTimeoutSeconds": "600"},
    ) as info:
        # Some texters waiting, so that taking, reading and closing have something to work on.
        for index in range(3):
            text_line(info, f"+1555555{index:04d}", "hi, can someone talk?")
        yield info


def fuzz(api_url: str, token: str, phases: tuple[str, ...]) -> tuple[list[str], dict[str, set[str]]]:
    """Run ``phases`` with ``token``: the failures found (one line each) and the operations each phase tested."""
    config = schemathesis.Config.from_dict(
        {
            # Seeded, no example database and no crash cache: every run sends the same requests.
            "seed": 12,
            "cache": {"enabled": False},
            "base-url": api_url,
            "headers": {"Authorization": f"Bearer {token}"},
            "generation": {"max-examples": 3, "deterministic": True, "database": "none"},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "phases": {
                **{phase: {"enabled": phase in phases} for phase in PHASES},
                # Two undeclared methods per path are enough to see the 405s (every path lacks both).
                "coverage": {"enabled": "coverage" in phases, "unexpected-methods": ["delete", "patch"]},
                "stateful": {"enabled": "stateful" in phases, "max-steps": 10},
            },
        }
    )
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json", config=config)
    failures: list[str] = []
    tested: dict[str, set[str]] = defaultdict(set)
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            tested[event.phase.value].add(event.recorder.label)
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.failure_info is not None:
                        case = event.recorder.cases[case_id].value
                        failure = check.failure_info.failure
                        failures.append(f"{event.phase.value}: {case.method} {case.formatted_path}: {failure.title}")
        elif isinstance(event, events.NonFatalError | events.FatalError):
            failures.append(f"error: {event!r}")
    return sorted(set(failures)), tested


def with_examples(document: dict[str, Any]) -> set[str]:
    """The operations whose request body declares examples (the examples phase sends those)."""
    schemas = document["components"]["schemas"]
    return {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if "examples" in schemas.get(body_schema(operation).rsplit("/", 1)[-1], {})
    }


def body_schema(operation: dict[str, Any]) -> str:
    return str(
        operation.get("requestBody", {})
        .get("content", {})
        .get("application/json", {})
        .get("schema", {})
        .get("$ref", "")
    )


# The supervisor's token reaches every operation: all four phases. A volunteer's meets the supervisor-only 403s and
# the other refusals: every phase but coverage, whose boundary values (~400 requests) the supervisor's run covers.
@pytest.mark.parametrize(
    ("who", "phases"), [("supervisor", PHASES), ("volunteer.en", ("examples", "fuzzing", "stateful"))]
)
def test_the_volunteer_api_answers_only_what_its_document_says(
    line: dict[str, Any], who: str, phases: tuple[str, ...]
) -> None:
    # given the API's own document
    document = requests.get(f"{line['api_url']}/openapi.json", timeout=10).json()
    operations = {f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item}
    assert len(operations) >= 20

    # when schemathesis runs every phase with this person's token
    failures, tested = fuzz(line["api_url"], sign_in(line, who), phases)

    # then nothing it sent got a 5xx, an undeclared status, or a body unlike the declared schema
    assert failures == []
    # and it really ran: the documented examples, every operation through the coverage and fuzzing phases, and
    # stateful sequences
    assert tested["examples"] >= with_examples(document) and with_examples(document)
    assert tested["coverage"] >= operations or "coverage" not in phases
    assert tested["fuzzing"] >= operations
    assert tested["stateful"]


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND"])
def test_a_method_no_api_gateway_route_can_have_is_404_like_an_unmatched_route(
    line: dict[str, Any], method: str
) -> None:
    # when a method API Gateway routes don't have reaches a path the volunteer API serves
    response = requests.request(method, f"{line['api_url']}/volunteer/me", timeout=10)

    # then it is answered like any request no route matches (the standard library's server said 501)
    assert (response.status_code, response.json()) == (404, {"message": "Not Found"})


@pytest.mark.parametrize("who", ["dashboard", "https://elsewhere.example", "http://127.0.0.1:9"])
def test_only_the_dashboards_origin_gets_cors_headers(line: dict[str, Any], who: str) -> None:
    # given a page on the local dashboard's origin, or anywhere else
    origin = line["dashboard_url"] if who == "dashboard" else who
    allowed = origin if who == "dashboard" else None
    url = f"{line['api_url']}/volunteer/me"

    # when its browser asks to call the API (preflight), then calls it with a volunteer's token
    preflight = requests.options(
        url,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
        timeout=10,
    )
    call = requests.get(
        url, headers={"Origin": origin, "Authorization": f"Bearer {sign_in(line, 'volunteer.en')}"}, timeout=10
    )

    # then only the dashboard's origin is allowed (the browser keeps the answer from any other page)
    assert preflight.headers.get("Access-Control-Allow-Origin") == allowed
    assert call.status_code == 200
    assert call.headers.get("Access-Control-Allow-Origin") == allowed
