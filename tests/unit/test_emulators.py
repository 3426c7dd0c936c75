"""The local line's API Gateway emulation builds the events API Gateway builds (payload 2.0)."""

from __future__ import annotations

import base64

import requests
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from peerline.adapters.apigw import form_of, public_url_of
from peerline_local.emulators.endpoint import FunctionEndpoint
from peerline_local.emulators.events import api_gateway_v2_event
from peerline_local.emulators.http_api import HttpApiEmulator, Route, _http_response_of


def _event(body: bytes, content_type: str, query: str = "") -> APIGatewayProxyEventV2:
    return APIGatewayProxyEventV2(
        api_gateway_v2_event(
            method="POST",
            path="/sms/inbound",
            query=query,
            headers={"content-type": content_type, "host": "127.0.0.1:3000"},
            body=body,
            source_ip="127.0.0.1",
            domain="127.0.0.1:3000",
        )
    )


def test_form_bodies_are_base64_encoded_like_http_apis_deliver_them() -> None:
    event = _event(b"From=%2B15555550100&Body=hi&Empty=", "application/x-www-form-urlencoded")
    assert event.is_base64_encoded
    assert base64.b64decode(event["body"]) == b"From=%2B15555550100&Body=hi&Empty="
    # and the webhook adapter reads them back with blank values kept (Twilio signs those too)
    assert form_of(event) == {"From": "+15555550100", "Body": "hi", "Empty": ""}


def test_route_key_and_query_string_make_the_signed_url() -> None:
    event = _event(b"", "application/x-www-form-urlencoded", query="a=1&b=2")
    assert event.route_key == "POST /sms/inbound"
    assert public_url_of(event, "https://sms.example.org/") == "https://sms.example.org/sms/inbound?a=1&b=2"
    # without a configured base URL, the domain the request came in on
    assert public_url_of(event, "") == "https://127.0.0.1:3000/sms/inbound?a=1&b=2"


def test_json_bodies_stay_text() -> None:
    event = _event(b'{"a": 1}', "application/json")
    assert not event.is_base64_encoded
    assert event["body"] == '{"a": 1}'


def test_non_form_content_type_is_not_read_as_a_form() -> None:
    assert form_of(_event(b'{"From": "x"}', "application/json")) is None


def test_handler_results_become_http_responses() -> None:
    status, headers, body = _http_response_of(
        {"statusCode": 403, "headers": {"Content-Type": "text/xml"}, "body": "<Response/>"}
    )
    assert (status, headers["Content-Type"], body) == (403, "text/xml", b"<Response/>")
    encoded = base64.b64encode(b"\x00\x01").decode()
    assert _http_response_of({"statusCode": 200, "body": encoded, "isBase64Encoded": True})[2] == b"\x00\x01"
    assert _http_response_of({"ok": True}) == (200, {"Content-Type": "application/json"}, b'{"ok": true}')


def test_the_most_specific_route_wins_whatever_the_order_as_in_api_gateway() -> None:
    # given a greedy catch-all declared before more specific routes (as the template declares the volunteer API
    # before the reveal function)
    endpoints = {name: FunctionEndpoint(name, "http://unused", requests.Session()) for name in ("api", "reveal")}
    emulator = HttpApiEmulator(
        [
            Route("ANY", "/volunteer/{proxy+}", endpoints["api"]),
            Route("POST", "/volunteer/escalations/{escalation_id}/reveal", endpoints["reveal"]),
            Route("ANY", "/volunteer/escalations/{escalation_id}/reveal", endpoints["api"]),
        ]
    )

    # when / then a parameterised route beats the greedy one, and a route for the method beats ANY
    reveal = emulator.match("POST", "/volunteer/escalations/esc-1/reveal")
    assert reveal is not None and reveal[0].function is endpoints["reveal"]
    assert reveal[1] == {"escalation_id": "esc-1"}
    other_method = emulator.match("GET", "/volunteer/escalations/esc-1/reveal")
    assert other_method is not None and other_method[0].path == "/volunteer/escalations/{escalation_id}/reveal"
    elsewhere = emulator.match("POST", "/volunteer/escalations/esc-1/acknowledge")
    assert elsewhere is not None and elsewhere[0].path == "/volunteer/{proxy+}"
