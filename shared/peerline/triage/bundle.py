"""The built-in frames and idioms, pre-parsed into one JSON file so a cold start does not parse TOML.

``tomllib`` is pure Python: parsing the built-in TOML took ~30 ms of every cold start, ``json`` (in C) reads the same
content in about a millisecond. The TOML files stay the source of truth; ``builtin.json`` records a digest of them
and is used only while it matches (a stale bundle is ignored, with a warning, and the TOML is parsed instead).
Rebuild it with ``make triage-bundle``; a unit test fails while it is stale.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any

from peerline.triage.frames import FRAMES_DIR, Frame, FrameBook, Phrase
from peerline.triage.models import RiskLevel
from peerline.triage.ruleset import BUILTIN_RULES_DIR, RuleSet

BUNDLE_PATH = Path(__file__).with_name("builtin.json")
FORMAT = 4

logger = logging.getLogger(__name__)


def source_files() -> list[Path]:
    return sorted(FRAMES_DIR.glob("*.toml")) + sorted(BUILTIN_RULES_DIR.glob("*.toml"))


def source_digest() -> str:
    """sha256 over the built-in TOML files' names and bytes."""
    digest = hashlib.sha256()
    for path in source_files():
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def build() -> dict[str, Any]:
    """The bundle's content, from the TOML files (slow: this is what the bundle saves at run time)."""
    from peerline.triage.frames import load_frames
    from peerline.triage.ruleset import load_rules

    book = load_frames([FRAMES_DIR])
    rules = load_rules([BUILTIN_RULES_DIR])
    phrases = [phrase for bucket in book.exact.values() for phrase in bucket]
    phrases += [phrase for bucket in book.prefix.values() for _, phrase in bucket]
    phrases += book.numeric
    return {
        "format": FORMAT,
        "digest": source_digest(),
        "frames": {
            # Literal phrases as the index itself (first word → [slot, words, language]); the few with wildcards
            # as phrases to index at load.
            "literal": book.literal,
            "phrases": [[phrase.slot, list(phrase.tokens), phrase.language] for phrase in phrases],
            "frames": [_frame_json(frame) for frame in book.frames],
            "crisis_slots": sorted(book.crisis_slots),
            "remembered_slots": sorted(book.remembered_slots),
            "deniable_slots": sorted(book.deniable_slots),
            "masking_slots": sorted(book.masking_slots),
            "spelling": book.spelling,
            "vocabulary": sorted(book.vocabulary),
            "negators": sorted(book.negators),
            "first_person": sorted(book.first_person),
            "third_person": sorted(book.third_person),
        },
        "idiom_pattern": rules.idiom_regex.pattern if rules.idiom_regex is not None else None,
    }


def write(path: Path = BUNDLE_PATH) -> Path:
    path.write_text(json.dumps(build(), ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    return path


def load(path: Path = BUNDLE_PATH) -> tuple[FrameBook, RuleSet] | None:
    """The built-in frames and idiom rules from the bundle; None when it is absent, of another format, or stale."""
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if content.get("format") != FORMAT or content.get("digest") != source_digest():
        logger.warning("triage bundle %s is stale or of another format: parsing the TOML (run make triage-bundle)", path)
        return None
    return _book(content["frames"]), _rules(content["idiom_pattern"])


def _frame_json(frame: Frame) -> dict[str, Any]:
    return {
        "id": frame.id,
        "level": frame.level.value,
        "category": frame.category,
        "all": [sorted(group) for group in frame.all],
        "any": sorted(frame.any),
        "unless": sorted(frame.unless),
        "acute": frame.acute,
        "self": frame.self_directed,
        "half": frame.half.value if frame.half is not None else None,
    }


def _book(content: dict[str, Any]) -> FrameBook:
    book = FrameBook(
        crisis_slots=frozenset(content["crisis_slots"]),
        remembered_slots=frozenset(content["remembered_slots"]),
        deniable_slots=frozenset(content["deniable_slots"]),
        masking_slots=frozenset(content["masking_slots"]),
        spelling=content["spelling"],
        vocabulary=frozenset(content["vocabulary"]),
        negators=frozenset(content["negators"]),
        first_person=frozenset(content["first_person"]),
        third_person=frozenset(content["third_person"]),
    )
    book.literal = content["literal"]
    for slot, tokens, language in content["phrases"]:
        book.add(Phrase(slot, tuple(tokens), " ".join(tokens), language))
    book.frames = tuple(
        Frame(
            id=raw["id"],
            level=RiskLevel(raw["level"]),
            category=raw["category"],
            all=tuple(frozenset(group) for group in raw["all"]),
            any=frozenset(raw["any"]),
            unless=frozenset(raw["unless"]),
            acute=raw["acute"],
            self_directed=raw["self"],
            half=RiskLevel(raw["half"]) if raw["half"] else None,
        )
        for raw in content["frames"]
    )
    return book


def _rules(idiom_pattern: str | None) -> RuleSet:
    return RuleSet(
        rules=(),
        idioms=(),
        cues={},
        first_person=frozenset(),
        third_person=frozenset(),
        third_reflexive=frozenset(),
        idiom_regex=re.compile(idiom_pattern) if idiom_pattern else None,
    )


if __name__ == "__main__":
    print(f"wrote {write()}")
