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
