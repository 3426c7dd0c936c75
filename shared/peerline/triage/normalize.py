"""Text normalisation before matching: case, accents, apostrophes, stretched letters, leetspeak."""

from __future__ import annotations

import re
import unicodedata

_COMBINING = re.compile(r"[\u0300-\u036f]")
# Variation selectors, zero-width joiners and skin tones change how an emoji looks, not what it says.
_EMOJI_NOISE = re.compile("[\ufe0e\ufe0f\u200d\U0001f3fb-\U0001f3ff]")
_APOSTROPHES = re.compile("['’‘`´ʼ]")
_STRETCHED = re.compile(r"([a-z])\1{2,}")
_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "@": "a", "$": "s"}
_LEET_INSIDE_WORD = re.compile(r"(?<=[a-z])[01345@$](?=[a-z])")
_SPACES = re.compile(r"[ \t\r\f\v]+")


def normalize(text: str) -> str:
    """Lower-case, accent-free, apostrophe-free text, so rules are written once for every spelling.

    "I'm" → "im", "mañana" → "manana", "sooo" → "soo", "k1ll" → "kill", "⚰️" → "⚰". Line breaks are kept
    (they end a clause); the result is roughly as long as the input.
    """
    folded = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    folded = _EMOJI_NOISE.sub("", folded).lower()
    folded = _APOSTROPHES.sub("", folded)
    folded = _STRETCHED.sub(r"\1\1", folded)
    folded = _LEET_INSIDE_WORD.sub(lambda match: _LEET[match.group()], folded)
    return _SPACES.sub(" ", folded).strip()
