"""A wrap-up's outcome and tags must be on the operator's lists (the template's SessionOutcomes / SessionTags),
which the dashboard reads from /config.json: against moto, with the handler as API Gateway calls it."""

from __future__ import annotations

from typing import Any

import pytest
from test_volunteer_api import api, aws, http_api, texter_texts  # noqa: F401  (fixtures)

from peerline.wrap_up import DEFAULT_OUTCOMES, DEFAULT_TAGS


@pytest.fixture
def conversation(api: Any, texter_texts: Any) -> str:  # noqa: F811
    """Ana's active conversation, as its close path."""
    api("PUT", "/volunteer/me/availability", body={"status": "available"})
    texter_texts("+15555550501", "hi, I need to talk", "SM" + "c1" * 16)
    texter_texts("+15555550501", "no", "SM" + "c2" * 16)
    [offered] = [c for c in api("GET", "/volunteer/conversations")[1]["conversations"] if c["status"] == "offered"]
    assert api("POST", f"/volunteer/conversations/{offered['id']}/accept")[0] == 200
    return f"/volunteer/conversations/{offered['id']}/close"


def test_the_dashboard_config_carries_the_lists(api: Any) -> None:  # noqa: F811
    status, config = api("GET", "/config.json", sub=None)

    assert status == 200
    assert config["sessionOutcomes"] == DEFAULT_OUTCOMES.split(",")
    assert config["sessionTags"] == DEFAULT_TAGS.split(",")


REFUSED = [
    {"outcome": "went-well", "tags": []},  # well-formed, but not on the list
    {"outcome": "supported", "tags": ["anxiety", "stress"]},
    {"outcome": "She said her name is Ana", "tags": []},  # free text
    {"outcome": "supported", "tags": ["x" * 41]},
    {"outcome": "supported", "tags": ["anxiety"] * 11},
]


def test_only_a_wrap_up_from_the_lists_closes_a_conversation(api: Any, conversation: str) -> None:  # noqa: F811
    # when Ana closes with anything off the lists, too long or too many, it is a 422 and the conversation stays open
    for wrap_up in REFUSED:
        status, problem = api("POST", conversation, body=wrap_up)
        assert status == 422, (wrap_up, problem)
        assert "Ana" not in problem["message"]
    assert [c["status"] for c in api("GET", "/volunteer/conversations")[1]["conversations"]] == ["active"]

    # when she chooses from the lists, it closes
    assert api("POST", conversation, body={"outcome": "referred", "tags": ["grief", "family"]})[0] == 204
    assert api("GET", "/volunteer/conversations")[1]["conversations"] == []
