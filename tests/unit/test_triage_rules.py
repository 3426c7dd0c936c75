"""Phrase rules: data with their own examples, each positive fires its rule, each negative does not.

The built-in folder holds no phrase rule any more (frames replaced them: tests/unit/test_triage_frames.py); what it
still holds are the idioms (masked before frames run) and the cues operators' phrase rules use. The phrase-rule
engine is tested on the retired built-in rules, kept as an operator's folder would be: tests/triage/phrase-rules-fixture.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from peerline.triage import RULES_DIR_ENV, RiskLevel, TriageRulesError, load_rules, triage
from peerline.triage.ruleset import BUILTIN_RULES_DIR

FIXTURE_DIR = Path(__file__).parents[1] / "triage" / "phrase-rules-fixture"
RULES = load_rules([BUILTIN_RULES_DIR, FIXTURE_DIR])
POSITIVES = [(rule.id, text) for rule in RULES.rules for text in rule.spec.positive]
NEGATIVES = [(rule.id, text) for rule in RULES.rules for text in rule.spec.negative]
IDIOM_EXAMPLES = [(idiom.id, text) for idiom, _ in RULES.idioms for text in idiom.examples]


@pytest.mark.parametrize(("rule_id", "text"), POSITIVES)
def test_rule_fires_on_its_positive_examples(rule_id: str, text: str) -> None:
    # when
    result = triage(text, RULES)
    # then
    assert rule_id in result.rules, f"{rule_id} did not fire on {text!r}: {result}"


@pytest.mark.parametrize(("rule_id", "text"), NEGATIVES)
def test_rule_stays_silent_on_its_negative_examples(rule_id: str, text: str) -> None:
    # when
    result = triage(text, RULES)
    # then
    assert rule_id not in result.rules, f"{rule_id} fired on {text!r}: {result}"


@pytest.mark.parametrize(("idiom_id", "text"), IDIOM_EXAMPLES)
def test_idiom_examples_score_none(idiom_id: str, text: str) -> None:
    # when
    result = triage(text, RULES)
    # then
    assert result.level is RiskLevel.NONE, f"{idiom_id}: {text!r} scored {result}"


def test_every_category_and_language_has_rules() -> None:
    # given
    categories = {rule.spec.category for rule in RULES.rules}
    languages = {rule.spec.language for rule in RULES.rules}
    # then
    assert {"suicide", "self_harm", "overdose_ingestion", "harm_to_others", "abuse_violence", "farewell"} <= categories
    assert {"en", "es", "any"} <= languages


def test_rule_ids_are_unique() -> None:
    ids = [rule.id for rule in RULES.rules]
    assert len(ids) == len(set(ids))


OPERATOR_RULE = """
[[rule]]
id = "en.suicide.operator_test_phrase"
category = "suicide"
level = "high"
language = "en"
patterns = ['\\bgoing to see grandpa in heaven\\b']
positive = ["im going to see grandpa in heaven"]
negative = ["grandpa is in heaven"]
"""


def test_operator_folder_adds_a_rule_through_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    text = "im going to see grandpa in heaven"
    # (rules and frames only: the learned stage may well flag this euphemism on its own)
    assert triage(text, use_model=False).level is RiskLevel.NONE
    (tmp_path / "local.toml").write_text(OPERATOR_RULE)
    monkeypatch.setenv(RULES_DIR_ENV, str(tmp_path))
    # when
    result = triage(text, use_model=False)
    # then: the operator's rule fires, and the built-in rules are still there
    assert result.level is RiskLevel.HIGH
    assert result.rules == ["en.suicide.operator_test_phrase"]
    assert triage("i took 30 pills").level is RiskLevel.IMMINENT


def test_operator_rules_may_use_builtin_macros(tmp_path: Path) -> None:
    # given
    (tmp_path / "macro.toml").write_text(
        '[[rule]]\nid = "en.suicide.macro_use"\ncategory = "suicide"\nlevel = "high"\nlanguage = "en"\n'
        "patterns = ['\\bgoing to vanish (?:%SELF%)\\b']\npositive = [\"going to vanish myself\"]\n"
    )
    # when
    rules = load_rules([BUILTIN_RULES_DIR, tmp_path])
    # then
    assert "en.suicide.macro_use" in triage("im going to vanish myself", rules).rules


def test_a_duplicate_rule_id_is_refused(tmp_path: Path) -> None:
    # given
    (tmp_path / "dup.toml").write_text(OPERATOR_RULE.replace("operator_test_phrase", "kill_self"))
    # then
    with pytest.raises(TriageRulesError, match=r"en\.suicide\.kill_self"):
        load_rules([BUILTIN_RULES_DIR, FIXTURE_DIR, tmp_path])


def test_an_operator_folder_may_extend_the_frames_lexicons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # given: a local drug name the built-in lexicon does not know, added as data in the operator's folder
    text = "took 40 zorbaprin an hour ago"
    assert triage(text, use_model=False).level is not RiskLevel.IMMINENT
    (tmp_path / "local.toml").write_text('[lexicon.substance]\nen = ["zorbaprin"]\n')
    monkeypatch.setenv(RULES_DIR_ENV, str(tmp_path))
    # then: the ingestion frame catches it, with no code change
    assert triage(text, use_model=False).level is RiskLevel.IMMINENT


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (
            "[[rule]]\nid = 'en.x.y'\ncategory = 'suicide'\nlevel = 'severe'\nlanguage = 'en'\npatterns=['a']\npositive=['a']",
            "level",
        ),
        (
            "[[rule]]\nid = 'en.x.y'\ncategory = 'suicide'\nlevel = 'high'\nlanguage = 'en'\npatterns=['(']\npositive=['a']",
            "bad pattern",
        ),
        (
            "[[rule]]\nid = 'en.x.y'\ncategory = 'suicide'\nlevel = 'high'\nlanguage = 'en'\npatterns=['%NOPE%']\npositive=['a']",
            "unknown macro",
        ),
        ("[[rule]]\nid = 'en.x.y'\ncategory = 'suicide'\nlevel = 'high'\nlanguage = 'en'\npatterns=['a']", "positive"),
        ("[[rules]]\nid = 'en.x.y'", "unknown tables"),
        ("not toml = = =", "bad.toml"),
    ],
)
def test_an_invalid_rules_file_is_refused_naming_the_problem(tmp_path: Path, body: str, complaint: str) -> None:
    # given
    (tmp_path / "bad.toml").write_text(body)
    # then
    with pytest.raises(TriageRulesError, match=complaint):
        load_rules([tmp_path])


def test_a_missing_operator_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TriageRulesError, match="does not exist"):
        load_rules([BUILTIN_RULES_DIR, tmp_path / "nowhere"])
