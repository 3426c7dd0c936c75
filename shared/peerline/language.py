"""Which language to answer in, from the texter's first text."""

from __future__ import annotations

from enum import StrEnum

from peerline.keywords import normalize


class Language(StrEnum):
    ENGLISH = "en"
    SPANISH = "es"


# Common words of a first text in Spanish that are not also common English words.
_SPANISH_WORDS = frozenset(
    [
        "hola",
        "ayuda",
        "ayudame",
        "necesito",
        "por",
        "favor",
        "quiero",
        "estoy",
        "esta",
        "estar",
        "tengo",
        "siento",
        "triste",
        "nadie",
        "puedo",
        "puede",
        "hablar",
        "alguien",
        "gracias",
        "buenas",
        "buenos",
        "dias",
        "tardes",
        "noches",
        "que",
        "como",
        "porque",
        "pero",
        "muy",
        "mal",
        "solo",
        "sola",
        "miedo",
        "vida",
        "morir",
        "matarme",
        "quiero",
        "mi",
        "mis",
        "hay",
        "tu",
        "usted",
        "ustedes",
        "soy",
        "eres",
        "hermano",
        "hermana",
        "mama",
        "papa",
        "ella",
        "el",
        "ellos",
        "aqui",
        "ahora",
        "hoy",
        "nada",
        "algo",
        "todo",
        "bien",
        "no",
        "se",
        "donde",
        "cuando",
        "quien",
        "alguna",
        "favor",
        "oye",
        "holi",
        "ola",
    ]
)
_ENGLISH_WORDS = frozenset(
    [
        "hi",
        "hello",
        "hey",
        "help",
        "i",
        "im",
        "i'm",
        "need",
        "want",
        "to",
        "talk",
        "someone",
        "please",
        "the",
        "a",
        "is",
        "are",
        "am",
        "feel",
        "my",
        "me",
        "you",
        "can",
        "anyone",
        "there",
        "this",
        "what",
        "how",
        "why",
        "not",
        "no",
        "one",
        "so",
        "sad",
        "alone",
        "scared",
        "die",
        "life",
        "yes",
        "ok",
        "okay",
    ]
)


def detect_language(text: str) -> Language:
    """Spanish when the text reads as Spanish (``hola``, ``ayuda``, ``¿``, ``ñ`` …), English otherwise.

    Deliberately simple and biased to English on a tie: the welcome says both lines can be used, and a texter who
    writes Spanish in the first text is answered in Spanish.
    """
    if any(mark in text for mark in "¿¡ñÑ"):
        return Language.SPANISH
    words = normalize(text).split()
    spanish = sum(word in _SPANISH_WORDS for word in words)
    english = sum(word in _ENGLISH_WORDS for word in words)
    return Language.SPANISH if spanish > english else Language.ENGLISH
