"""The volunteer API's OpenAPI document declares what each operation answers, and the API keeps to it
(in-process against moto; the fuzz test in tests/e2e/test_api_fuzz.py checks the same over HTTP)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from test_volunteer_api import aws  # noqa: F401  (a fixture: the volunteers Ana, Ben and Sol)

from peerline_local.emulators import api_gateway_v2_event


@pytest.fixture
def raw(as_function: Callable[..., Any], lambda_context: Any, aws: Any) -> Callable[..., dict[str, Any]]:  # noqa: F811
    """The handler's whole answer (status, headers, body) to a request with any body and content type."""

    def call(method: str, path: str, body: bytes = b"", content_type: str = "application/json") -> dict[str, Any]:
        event = api_gateway_v2_event(
            method=method,
            path=path,
            query="",
            headers={"content-type": content_type, "host": "api.example.org"},
            body=body,
            source_ip="127.0.0.1",
            domain="api.example.org",
        )
        event["routeKey"] = event["requestContext"]["routeKey"] = "ANY /volunteer/{proxy+}"
        event["requestContext"]["authorizer"] = {"jwt": {"claims": {"sub": "sub-ana"}, "scopes": None}}
        with as_function("VolunteerApiFunction") as handler:
            response: dict[str, Any] = handler.lambda_handler(event, lambda_context)
        return {**response, "json": json.loads(response["body"]) if response.get("body") else None}

    return call


@pytest.fixture
def document(raw: Any) -> dict[str, Any]:
    answer = raw("GET", "/openapi.json")
    assert answer["statusCode"] == 200
    return dict(answer["json"])


def operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {op["operationId"]: op for item in document["paths"].values() for op in item.values()}


def test_every_operation_declares_the_gateways_refusals_a_403_and_a_422_with_the_problem_body(
    document: dict[str, Any],
) -> None:
    # API Gateway may answer 401 and 429 on every operation, and the API 403 and 422: each one a Problem
    for operation_id, operation in operations(document).items():
        for code in ("401", "403", "422", "429"):
            schema = operation["responses"][code]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Problem"}, (operation_id, code)
    assert set(document["components"]["schemas"]["Problem"]["required"]) == {"message"}


def test_each_operation_declares_the_domain_refusals_it_can_answer(document: dict[str, Any]) -> None:
    declared = {name: set(operation["responses"]) for name, operation in operations(document).items()}

    assert {"200", "404", "409"} <= declared["acceptConversation"]
    assert {"204", "404", "409", "415"} <= declared["closeConversation"]
    assert "200" not in declared["closeConversation"]
    assert {"404"} <= declared["listMessages"] and "409" not in declared["listMessages"]
    assert "404" not in declared["getMe"]


def test_the_document_says_every_operation_needs_a_bearer_token(document: dict[str, Any]) -> None:

    assert document["components"]["securitySchemes"]["volunteerToken"]["scheme"] == "bearer"
    assert document["security"] == [{"volunteerToken": []}]


def test_a_method_the_path_does_not_have_is_405_with_allow(raw: Any) -> None:
    answer = raw("DELETE", "/volunteer/me")
    assert (answer["statusCode"], answer["json"]) == (405, {"message": "method not allowed"})
    assert answer["headers"]["Allow"] == "GET"

    assert raw("POST", "/volunteer/library")["headers"]["Allow"] == "GET, PUT"
    assert raw("GET", "/volunteer/conversations/c-1/accept")["headers"]["Allow"] == "POST"


def test_an_unknown_path_is_404_with_the_problem_body(raw: Any) -> None:
    answer = raw("GET", "/volunteer/nothing-here")
    assert (answer["statusCode"], answer["json"]) == (404, {"message": "not found"})


@pytest.mark.parametrize("content_type", ["multipart/form-data", "text/plain", "application/xml"])
def test_a_body_that_is_not_json_is_415_not_a_500(raw: Any, content_type: str) -> None:
    answer = raw("PUT", "/volunteer/me/availability", body=b"--x\r\n", content_type=content_type)
    assert answer["statusCode"] == 415
    assert answer["json"] == {"message": "the body must be JSON (Content-Type: application/json)"}


def test_an_empty_body_of_another_content_type_is_415_too(raw: Any) -> None:
    answer = raw("PUT", "/volunteer/me/availability", body=b"", content_type="text/plain")
    assert answer["statusCode"] == 415
