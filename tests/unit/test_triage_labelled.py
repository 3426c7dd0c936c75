"""The labelled set (tests/triage/labelled.csv): no imminent or high text may be scored below its level."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from peerline.triage import RiskLevel, triage

LABELLED = Path(__file__).resolve().parents[1] / "triage" / "labelled.csv"
ROWS = list(csv.DictReader(LABELLED.open(encoding="utf-8")))
ESCALATING = [row for row in ROWS if row["level"] in ("imminent", "high")]


def test_the_labelled_set_is_big_and_covers_every_level_language_and_category() -> None:
    assert len(ROWS) >= 300
    assert {row["level"] for row in ROWS} == {"none", "concern", "high", "imminent"}
    assert {row["language"] for row in ROWS} == {"en", "es"}
    categories = {category for row in ROWS for category in row["categories"].split(";") if category}
    assert {"suicide", "self_harm", "overdose_ingestion", "harm_to_others", "abuse_violence", "farewell"} <= categories


@pytest.mark.parametrize("row", ESCALATING, ids=[f"{row['level']}:{row['text'][:40]}" for row in ESCALATING])
def test_no_high_or_imminent_text_is_scored_below_its_level(row: dict[str, str]) -> None:
    # when
    result = triage(row["text"])
    # then
    assert result.level.rank >= RiskLevel(row["level"]).rank, f"{row['text']!r} scored {result}"


def test_concern_and_none_texts_are_mostly_scored_at_their_level() -> None:
    # given
    concern = [row for row in ROWS if row["level"] == "concern"]
    none = [row for row in ROWS if row["level"] == "none"]
    # when
    concern_caught = sum(triage(row["text"]).level.rank >= RiskLevel.CONCERN.rank for row in concern)
    concern_exact = sum(triage(row["text"]).level is RiskLevel.CONCERN for row in concern)
    none_exact = sum(triage(row["text"]).level is RiskLevel.NONE for row in none)
    print(
        f"\nconcern ≥ concern {concern_caught}/{len(concern)}, concern exact {concern_exact}/{len(concern)}, "
        f"none exact {none_exact}/{len(none)}"
    )
    # then: floors we reach today (every concern caught, hard negatives left alone); raise them, never lower them
    assert concern_caught / len(concern) >= 0.97
    assert concern_exact / len(concern) >= 0.90
    assert none_exact / len(none) >= 0.97


# The retired phrase rules' own examples (tests/triage/phrase-rule-examples.tsv): what those rules caught, frames must
# still catch — a positive at its rule's level (high and imminent: at least high, escalated), an idiom example at none.
EXAMPLES_TSV = LABELLED.with_name("phrase-rule-examples.tsv")
EXAMPLES = list(csv.DictReader(EXAMPLES_TSV.open(encoding="utf-8"), delimiter="\t", quoting=csv.QUOTE_NONE))
# Where the frames follow CRISIS.md rather than the retired rule (each says why):
DELIBERATE = {
    # An attempt more than three months ago is history (C-SSRS): concern, not high.
    "i attempted suicide last year",
}


@pytest.mark.parametrize("row", EXAMPLES, ids=[f"{row['source']}:{row['text'][:40]}" for row in EXAMPLES])
def test_what_the_retired_phrase_rules_caught_the_frames_catch(row: dict[str, str]) -> None:
    if row["text"] in DELIBERATE:
        pytest.skip("deliberately scored otherwise (see DELIBERATE)")
    result = triage(row["text"], use_model=False)
    if row["level"] == "none":
        assert result.level is RiskLevel.NONE, f"{row['text']!r} scored {result}"
    else:
        wanted = min(RiskLevel(row["level"]).rank, RiskLevel.HIGH.rank)
        assert result.level.rank >= wanted, f"{row['text']!r} ({row['source']}) scored {result}"
