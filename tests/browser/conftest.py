"""Fixtures for the dashboard's browser tests: Debian's Chromium driven by Playwright, one local line per module,
screenshots of every step in ``test-artifacts/browser/``."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dashboard_kit import ARTIFACTS, CHROMIUM_ARGS, DEMO_USERS, OFFER_TIMEOUT_SECONDS, Api, Audit, Steps, find_chromium
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from twilio.rest import Client

from peerline_local.local_line import LocalLine, LocalLineOptions
from peerline_local.paths import project_root


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    path = find_chromium()
    if path is None:
        pytest.skip(
            "Chromium not found ($PEERLINE_CHROMIUM, /usr/bin/chromium, or chromium on PATH): the browser tests need "
            "Debian's `chromium` package — `make test` installs it when run as root "
            "(apt-get install -y chromium)"
        )
    return path


@pytest.fixture(scope="session")
def playwright(chromium_executable: str) -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright, chromium_executable: str) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=chromium_executable, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.fixture(scope="module")
def audit() -> Audit:
    """Every checkpoint's findings for this module (texter numbers seen anywhere, unlabelled controls)."""
    return Audit()


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    """``test-artifacts/browser/<test>/``, emptied of an earlier run's files (created when something is saved)."""
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "-", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    return folder


@pytest.fixture
def steps(artifacts: Path, audit: Audit) -> Steps:
    """``steps(page, "offer appears")``: a numbered screenshot in ``test-artifacts/browser/<test>/``, then the
    page is checked for texter numbers and unlabelled controls."""
    return Steps(artifacts, audit)


@pytest.fixture
def open_page(browser: Browser, artifacts: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., Page]]:
    """``open_page("volunteer")``: a page in a fresh browser context (its own storage: one person each). Console
    messages and page errors go to ``test-artifacts/browser/<test>/<who>-console.log``; a failed test leaves a
    screenshot of every open page."""
    folder = artifacts
    opened: list[tuple[str, Any, Page, list[str]]] = []

    def open_one(who: str = "page", viewport: dict[str, int] | None = None) -> Page:
        context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900})
        context.set_default_timeout(10_000)
        page = context.new_page()
        log: list[str] = []
        page.on("console", lambda message: log.append(f"console.{message.type}: {message.text}"))
        page.on("pageerror", lambda error: log.append(f"pageerror: {error}"))
        page.on("requestfailed", lambda r: log.append(f"requestfailed: {r.method} {r.url} {r.failure}"))
        opened.append((who, context, page, log))
        return page

    yield open_one
    failed = getattr(request.node, "report_call", None) is not None and request.node.report_call.failed
    if failed or any(log for *_, log in opened):
        folder.mkdir(parents=True, exist_ok=True)
    for who, context, page, log in opened:
        if failed:
            with contextlib.suppress(Exception):  # a page already gone
                page.screenshot(path=str(folder / f"failure-{who}.png"), full_page=True)
        if log:
            (folder / f"{who}-console.log").write_text("\n".join(log) + "\n")
        context.close()


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """The local line for this module, short timers, its own state folder; its (masked) log in the artifacts."""
    state_dir = tmp_path_factory.mktemp("browser-line")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / f"{request.module.__name__.rsplit('.', 1)[-1]}-local-line.log"
    log = log_path.open("w")
    lock = threading.Lock()

    def sink(source: str, text: str) -> None:
        with lock:
            log.write(f"{source}: {text.rstrip()}\n")
            log.flush()

    local = LocalLine(
        LocalLineOptions(
            root=project_root(),
            state_dir=state_dir,
            # One stack name per module: moto keeps a module's resources (KMS aliases…) after its line stops, so
            # a second module on the same name would fail to create them.
            stack_name=re.sub(r"[^a-z0-9]+", "-", f"browser-{request.module.__name__.rsplit('.', 1)[-1]}".lower()),
            parameters={
                "ConsentTimeoutSeconds": "600",
                "StillWaitingSeconds": "600",
                "OfferTimeoutSeconds": str(OFFER_TIMEOUT_SECONDS),
                # A module may set more (e.g. the wrap-up's lists) in LINE_PARAMETERS.
                **getattr(request.module, "LINE_PARAMETERS", {}),
            },
            log_sink=sink,
        )
    )
    local.start()
    try:
        info = json.loads((state_dir / "local.json").read_text())
        info["state_dir"] = str(state_dir)
        yield info
    finally:
        local.stop()
        log.close()


@pytest.fixture(scope="module")
def dashboard_url(line: dict[str, Any]) -> str:
    url = line.get("dashboard_url")
    if not url:
        pytest.fail(
            "the local line's local.json has no dashboard_url: the local line does not serve the dashboard "
            f"(keys: {', '.join(sorted(line))})"
        )
    return str(url)


@pytest.fixture(scope="module")
def twilio(line: dict[str, Any]) -> Client:
    client = Client(line["twilio_account_sid"], line["twilio_auth_token"])
    client.api.base_url = line["twilio_api_url"]
    return client


@pytest.fixture(scope="module")
def apis(line: dict[str, Any]) -> dict[str, Api]:
    """The volunteer API as each demo user (signed in through the local line's Cognito)."""
    return {username: Api(line, username) for username in DEMO_USERS}
