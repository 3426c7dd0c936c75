"""Helpers for the dashboard's browser tests: finding Chromium, screenshots, a texter-number leak detector, an
accessibility audit (every control has an accessible name, focus is visible), and the texter's side of the line.

Kept free of pytest fixtures so ``test_kit.py`` can check each helper against small hand-written pages.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import requests

# The line's own helpers, shared with the end-to-end tests.
from line_kit import eventually, text_line, texts_to  # noqa: F401 - re-exported for the browser tests
from playwright.sync_api import Locator, Page, expect

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
OFFER_TIMEOUT_SECONDS = 30  # the local line's offer timeout in these tests

# Debian's chromium, never a downloaded browser (`playwright install` is not used).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# The local line's demo users (README): two volunteers and a supervisor.
DEMO_USERS = ("volunteer.en", "volunteer.es", "supervisor")


def find_chromium() -> str | None:
    """``$PEERLINE_CHROMIUM`` when set (only it), else Debian's ``/usr/bin/chromium``, else ``chromium`` on PATH."""
    configured = os.environ.get("PEERLINE_CHROMIUM")
    candidates = [configured] if configured else ["/usr/bin/chromium", shutil.which("chromium")]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


# ------------------------------------------------------------------------------------------------ number leaks

_SEPARATORS = r"[\s().\-\u00a0\u2010-\u2015/]"


def national_digits(number: str) -> str:
    """``+15555550601`` → ``5555550601`` (NANP numbers; other numbers keep every digit after a leading ``+``)."""
    digits = re.sub(r"\D", "", number)
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


def number_spellings(number: str) -> list[str]:
    """The ways a page might spell a texter's number (for the report and the helpers' own test)."""
    d = national_digits(number)
    a, b, c = d[:3], d[3:6], d[6:]
    return [
        f"+1{d}", f"1{d}", d, f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"{a}.{b}.{c}", f"{a} {b} {c}",
        f"+1 {a} {b} {c}", f"+1 ({a}) {b}-{c}", f"+1-{a}-{b}-{c}", f"1-{a}-{b}-{c}", f"%2B1{d}",
    ]  # fmt: skip


def leak_pattern(numbers: Iterable[str]) -> re.Pattern[str]:
    """Any spelling of any of ``numbers``: its ten digits in order, up to two separators between any two of them,
    not inside a longer run of digits. A masked number (``+1•••••0601``) or an alias is not a match."""
    alternatives = [f"{_SEPARATORS}{{0,2}}".join(national_digits(number)) for number in numbers]
    return re.compile(r"(?<!\d)(?:\+?1" + _SEPARATORS + r"{0,2})?(?:" + "|".join(alternatives) + r")(?!\d)")


def find_leaks(text: str, numbers: Iterable[str]) -> list[str]:
    numbers = list(numbers)
    if not numbers:
        return []
    return [match.group(0) for match in leak_pattern(numbers).finditer(text)]


def page_leaks(page: Any, numbers: Iterable[str]) -> list[str]:
    """Where a page shows or holds any of ``numbers``: its URL, title, visible text, HTML (every frame, attributes
    included) and web storage. Empty when it holds none."""
    numbers = list(numbers)
    places: dict[str, str] = {"url": page.url, "title": page.title()}
    places["visible text"] = page.locator("body").inner_text() if page.locator("body").count() else ""
    for index, frame in enumerate(page.frames):
        try:
            places[f"HTML of frame {index} ({frame.url})"] = frame.content()
        except Exception as error:  # a frame navigating away mid-check
            places[f"HTML of frame {index}"] = f"<unreadable: {error}>"
    places["web storage"] = page.evaluate(
        "() => { const all = {}; try { for (const s of [localStorage, sessionStorage]) for (let i = 0; i < s.length;"
        " i++) all[s.key(i)] = s.getItem(s.key(i)); } catch (e) { /* an opaque origin has no storage */ }"
        " return JSON.stringify(all); }"
    )
    found = []
    for place, text in places.items():
        for leak in find_leaks(text, numbers):
            found.append(f"{place} contains {leak!r}")
    return found


# ------------------------------------------------------------------------------------------------ accessibility

# Roles whose elements a person operates: each needs an accessible name.
CONTROL_ROLES = {
    "button", "checkbox", "combobox", "link", "listbox", "menuitem", "menuitemcheckbox", "menuitemradio", "radio",
    "radiogroup", "searchbox", "slider", "spinbutton", "switch", "tab", "textbox", "treeitem",
}  # fmt: skip

_DESCRIBE = "function() { return this.outerHTML.replace(/\\s+/g, ' ').slice(0, 160); }"


def accessibility_problems(page: Any) -> list[str]:
    """Controls without an accessible name (as Chromium computes it for screen readers), or named only by a
    placeholder, which disappears once a person types. Read from Chromium's own accessibility tree (CDP)."""
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("DOM.getDocument", {"depth": -1})
        nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
        problems = []
        named_controls = 0
        for node in nodes:
            role = (node.get("role") or {}).get("value", "")
            if node.get("ignored") or role not in CONTROL_ROLES:
                continue
            name = (node.get("name") or {}).get("value", "") or ""
            sources = [s for s in (node.get("name") or {}).get("sources", []) if s.get("value")]
            problem = None
            if not name.strip():
                problem = "has no accessible name"
            elif sources and all(s.get("type") == "placeholder" or s.get("attribute") == "placeholder"
                                 for s in sources):  # fmt: skip
                problem = f"is named only by its placeholder ({name!r})"
            else:
                named_controls += 1
            if problem:
                html = "?"
                if node.get("backendDOMNodeId"):
                    try:
                        remote = cdp.send("DOM.resolveNode", {"backendNodeId": node["backendDOMNodeId"]})["object"]
                        html = cdp.send(
                            "Runtime.callFunctionOn",
                            {"objectId": remote["objectId"], "functionDeclaration": _DESCRIBE, "returnByValue": True},
                        )["result"]["value"]
                    except Exception:
                        pass
                problems.append(f"{role} {problem}: {html}")
        return problems
    finally:
        cdp.detach()


_FOCUS_STYLE = """() => {
  const e = document.activeElement;
  if (!e || e === document.body || e === document.documentElement) return null;
  const s = getComputedStyle(e);
  const label = e.getAttribute('aria-label') || e.labels?.[0]?.innerText || e.innerText || e.name || e.id || '';
  return {html: e.outerHTML.replace(/\\s+/g, ' ').slice(0, 120), label: label.trim().slice(0, 40),
          tag: e.tagName.toLowerCase(), outlineStyle: s.outlineStyle, outlineWidth: s.outlineWidth,
          outlineColor: s.outlineColor, boxShadow: s.boxShadow, focusVisible: e.matches(':focus-visible')};
}"""


def focus_is_visible(style: dict[str, Any]) -> bool:
    outline = style["outlineStyle"] != "none" and float(style["outlineWidth"].rstrip("px") or 0) > 0
    transparent = style["outlineColor"] in ("transparent", "rgba(0, 0, 0, 0)")
    return (outline and not transparent) or style["boxShadow"] not in ("none", "")


def focus_problems(page: Any, presses: int = 25) -> tuple[list[str], list[str]]:
    """Tab through the page from the top (as a keyboard-only person does); returns (controls reached, problems):
    a control whose focus has neither an outline nor a box-shadow is a problem."""
    page.evaluate("() => { document.activeElement?.blur(); window.focus(); }")
    page.locator("body").focus() if page.locator("body").count() else None
    reached: list[str] = []
    problems: list[str] = []
    seen: set[str] = set()
    for _ in range(presses):
        page.keyboard.press("Tab")
        style = page.evaluate(_FOCUS_STYLE)
        if style is None:
            continue
        if style["html"] in seen:
            break  # wrapped around
        seen.add(style["html"])
        reached.append(f"{style['tag']} {style['label']!r}")
        if not focus_is_visible(style):
            problems.append(
                f"focus not visible on {style['tag']} {style['label']!r} (outline {style['outlineStyle']} "
                f"{style['outlineWidth']}, box-shadow {style['boxShadow']}): {style['html']}"
            )
    return reached, problems


# ------------------------------------------------------------------------------------------------ artifacts


@dataclass
class Audit:
    """What every checkpoint found, screen by screen (shared by a module's tests; reported by the audit tests)."""

    numbers: set[str] = field(default_factory=set)
    screens: list[str] = field(default_factory=list)
    leaks: dict[str, list[str]] = field(default_factory=dict)
    unlabelled: dict[str, list[str]] = field(default_factory=dict)

    def report(self, findings: dict[str, list[str]]) -> str:
        return "\n".join(f"  [{screen}] {problem}" for screen, problems in findings.items() for problem in problems)


class Steps:
    """A test's screenshots, numbered in order, in ``test-artifacts/browser/<test>/``; each step is also checked
    for texter numbers (a failure at once) and unlabelled controls (recorded in the audit)."""

    def __init__(self, folder: Path, audit: Audit) -> None:
        self.folder = folder
        self.audit = audit
        self.count = 0

    def __call__(self, page: Any, name: str, *, check: bool = True) -> Path:
        self.count += 1
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        path = self.folder / f"{self.count:02d}-{slug}.png"
        self.folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
        if check:
            screen = f"{self.folder.name}/{path.stem}"
            self.audit.screens.append(screen)
            problems = accessibility_problems(page)
            if problems:
                self.audit.unlabelled[screen] = problems
            leaks = page_leaks(page, self.audit.numbers)
            if leaks:
                self.audit.leaks[screen] = leaks
            assert not leaks, f"a texter's number is on the page at step {name!r}: {leaks}"
        return path


# ------------------------------------------------------------------------------------------------ the line


def demo_user(line: dict[str, Any], username: str) -> dict[str, Any]:
    [user] = [user for user in line["demo_users"] if user["username"] == username]
    return dict(user)


class Api:
    """The volunteer API as ``username``: the tests' oracle for what the dashboard should show."""

    def __init__(self, line: dict[str, Any], username: str, password: str | None = None) -> None:
        cognito = boto3.session.Session(
            aws_access_key_id=line["aws_access_key_id"],
            aws_secret_access_key=line["aws_secret_access_key"],
            region_name=line["region"],
        ).client("cognito-idp", endpoint_url=line["aws_endpoint_url"])
        result = cognito.initiate_auth(
            ClientId=line["user_pool_client_id"],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password or demo_user(line, username)["password"]},
        )
        self._base = line["api_url"]
        self._headers = {"Authorization": f"Bearer {result['AuthenticationResult']['AccessToken']}"}

    def call(self, method: str, path: str, body: Any = None) -> requests.Response:
        return requests.request(method, f"{self._base}{path}", json=body, headers=self._headers, timeout=10)

    def get(self, path: str) -> Any:
        response = self.call("GET", path)
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
        return response.json()

    def conversations(self) -> list[dict[str, Any]]:
        return list(self.get("/volunteer/conversations")["conversations"])

    def escalations(self) -> list[dict[str, Any]]:
        return list(self.get("/volunteer/escalations")["escalations"])

    def transcript(self, conversation_id: str) -> list[dict[str, Any]]:
        return list(self.get(f"/volunteer/conversations/{conversation_id}/messages")["messages"])


# ---------------------------------------------------------------------------------------------------- page steps
def sign_in(page: Page, dashboard_url: str, username: str, password: str) -> None:
    page.goto(dashboard_url)
    page.get_by_label("Username or e-mail", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("button", name="Sign out", exact=True)).to_be_visible()


def set_availability(page: Page, status: str) -> None:
    radio = page.get_by_role("radiogroup", name="Availability").get_by_role("radio", name=status, exact=True)
    radio.click()
    expect(radio).to_be_checked()


def offer_alert(page: Page) -> Locator:
    return page.get_by_role("alert").filter(has_text="New conversation offered")


def transcript(page: Page) -> Locator:
    return page.get_by_role("log", name="Transcript", exact=True)
