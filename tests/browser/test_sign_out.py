"""Signing out of the dashboard on the local line, in real Chromium: Cognito's RevokeToken answers (no server error,
no CORS error in the console) and the session is over."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect


def test_sign_out_revokes_the_token_without_a_console_error(
    line: dict[str, Any], dashboard_url: str, open_page: Callable[..., Page]
) -> None:
    # given a volunteer signed in to the dashboard
    user = next(user for user in line["demo_users"] if user["role"] == "volunteer")
    page = open_page("volunteer")
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("requestfailed", lambda request: problems.append(f"{request.url}: {request.failure}"))
    cognito_calls: list[str] = []
    page.on(
        "request",
        lambda request: (
            cognito_calls.append(request.headers.get("x-amz-target", "").rsplit(".", 1)[-1])
            if request.method == "POST" and request.url.startswith(line["aws_endpoint_url"])
            else None
        ),
    )
    page.goto(dashboard_url)
    page.get_by_label("Username or e-mail", exact=True).fill(user["username"])
    page.get_by_label("Password", exact=True).fill(user["password"])
    page.get_by_role("button", name="Sign in", exact=True).click()
    sign_out = page.get_by_role("button", name="Sign out", exact=True)
    expect(sign_out).to_be_visible()

    # when they sign out
    with page.expect_response(
        lambda response: response.request.headers.get("x-amz-target", "").endswith(".RevokeToken")
    ) as revoked:
        sign_out.click()

    # then Cognito revoked the refresh token (no fallback to GlobalSignOut was needed) and the page is back at sign-in
    assert revoked.value.status == 200
    expect(page.get_by_label("Username or e-mail", exact=True)).to_be_visible()
    assert "GlobalSignOut" not in cognito_calls
    # and the browser reported no error on the way (a CORS refusal is a console error and a failed request)
    assert not problems, problems
