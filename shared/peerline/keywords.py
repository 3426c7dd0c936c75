"""Carrier keywords (STOP, START, HELP), the line's own DELETE, and the consent answer, read the forgiving way
people text."""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum


class Keyword(StrEnum):
    STOP = "stop"
    START = "start"
    HELP = "help"
    # The line's own, not a carrier's: erase what the line keeps about the texter (Crisis Text Line honours it too).
    DELETE = "delete"


# The carrier/Twilio standard opt-out, opt-in and help keywords (whole message, any case).
_KEYWORDS = {
    **dict.fromkeys(("stop", "stopall", "unsubscribe", "cancel", "end", "quit"), Keyword.STOP),
    **dict.fromkeys(("start", "unstop"), Keyword.START),
    **dict.fromkeys(("help", "info"), Keyword.HELP),
    **dict.fromkeys(("delete", "borrar"), Keyword.DELETE),
}
# Twilio's Advanced Opt-Out reports the keyword it matched in the OptOutType field.
_OPT_OUT_TYPES = {"STOP": Keyword.STOP, "START": Keyword.START, "HELP": Keyword.HELP}

# Consent must be explicit: a bare "ok" may only acknowledge the welcome, so it is not a yes.
_YES = frozenset(
    [
        *["y", "yes", "yess", "yeah", "yea", "yep", "yup", "sure", "si", "sii", "claro"],
        *["yes please", "of course", "ok yes", "yes ok", "si claro", "claro que si", "por supuesto", "de acuerdo"],
    ]
)
_NO = frozenset(
    [
        *["n", "no", "noo", "nope", "nah", "na", "nop"],
        "no thanks",
        "no thank you",
        "no way",
        "no gracias",
        "mejor no",
        "prefiero que no",
    ]
)
_NOT_WORD = re.compile(r"[^a-z0-9 ]+")


def normalize(text: str) -> str:
    """Case-fold, strip accents, punctuation and emoji, collapse spaces: ``"  Sí!! "`` → ``"si"``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    without_accents = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_NOT_WORD.sub(" ", without_accents).split())


def classify_keyword(body: str, opt_out_type: str | None = None) -> Keyword | None:
    """The keyword this text is, if the whole text is one; Twilio's own ``OptOutType`` wins when present."""
    if opt_out_type and opt_out_type.upper() in _OPT_OUT_TYPES:
        return _OPT_OUT_TYPES[opt_out_type.upper()]
    return _KEYWORDS.get(normalize(body))


def parse_consent(body: str) -> bool | None:
    """True for a yes (``YES``, ``y``, ``yeah``, ``Sí``…), False for a no (``NO``, ``n``, ``nope``…), else None."""
    answer = normalize(body)
    if answer in _YES:
        return True
    if answer in _NO:
        return False
    return None
