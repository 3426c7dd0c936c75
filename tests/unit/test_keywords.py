"""Carrier keywords and the consent answer, read the forgiving way people text."""

from __future__ import annotations

import pytest

from peerline.keywords import Keyword, classify_keyword, normalize, parse_consent


@pytest.mark.parametrize(
    "body", ["STOP", "stop", "Stop.", " STOPALL ", "unsubscribe", "Cancel", "END", "quit!", "\tStop\n"]
)
def test_opt_out_keywords_are_stop(body: str) -> None:
    # given / when / then
    assert classify_keyword(body) is Keyword.STOP


@pytest.mark.parametrize("body", ["START", "start", "Unstop", "UNSTOP!"])
def test_opt_in_keywords_are_start(body: str) -> None:
    # given / when / then
    assert classify_keyword(body) is Keyword.START


@pytest.mark.parametrize("body", ["HELP", "help", "Info", "INFO?"])
def test_help_keywords_are_help(body: str) -> None:
    # given / when / then
    assert classify_keyword(body) is Keyword.HELP


@pytest.mark.parametrize("body", ["please stop texting my friend", "I can't stop crying", "help me", "hi", "", "stopp"])
def test_keyword_must_be_the_whole_text(body: str) -> None:
    # given a text that merely contains a keyword
    # when / then it is not a keyword
    assert classify_keyword(body) is None


@pytest.mark.parametrize(
    ("opt_out_type", "keyword"), [("STOP", Keyword.STOP), ("start", Keyword.START), ("HELP", Keyword.HELP)]
)
def test_twilio_opt_out_type_wins_over_the_body(opt_out_type: str, keyword: Keyword) -> None:
    # given Twilio matched a keyword of its own (e.g. a localized one)
    # when / then its OptOutType decides
    assert classify_keyword("arrêt", opt_out_type) is keyword


def test_unknown_opt_out_type_falls_back_to_the_body() -> None:
    # given / when / then
    assert classify_keyword("STOP", "SOMETHING_ELSE") is Keyword.STOP


@pytest.mark.parametrize(
    "body", ["YES", "yes", "y", "Y.", "yeah", "Yep", " yes! ", "Sí", "SI", "si", "Yes please", "claro"]
)
def test_yes_variants_are_consent(body: str) -> None:
    # given / when / then
    assert parse_consent(body) is True


@pytest.mark.parametrize("body", ["NO", "no", "n", "nope", "NO.", "Nah", "no thanks", "No gracias"])
def test_no_variants_are_refusal(body: str) -> None:
    # given / when / then
    assert parse_consent(body) is False


@pytest.mark.parametrize("body", ["I'm not sure", "yes but I'm scared", "maybe", "no one listens to me", "", "👍"])
def test_anything_else_is_no_answer(body: str) -> None:
    # given / when / then
    assert parse_consent(body) is None


def test_normalize_folds_case_accents_punctuation_and_spaces() -> None:
    # given / when / then
    assert normalize("  Sí!!  \n claro 🙂 ") == "si claro"
