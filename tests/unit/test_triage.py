"""The scorer's hard rules (../shared/CRISIS.md), one behaviour per test."""

from __future__ import annotations

import pytest

from peerline.triage import RiskLevel, TriageResult, highest, rank, triage

IMMINENT, HIGH, CONCERN, NONE = RiskLevel.IMMINENT, RiskLevel.HIGH, RiskLevel.CONCERN, RiskLevel.NONE


def test_levels_are_ordered_by_rank_not_by_name() -> None:
    assert [rank(level) for level in (NONE, CONCERN, HIGH, IMMINENT)] == [0, 1, 2, 3]
    assert IMMINENT.rank > HIGH.rank > CONCERN.rank > NONE.rank


def test_highest_is_the_conversation_level_over_recent_messages() -> None:
    # method and intent often arrive in separate texts
    levels = [triage(text).level for text in ("hey", "i feel hopeless", "i took 30 pills")]
    assert highest(levels) is IMMINENT
    assert highest([]) is NONE
    assert highest(["concern", "none"]) is CONCERN


def test_the_result_never_carries_the_text() -> None:
    result = triage("zorbagle i want to kill myself tonight")
    assert result.level is IMMINENT
    assert "zorbagle" not in result.model_dump_json().lower()
    assert set(TriageResult.model_fields) == {"level", "categories", "rules", "modifiers", "languages", "signals", "model"}


@pytest.mark.parametrize("text", ["", "   ", "\n", "ok", "👍"])
def test_empty_and_ordinary_texts_are_none(text: str) -> None:
    assert triage(text).level is NONE


# ------------------------------------------------------------------ method, means, ingestion, farewell


@pytest.mark.parametrize(
    "text",
    [
        "i took 30 pills",
        "just swallowed a whole bottle of tylenol",
        "took 4000mg of acetaminophen",
        "popped a handful of excedrin",
        "i drank antifreeze",
        "i have a noose ready",
        "the gun is loaded",
        "goodbye everyone",
        "whats the lethal dose of ibuprofen",
    ],
)
def test_a_method_means_ingestion_or_farewell_cue_with_self_reference_is_imminent(text: str) -> None:
    assert triage(text).level is IMMINENT


def test_hyperbole_never_lowers_an_ingestion() -> None:
    # given a laugh that would lower an ideation phrase
    result = triage("lol i took 30 pills")
    # then
    assert result.level is IMMINENT


# ------------------------------------------------------------------ negation and pseudo-negation


@pytest.mark.parametrize("text", ["im not suicidal", "i would never kill myself", "i dont want to kill myself"])
def test_negated_ideation_drops_one_level_to_concern_and_no_further(text: str) -> None:
    # when
    result = triage(text)
    # then: "I'm not suicidal" still deserves the question
    assert result.level is CONCERN
    assert "negated" in result.modifiers
    assert "suicide" in result.categories


def test_negation_lowers_an_imminent_phrase_by_one_only() -> None:
    result = triage("im not going to kill myself tonight")
    assert result.level is HIGH
    assert {"negated", "timeframe"} <= set(result.modifiers)


@pytest.mark.parametrize(
    "text",
    [
        "i dont want to live anymore",
        "i can't go on",
        "no reason to live",
        "no one would care if i killed myself",
        "not gonna lie i want to die",
        "no puedo más",
        "no aguanto más",
        "ya no quiero vivir",
    ],
)
def test_pseudo_negations_are_positive(text: str) -> None:
    result = triage(text)
    assert result.level.rank >= CONCERN.rank
    assert "negated" not in result.modifiers


def test_negation_in_an_earlier_phrase_does_not_reach_the_match() -> None:
    assert triage("i dont have anyone, and i want to die").level is HIGH


# ------------------------------------------------------------------ idioms and hyperbole


@pytest.mark.parametrize(
    "text",
    [
        "this homework is killing me",
        "you killed it",
        "dying to see you",
        "my phone is dying",
        "my mom is going to kill me when she sees this",
        "me muero de risa",
        "este trabajo me está matando",
    ],
)
def test_idioms_are_none(text: str) -> None:
    result = triage(text)
    assert result.level is NONE
    assert "idiom" in result.modifiers


def test_an_idiom_does_not_hide_another_cue_in_the_same_text() -> None:
    result = triage("this homework is killing me and honestly i want to die")
    assert result.level is HIGH


def test_hyperbole_lowers_ideation_one_level_but_not_below_concern() -> None:
    result = triage("kms lol")
    assert result.level is CONCERN
    assert "hyperbole" in result.modifiers


# ------------------------------------------------------------------ slang, misspellings, SMS spelling


@pytest.mark.parametrize(
    "text",
    [
        "kms",
        "i wanna unalive myself",
        "thinking about sewerslide",
        "i want to self-delete",
        "ready to ctb",
        "gonna off myself",
        "i wnt 2 kill myslf",
        "im sooo suicidal",
        "I WANT TO DIE",
        "i want to k1ll myself",
        "im sucidal",
    ],
)
def test_slang_and_sms_spelling_are_read(text: str) -> None:
    assert triage(text).level.rank >= HIGH.rank


def test_kys_is_aimed_at_others_not_self() -> None:
    result = triage("kys")
    assert result.level is CONCERN
    assert result.categories == ["harm_to_others"]


# ------------------------------------------------------------------ quantities, drug names, emoji


@pytest.mark.parametrize(
    "text",
    ["my doctor said 800mg ibuprofen for my knee", "i took 2 advil for my headache", "i take my meds every morning"],
)
def test_dosage_talk_is_none(text: str) -> None:
    assert triage(text).level is NONE


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("💊💊💊💊", IMMINENT),
        ("took 20 💊", IMMINENT),
        ("i want to 🔫 myself", IMMINENT),
        ("💊", CONCERN),
        ("⚰️", CONCERN),
    ],
)
def test_emoji_work_in_any_language(text: str, level: RiskLevel) -> None:
    assert triage(text).level is level


# ------------------------------------------------------------------ past versus recent past


@pytest.mark.parametrize("text", ["i overdosed an hour ago", "i took 30 pills last night", "i just took all my pills"])
def test_recent_past_keeps_ingestion_imminent(text: str) -> None:
    assert triage(text).level is IMMINENT


def test_a_recent_attempt_is_imminent_and_an_undated_one_high() -> None:
    assert triage("i just tried to kill myself").level is IMMINENT
    assert triage("i tried to kill myself").level is HIGH


def test_weeks_ago_is_high() -> None:
    result = triage("i took 20 pills two weeks ago")
    assert result.level is HIGH
    assert "past_weeks" in result.modifiers


@pytest.mark.parametrize(
    "text",
    ["i used to cut", "i attempted suicide when i was 15", "i overdosed years ago", "hace años intenté matarme"],
)
def test_past_history_is_concern(text: str) -> None:
    result = triage(text)
    assert result.level is CONCERN
    assert "past" in result.modifiers


# ------------------------------------------------------------------ third party


def test_a_third_party_keeps_its_level_up_to_high() -> None:
    result = triage("my friend wants to kill herself")
    assert result.level is HIGH
    assert "third_party" in result.modifiers


def test_a_third_party_plan_with_a_near_timeframe_is_imminent() -> None:
    assert triage("my friend says she is going to kill herself tonight").level is IMMINENT


def test_a_third_party_ingestion_is_not_capped() -> None:
    result = triage("my roommate took a bunch of pills")
    assert result.level is IMMINENT
    assert "third_party" in result.modifiers


def test_a_third_party_past_attempt_is_concern() -> None:
    assert triage("my friend tried to kill herself last year").level is CONCERN


# ------------------------------------------------------------------ Spanish, both rule sets on every message


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("quiero matarme", HIGH),
        ("me quiero morir", HIGH),
        ("me voy a matar esta noche", IMMINENT),
        ("me tomé 30 pastillas", IMMINENT),
        ("Me tome todo el frasco", IMMINENT),
        ("adiós para siempre", IMMINENT),
        ("mi esposo me pega", HIGH),
        ("no quiero matarme", CONCERN),
        ("me muero de hambre", NONE),
    ],
)
def test_spanish_with_or_without_accents(text: str, level: RiskLevel) -> None:
    assert triage(text).level is level


def test_both_languages_run_on_every_message() -> None:
    result = triage("estoy tan cansada, i want to die, ya no quiero vivir")
    assert result.level is HIGH
    assert result.languages == ["en", "es"]


# ------------------------------------------------------------------ categories


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("i want to kill myself", "suicide"),
        ("i cut myself", "self_harm"),
        ("i took 30 pills", "overdose_ingestion"),
        ("i want to kill him", "harm_to_others"),
        ("my dad hits me", "abuse_violence"),
        ("this is my last message", "farewell"),
        ("i feel hopeless", "hopelessness"),
    ],
)
def test_each_category_is_reported(text: str, category: str) -> None:
    assert category in triage(text).categories


def test_a_long_message_scores_without_error() -> None:
    # a sanity check only: time per message is measured by `make bench-triage`, not asserted here
    text = "work has been so stressful lately and i cant sleep. " * 200 + "i want to die"
    assert triage(text).level is HIGH
