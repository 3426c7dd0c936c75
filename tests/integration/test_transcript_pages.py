"""listMessages a page at a time, against DynamoDB (moto): the newest first, then earlier pages by cursor."""

from __future__ import annotations

from typing import Any

import pytest
from test_volunteer_api import api, aws, http_api, texter_texts  # noqa: F401  (fixtures)


@pytest.fixture
def conversation(api: Any, texter_texts: Any) -> str:  # noqa: F811
    # given Ana took a texter's conversation (5 texts so far) and replied three times: 8 messages
    api("PUT", "/volunteer/me/availability", body={"status": "available"})
    texter_texts("+15555550401", "hi, I need to talk", "SM" + "b1" * 16)
    texter_texts("+15555550401", "no", "SM" + "b2" * 16)
    [offered] = [c for c in api("GET", "/volunteer/conversations")[1]["conversations"] if c["status"] == "offered"]
    assert api("POST", f"/volunteer/conversations/{offered['id']}/accept")[0] == 200
    for reply in ("one", "two", "three"):
        assert api("POST", f"/volunteer/conversations/{offered['id']}/messages", body={"body": reply})[0] == 200
    return str(offered["id"])


def test_pages_read_newest_first_and_together_are_the_whole_transcript(api: Any, conversation: str) -> None:  # noqa: F811
    path = f"/volunteer/conversations/{conversation}/messages"
    status, everything = api("GET", path)
    assert status == 200 and len(everything["messages"]) == 8 and everything["next_cursor"] is None

    # when the transcript is read three at a time, following next_cursor
    pages = [api("GET", f"{path}?limit=3")[1]]
    while pages[-1]["next_cursor"]:
        pages.append(api("GET", f"{path}?limit=3&cursor={pages[-1]['next_cursor']}")[1])

    # then the first page is the three newest replies, oldest first, and the pages hold the transcript once
    assert [m["body"] for m in pages[0]["messages"]] == ["one", "two", "three"]
    assert [len(page["messages"]) for page in pages] == [3, 3, 2]
    assert [m for page in reversed(pages) for m in page["messages"]] == everything["messages"]


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "cursor=bm8tc2VwYXJhdG9y", "cursor=a%23b"])
def test_a_bad_limit_or_a_cursor_the_api_did_not_give_is_422(api: Any, query: str) -> None:  # noqa: F811
    status, problem = api("GET", f"/volunteer/conversations/c-1/messages?{query}")
    assert status == 422
    assert problem["details"][0]["where"] in ("query.limit", "query.cursor")
