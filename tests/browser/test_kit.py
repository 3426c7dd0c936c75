"""The browser tests' own helpers, checked against small hand-written pages (no local line needed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from dashboard_kit import (
    ARTIFACTS,
    Audit,
    Steps,
    accessibility_problems,
    find_leaks,
    focus_problems,
    number_spellings,
    page_leaks,
)
from playwright.sync_api import Page

NUMBER = "+15555550601"


@pytest.mark.parametrize("spelling", number_spellings(NUMBER))
def test_every_spelling_of_a_number_is_a_leak(spelling: str) -> None:
    assert find_leaks(f"call me at {spelling} tonight", [NUMBER]), spelling


@pytest.mark.parametrize(
    "text",
    ["+1•••••0601", "Texter 0601", "55555506011", "25555550601", "0601", "5555550602", "Offer expires in 45 s 0/160"],
)
def test_masked_numbers_aliases_and_other_digits_are_not_leaks(text: str) -> None:
    assert find_leaks(text, [NUMBER]) == []


def test_a_page_leaks_a_number_in_its_text_attributes_or_storage(open_page: Callable[..., Page]) -> None:
    page = open_page()
    page.set_content("<p>Texter 4F2A</p><p>+1•••••0601</p>")
    assert page_leaks(page, [NUMBER]) == []
    page.set_content('<p data-from="555-555-0601">Texter 4F2A</p>')
    assert any("HTML" in leak for leak in page_leaks(page, [NUMBER]))
    page.set_content("<p>(555) 555-0601</p>")
    assert any("visible text" in leak for leak in page_leaks(page, [NUMBER]))


def test_unlabelled_controls_are_found_and_labelled_ones_pass(open_page: Callable[..., Page]) -> None:
    page = open_page()
    page.set_content(
        """
        <label for="u">Username or e-mail</label><input id="u">
        <label>Password <input type="password"></label>
        <button>Sign in</button>
        <button aria-label="Sign out"><svg width="10" height="10"></svg></button>
        <span id="o">Outcome</span><select aria-labelledby="o"><option>supported</option></select>
        <div role="radiogroup" aria-label="Availability"><label><input type="radio" name="a">Available</label></div>
        <input type="checkbox" title="Sound for new offers">
        """
    )
    assert accessibility_problems(page) == []
    page.set_content(
        """
        <input id="x"><button><svg width="10" height="10"></svg></button><select><option>a</option></select>
        <textarea placeholder="Reply"></textarea><div role="radiogroup"></div>
        """
    )
    problems = accessibility_problems(page)
    assert len([p for p in problems if "no accessible name" in p]) == 4, problems
    assert any("placeholder" in p and "textarea" in p for p in problems), problems


def test_focus_without_an_outline_or_shadow_is_found(open_page: Callable[..., Page]) -> None:
    page = open_page()
    page.set_content(
        """
        <style>#plain:focus { outline: none } #ring:focus { outline: none; box-shadow: 0 0 0 3px #15f }</style>
        <button>Default</button><button id="plain">Plain</button><button id="ring">Ring</button>
        <input aria-label="Reply">
        """
    )
    reached, problems = focus_problems(page)
    assert len(reached) == 4, reached
    assert len(problems) == 1 and "Plain" in problems[0], problems


def test_steps_save_numbered_screenshots_and_stop_at_a_leak(open_page: Callable[..., Page], artifacts: Path) -> None:
    page = open_page()
    audit = Audit(numbers={NUMBER})
    steps = Steps(artifacts, audit)
    page.set_content("<h1>Fine</h1><button>Go</button>")
    first = steps(page, "A fine page")
    assert first.name == "01-a-fine-page.png" and first.stat().st_size > 0
    page.set_content("<h1>555.555.0601</h1><button></button>")
    with pytest.raises(AssertionError, match="texter's number"):
        steps(page, "leaky")
    assert (artifacts / "02-leaky.png").exists() and artifacts.parent == ARTIFACTS
    screen = f"{artifacts.name}/02-leaky"
    assert list(audit.leaks) == [screen] and list(audit.unlabelled) == [screen]
