"""The volunteer API's part of template.yaml: CORS for the dashboard's origin only, and the wrap-up's lists."""

from __future__ import annotations

from typing import Any

import pytest
from test_template import TEMPLATE, sam_transform

from peerline.wrap_up import CHOICE_LIST, DEFAULT_OUTCOMES, DEFAULT_TAGS
from peerline_local.stack import load_template


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


def test_cors_allows_only_the_dashboards_origin_parameters(template: dict[str, Any]) -> None:
    cors = template["Resources"]["HttpApi"]["Properties"]["CorsConfiguration"]

    # no wildcard: each allowed origin is one of the two parameters, left out when empty
    assert cors["AllowOrigins"] == [
        {"Fn::If": ["HasDashboardOrigin", {"Ref": "DashboardOrigin"}, {"Ref": "AWS::NoValue"}]},
        {"Fn::If": ["HasDashboardExtraOrigin", {"Ref": "DashboardExtraOrigin"}, {"Ref": "AWS::NoValue"}]},
    ]
    assert "*" not in str(cors)
    for name in ("DashboardOrigin", "DashboardExtraOrigin"):
        parameter = template["Parameters"][name]
        assert parameter["Default"] == ""
        assert parameter["AllowedPattern"].startswith("^(https?://")


def test_the_deployed_api_allows_the_origin_the_operator_names(template: dict[str, Any], monkeypatch: Any) -> None:
    # given the dashboard's CloudFront domain as DashboardOrigin
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    template = {**template, "Parameters": {**template["Parameters"]}}
    template["Parameters"]["DashboardOrigin"] = {
        **template["Parameters"]["DashboardOrigin"],
        "Default": "https://d111111abcdef8.cloudfront.net",
    }

    # then the HTTP API's own CORS (what API Gateway enforces) allows that origin and no other
    cors = sam_transform(template)["Resources"]["HttpApi"]["Properties"]["Body"]["x-amazon-apigateway-cors"]
    assert cors["allowOrigins"][0] == {
        "Fn::If": ["HasDashboardOrigin", "https://d111111abcdef8.cloudfront.net", {"Ref": "AWS::NoValue"}]
    }
    assert "*" not in str(cors["allowOrigins"])


def test_the_wrap_up_lists_default_to_the_codes_and_reach_the_volunteer_api(template: dict[str, Any]) -> None:
    parameters = template["Parameters"]
    assert parameters["SessionOutcomes"]["Default"] == DEFAULT_OUTCOMES
    assert parameters["SessionTags"]["Default"] == DEFAULT_TAGS
    assert parameters["SessionOutcomes"]["AllowedPattern"] == parameters["SessionTags"]["AllowedPattern"] == CHOICE_LIST

    environment = template["Resources"]["VolunteerApiFunction"]["Properties"]["Environment"]["Variables"]
    assert environment["SESSION_OUTCOMES"] == {"Ref": "SessionOutcomes"}
    assert environment["SESSION_TAGS"] == {"Ref": "SessionTags"}
