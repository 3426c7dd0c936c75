"""A supervisor sets up two-step sign-in (TOTP) in the dashboard, in real Chromium on the local line, then signs in
with a code computed here as an authenticator app would (pyotp); a wrong code is refused."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import boto3
import pyotp
from dashboard_kit import Steps, sign_in
from playwright.sync_api import Page, expect

from peerline.adapters.volunteers import DynamoVolunteerRegistry
from peerline_ops.volunteers import VolunteerAdmin

USERNAME = "supervisor.mfa"
PASSWORD = "Peerline-Supervisor-MFA-4"


def new_supervisor(line: dict[str, Any]) -> None:
    """A supervisor added as an operator would, with a password only (not a demo user: nothing is skipped)."""
    session = boto3.session.Session(
        aws_access_key_id=line["aws_access_key_id"],
        aws_secret_access_key=line["aws_secret_access_key"],
        region_name=line["region"],
    )
    VolunteerAdmin(
        session.client("cognito-idp", endpoint_url=line["aws_endpoint_url"]),
        line["user_pool_id"],
        DynamoVolunteerRegistry(
            line["resources"]["VolunteersTable"], session.client("dynamodb", endpoint_url=line["aws_endpoint_url"])
        ),
    ).add(
        USERNAME,
        "supervisor.mfa@example.org",
        "Robin",
        ["en"],
        date.today() + timedelta(days=365),
        roles=["volunteer", "supervisor"],
        password=PASSWORD,
    )


def wrong_code(secret: str) -> str:
    """None of the codes accepted around now (±1 step, and a step to spare)."""
    totp, now = pyotp.TOTP(secret), time.time()
    right = {totp.at(now + 30 * step) for step in range(-2, 3)}
    return next(code for code in ("000000", "111111", "222222") if code not in right)


def test_a_supervisor_sets_up_totp_then_signs_in_with_a_code(
    line: dict[str, Any], dashboard_url: str, open_page: Callable[..., Page], steps: Steps
) -> None:
    # given a supervisor who has only a password
    new_supervisor(line)
    page = open_page("supervisor")

    # when they sign in, the dashboard leads them through setting up two-step sign-in before anything else
    page.goto(dashboard_url)
    page.get_by_label("Username or e-mail", exact=True).fill(USERNAME)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Set up two-step sign-in")).to_be_visible()
    secret = re.sub(r"\s+", "", page.get_by_label("Key for your authenticator app").inner_text())
    link = page.get_by_role("link", name="Open in an authenticator app on this device").get_attribute("href") or ""
    assert link.startswith("otpauth://totp/Peerline%3Asupervisor.mfa?") and f"secret={secret}" in link
    steps(page, "two-step set-up")
    code = page.get_by_label("Code from your authenticator app", exact=True)
    code.fill(wrong_code(secret))
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    expect(page.get_by_role("alert").filter(has_text="That code didn't match")).to_be_visible()
    code.fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-step sign-in").click()

    # then they are in, with the supervisor's view (the API no longer refuses it)
    expect(page.get_by_role("heading", name="The line at a glance")).to_be_visible()
    expect(page.get_by_text("set up two-step sign-in first")).to_have_count(0)
    assert secret not in page.content(), "the secret stays on the page after set-up"

    # when they sign out and in again, the password is not enough: a wrong code is refused, the app's code lets them in
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()  # the sign-out has finished (it clears the form)
    page.get_by_label("Username or e-mail", exact=True).fill(USERNAME)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    code = page.get_by_label("Code from your authenticator app", exact=True)
    expect(code).to_be_visible()
    expect(page.get_by_role("button", name="Sign out", exact=True)).to_be_hidden()
    code.fill(wrong_code(secret))
    page.get_by_role("button", name="Verify", exact=True).click()
    expect(page.get_by_role("alert").filter(has_text="That code didn't match")).to_be_visible()
    steps(page, "wrong code refused")
    code.fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Verify", exact=True).click()
    expect(page.get_by_role("heading", name="The line at a glance")).to_be_visible()


def test_demo_supervisors_sign_in_with_a_password_on_the_local_line(
    line: dict[str, Any], dashboard_url: str, open_page: Callable[..., Page]
) -> None:
    # given the local line's demo supervisor (TOTP on, its challenge answered locally unless `peerline dev --mfa`)
    demo = next(user for user in line["demo_users"] if user["role"] == "supervisor")
    page = open_page("demo-supervisor")

    # when they sign in with their password, then they have the supervisor's view at once
    sign_in(page, dashboard_url, demo["username"], demo["password"])
    expect(page.get_by_role("heading", name="The line at a glance")).to_be_visible()
