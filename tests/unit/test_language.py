"""Which language the line answers in, from the texter's first text."""

from __future__ import annotations

import pytest

from peerline.language import Language, detect_language
from peerline.replies import ReplyBook


@pytest.mark.parametrize(
    "text",
    [
        "hola",
        "Hola!",
        "ayuda",
        "AYUDA",
        "necesito ayuda",
        "Necesito hablar con alguien",
        "¿hay alguien?",
        "Buenos días",
        "tengo miedo",
        "mañana",
    ],
)
def test_spanish_first_texts_are_spanish(text: str) -> None:
    # given / when / then
    assert detect_language(text) is Language.SPANISH


@pytest.mark.parametrize("text", ["hi", "hello, is anyone there?", "I need to talk", "I'm scared", "help me please"])
def test_english_first_texts_are_english(text: str) -> None:
    # given / when / then
    assert detect_language(text) is Language.ENGLISH


@pytest.mark.parametrize("text", ["", "no", "ok", "123", "🙂"])
def test_ambiguous_texts_fall_back_to_english(text: str) -> None:
    # given / when / then
    assert detect_language(text) is Language.ENGLISH


def test_every_reply_exists_in_both_languages_with_the_emergency_resources_filled_in() -> None:
    # given a reply book with the deployment's resources
    book = ReplyBook(emergency_resources="Call 911 or 988.", emergency_resources_es="Llama al 911 o al 988.")

    # when / then each text that carries the resources has them in its language, and none keeps a placeholder
    for name in (
        "welcome",
        "welcome_back",
        "consent_given",
        "consent_refused",
        "finding",
        "still_waiting",
        "stopped",
        "help",
    ):
        english, spanish = book.text(name, Language.ENGLISH), book.text(name, Language.SPANISH)
        assert english != spanish
        assert "{" not in english + spanish
    for name in ("welcome", "still_waiting", "stopped", "help"):
        assert "Call 911 or 988." in book.text(name, Language.ENGLISH)
        assert "Llama al 911 o al 988." in book.text(name, Language.SPANISH)
