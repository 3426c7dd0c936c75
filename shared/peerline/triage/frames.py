"""Frames: situations, not phrases (format and examples: ``frames/README.md``).

A text is read as slots — who (self, another person), intent, method, means, place, time, state — each filled
from a lexicon (``frames/10_lexicon.toml``: words and short phrases, English and Spanish). A frame
(``frames/20_frames.toml``) names the slots a situation needs ("means" + "in hand" → imminent; "took" + a substance +
"now dizzy" → imminent). A new drug name, place or time phrase added to a lexicon is caught by every frame that
uses its slot, without a new rule.

Matching is on tokens, not regular expressions: loading is dictionary work (a cold start reads it pre-built from
``builtin.json``), and a text costs one pass over its words. Texting spellings are read first (``05_spelling.toml``,
and a dropped g where the lexicons know the word).

What shapes a frame's level:
- masking slots (idioms, "died by suicide", "not a joke", harmless drugs…) hide the words they cover;
- a negated phrase is an absence ("no pills in the house": dropped) or, for deniable slots, a denial ("not going to
  kill myself tonight": one level down); a denial of intent ("no intention of…") lowers one level and is concern on
  its own; a negation word inside an earlier phrase ("can't go on", "no puedo más") negates nothing;
- laughter lowers a non-acute frame by one ("jk" by two); a past marker near the phrase caps it ("used to": concern,
  "weeks ago": high); a third person as the subject caps a self-directed frame at high unless it is acute or timed;
- an everyday context (a cooking class, a doctor, a trip) switches off the frames that list it in ``unless`` — never an
  acute frame matched in full, and not while the text says more than the context explains; a story about someone
  else (news, a film) is not a crisis;
- once a crisis slot matched, a frame of level high or of the suicide family never ends below concern.

A frame one group short of matching, its core present ("the frames half-match"), is ``half`` (concern): uncertain
means a human looks.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from peerline.triage.models import RiskLevel, level_at
from peerline.triage.normalize import normalize

FRAMES_DIR = Path(__file__).with_name("frames")
_TOKEN = re.compile(r"[a-z]+|[0-9]+(?:[.,][0-9]+)?|…|[.!?;,\n]|[^\sa-z0-9.!?;,'\"()\[\]{}<>*/\\|_~^+=&%$#@:-]")
_ELLIPSIS = re.compile(r"\.{2,}|…")
_DIGIT_LETTER = re.compile(r"(?<=[0-9])(?=[a-z])|(?<=[a-z])(?=[0-9])")
_CLAUSE_BREAK = frozenset({".", "!", "?", ";", "\n", "but", "pero", "though", "aunque", "however"})
_NEGATION_REACH = 4  # words before a slot's phrase
# A negation does not reach across these ("el patrón no me paga y me amenaza": the threat is not negated).
_NEGATION_STOPS = frozenset({",", "and", "y", "e", "but", "pero", "so", "then", "because", "porque", "xq", "pq", "cause"})

# Phrase tokens that are not words: a number, any one word, a gap of up to three words.
_SPECIAL = frozenset({"#", "_", "..."})


class FramesError(ValueError):
    """A lexicon or frame file is unreadable or invalid; the message names the file and entry."""


class Phrase(NamedTuple):
    slot: str
    tokens: tuple[str, ...]
    text: str
    language: str = "any"

    @property
    def literal(self) -> bool:
        return not any(token in _SPECIAL or token.endswith("*") for token in self.tokens)


@dataclass(frozen=True)
class Frame:
    """A situation: every group in ``all`` (each a slot, or slots joined by ``|``) and one of ``any`` if given."""

    id: str
    level: RiskLevel
    category: str
    all: tuple[frozenset[str], ...]
    any: frozenset[str]
    unless: frozenset[str]
    acute: bool
    self_directed: bool
    half: RiskLevel | None
    positive: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()


class Hit(NamedTuple):
    slot: str
    start: int
    end: int
    language: str = "any"


@dataclass
class FrameBook:
    """Lexicons indexed by first word, and the frames."""

    # Literal phrases (no wildcard) by first word, matched by comparing a slice of the text's tokens.
    # Lists, not tuples, so that the bundle's JSON is the index as it is (no conversion at a cold start).
    literal: dict[str, list[list[Any]]] = field(default_factory=dict)
    exact: dict[str, list[Phrase]] = field(default_factory=dict)
    prefix: dict[str, list[tuple[str, Phrase]]] = field(default_factory=dict)
    numeric: list[Phrase] = field(default_factory=list)
    frames: tuple[Frame, ...] = ()
    crisis_slots: frozenset[str] = frozenset()
    # Crisis slots plus those that complete a frame in a later text ("tonight"): what the conversation remembers.
    remembered_slots: frozenset[str] = frozenset()
    masking_slots: frozenset[str] = frozenset({"idiom"})
    # Texting spellings and the words every lexicon phrase uses (for the dropped-g rule).
    spelling: dict[str, list[str]] = field(default_factory=dict)
    vocabulary: frozenset[str] = frozenset()
    # Slots whose negation is a denial (lowers one level), not an absence (drops the slot).
    deniable_slots: frozenset[str] = frozenset()
    negators: frozenset[str] = frozenset()
    third_person: frozenset[str] = frozenset()
    first_person: frozenset[str] = frozenset()
    large_count: int = 5
    large_mg: int = 2000

    @functools.cached_property
    def core_slots(self) -> frozenset[str]:
        """The slots some frame requires (a text's languages are those of its phrases in these slots)."""
        return frozenset(slot for frame in self.frames for group in frame.all for slot in group)

    def add(self, phrase: Phrase) -> None:
        head = phrase.tokens[0]
        if phrase.literal:
            self.literal.setdefault(head, []).append([phrase.slot, list(phrase.tokens), phrase.language])
        elif head == "#":
            self.numeric.append(phrase)
        elif head.endswith("*"):
            stem = head[:-1]
            if len(stem) < 3:
                raise FramesError(f"lexicon {phrase.slot}: a prefix needs 3 letters or more: {phrase.text!r}")
            self.prefix.setdefault(stem[:3], []).append((stem, phrase))
        else:
            self.exact.setdefault(head, []).append(phrase)

    def candidates(self, token: str) -> Iterable[Phrase]:
        yield from self.exact.get(token, ())
        for stem, phrase in self.prefix.get(token[:3], ()):
            if token.startswith(stem):
                yield phrase
        if token[:1].isdigit():
            yield from self.numeric


def respell(book: FrameBook, tokens: list[str]) -> list[str]:
    """Texting spellings read as the lexicons spell them: the ``[spelling]`` table ("pils" → "pills", "kiero" →
    "quiero", "b4" → "before"), and a dropped g ("cuttin" → "cutting") where the lexicons know the word with it."""
    out: list[str] = []
    for token in tokens:
        spelled = book.spelling.get(token)
        if spelled is not None:
            out.extend(spelled)
        elif len(token) >= 5 and token.endswith("in") and token + "g" in book.vocabulary:
            out.append(token + "g")
        else:
            out.append(token)
    return out


def tokens_of(text: str, *, normalised: bool = False) -> list[str]:
    """Normalised tokens: words, numbers (split from units: "30mg" → "30", "mg"), punctuation, emoji.

    An ellipsis is one token "…" that does not end a clause ("tonight is the night... of the game").
    """
    folded = text if normalised else normalize(text)
    return _TOKEN.findall(_ELLIPSIS.sub(" … ", _DIGIT_LETTER.sub(" ", folded)))


def _word_matches(pattern: str, token: str) -> bool:
    if pattern == "_":
        return token not in _CLAUSE_BREAK
    if pattern == "#":
        return token[:1].isdigit()
    if pattern.endswith("*"):
        return token.startswith(pattern[:-1])
    return pattern == token


def _match_at(pattern: tuple[str, ...], tokens: Sequence[str], start: int) -> int | None:
    """The end (exclusive) of ``pattern`` matched at ``start``, or None."""
    if not pattern:
        return start
    head, rest = pattern[0], pattern[1:]
    if head == "...":
        for gap in range(4):
            if start + gap > len(tokens):
                break
            if gap and tokens[start + gap - 1] in _CLAUSE_BREAK:
                break
            end = _match_at(rest, tokens, start + gap)
            if end is not None:
                return end
        return None
    if start >= len(tokens) or not _word_matches(head, tokens[start]):
        return None
    return _match_at(rest, tokens, start + 1)


def find_hits(book: FrameBook, tokens: Sequence[str]) -> list[Hit]:
    hits: list[Hit] = []
    words = list(tokens)
    for index, token in enumerate(words):
        for slot, phrase_tokens, language in book.literal.get(token, ()):
            end = index + len(phrase_tokens)
            if words[index:end] == phrase_tokens:
                hits.append(Hit(slot, index, end, language))
        for phrase in book.candidates(token):
            matched = _match_at(phrase.tokens, tokens, index)
            if matched is not None:
                hits.append(Hit(phrase.slot, index, matched, phrase.language))
    hits.extend(_quantity_hits(book, tokens))
    return hits


_NUMBER_WORDS = {
    "ten": 10, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "hundred": 100, "diez": 10, "doce": 12, "quince": 15, "veinte": 20, "treinta": 30, "cuarenta": 40,
    "cincuenta": 50, "sesenta": 60, "cien": 100,
}  # fmt: skip
_MG = frozenset({"mg", "mgs", "milligrams", "miligramos", "g", "grams", "gramos"})


def _quantity_hits(book: FrameBook, tokens: Sequence[str]) -> Iterable[Hit]:
    """``quantity_large``: a count or a dose large enough to matter (20 pills, 3000 mg, "thirty")."""
    for index, token in enumerate(tokens):
        value: float | None = None
        if token[:1].isdigit():
            try:
                value = float(token.replace(",", "."))
            except ValueError:
                continue
        elif token in _NUMBER_WORDS:
            value = _NUMBER_WORDS[token]
        if value is None:
            continue
        unit = tokens[index + 1] if index + 1 < len(tokens) else ""
        if unit in _MG:
            yield Hit("dose_mg", index, index + 2)
            grams = value / 1000 if unit.startswith("m") else value
            if grams * 1000 >= book.large_mg:
                yield Hit("quantity_large", index, index + 2)
        elif value >= book.large_count and not _is_clock_or_age(tokens, index):
            yield Hit("quantity_large", index, index + 1)


def _is_clock_or_age(tokens: Sequence[str], index: int) -> bool:
    after = tokens[index + 1] if index + 1 < len(tokens) else ""
    before = tokens[index - 1] if index else ""
    return after in {
        "min", "mins", "minutes", "minutos", "hours", "hrs", "horas", "years", "yrs", "anos", "yr", "days", "dias",
        "am", "pm", "floors", "floor", "pisos", "weeks", "semanas", "months", "meses", "mph", "km", "miles",
        "blocks", "cuadras", "percent", "dollars", "bucks", "pesos", "yo", "k", "mil", "th", "st", "nd", "rd",
    } or before in {"at", "a", "las", "la", "im", "age", "tengo", "de", "after", "before", "by", "til", "until", "around", "since", "despues", "antes", "hasta", "desde"}  # fmt: skip


@dataclass(frozen=True)
class FrameResult:
    level: RiskLevel
    categories: list[str]
    frames: list[str]
    modifiers: list[str]
    signals: list[str]
    languages: list[str] = field(default_factory=list)


_NO_FRAMES = FrameResult(RiskLevel.NONE, [], [], [], [])


def clause_ids(tokens: Sequence[str]) -> list[int]:
    ids, current = [], 0
    for token in tokens:
        if token in _CLAUSE_BREAK:
            current += 1
        ids.append(current)
    return ids


def _negated(
    book: FrameBook, tokens: Sequence[str], hit: Hit, clauses: Sequence[int], owned: dict[int, int]
) -> bool:
    """A negation word in the few words before ``hit``, in its clause, not owned by a phrase that ends before it.

    ``owned`` maps a negation word's position to the end of the phrase it belongs to: "no puedo más" or "don't
    plan on stopping" negate nothing after them; but "i don't want to die" still negates "want to die", which
    starts inside it.
    """
    for position in range(hit.start - 1, max(-1, hit.start - 1 - _NEGATION_REACH), -1):
        if clauses[position] != clauses[hit.start] or tokens[position] in _NEGATION_STOPS:
            return False
        if tokens[position] in book.negators and not (position in owned and owned[position] <= hit.start):
            return True
    return False


def _about_someone_else(book: FrameBook, tokens: Sequence[str], clauses: Sequence[int], hit: Hit) -> bool:
    """The phrase is about someone else: no "me" in it ("tired of me" is about the texter) and another person is
    the subject before it."""
    if any(word in _SELF_OBJECTS for word in tokens[hit.start : hit.end]):
        return False
    return _third_party_subject(book, tokens, clauses, hit.start)


_SELF_OBJECTS = frozenset({"me", "myself", "my", "mi", "conmigo"})


def _third_party_subject(book: FrameBook, tokens: Sequence[str], clauses: Sequence[int], start: int) -> bool:
    """The nearest person named before ``start`` in its clause is someone else (no "i" in between)."""
    for position in range(start - 1, -1, -1):
        if clauses[position] != clauses[start]:
            return False
        if tokens[position] in book.first_person:
            return False
        word = tokens[position]
        if word in book.third_person:
            # "my dad's pills" (normalised "my dads pills"): a possessive right before the phrase names the owner,
            # not the subject; "my roommate took" names the subject.
            if position + 1 == start and word.endswith("s") and word[:-1] in book.third_person:
                continue
            return True
    return False


def assess(book: FrameBook, text: str, context: Iterable[str] = (), *, normalised: bool = False) -> FrameResult:
    """Fill the slots of ``text``, add the slots of the texter's recent texts (``context``), match the frames.

    ``normalised``: ``text`` is already normalised (and idioms masked by the phrase rules).
    """
    tokens = respell(book, tokens_of(text, normalised=normalised))
    if not tokens and not context:
        return _NO_FRAMES
    clauses = clause_ids(tokens)
    hits = find_hits(book, tokens)
    # An idiom ("this homework is killing me", "me mata el calor"), a loss ("died by suicide") or a question about
    # the crisis line hides the words it covers from every other slot.
    masking = book.masking_slots
    masked = {position for hit in hits if hit.slot in masking for position in range(hit.start, hit.end)}
    if masked:
        hits = [hit for hit in hits if hit.slot in masking or not masked.intersection(range(hit.start, hit.end))]
    # A negation word inside a pseudo-negation ("not sure", "no puedo más", "can't stop") negates nothing.
    owned: dict[int, int] = {}
    pseudo: set[int] = set()
    for hit in hits:
        if hit.slot in _NOT_OWNING:
            continue
        for position in range(hit.start, hit.end):
            if hit.slot == "not_negation":
                pseudo.add(position)
            elif tokens[position] in book.negators:
                owned[position] = max(owned.get(position, -1), hit.end)
    owned.update(dict.fromkeys(pseudo, -1))  # a pseudo-negation ("not sure", "no puedo más") negates nothing
    slots: dict[str, list[Hit]] = {}
    negated: set[str] = set()
    for hit in hits:
        if hit.slot in book.crisis_slots and _negated(book, tokens, hit, clauses, owned):
            if hit.slot not in book.deniable_slots:
                continue  # "no pills in the house": the means is absent, not denied
            # "not going to kill myself tonight": the intent is named, and denied — one level down, no more.
            negated.add(hit.slot)
        slots.setdefault(hit.slot, []).append(hit)
    # "slot*2": two separate phrases of one slot (two farewell acts in one text say more than one).
    for slot, slot_hits in list(slots.items()):
        if len(_separate(slot_hits)) >= 2:
            slots[f"{slot}*2"] = slot_hits
    third_party = {
        slot
        for slot, slot_hits in slots.items()
        if all(_about_someone_else(book, tokens, clauses, hit) for hit in slot_hits)
    }
    if third_party & book.crisis_slots:
        # Someone else is the subject of a crisis slot: "third_party" is a slot of its own (a friend at risk).
        slots["third_party"] = []
    present = set(slots)
    dated = _dated_slots(slots, clauses)
    context_slots = {signal for signal in context if signal in book.remembered_slots}
    modifiers: set[str] = set()
    if present & _DENIALS:
        modifiers.add("negated")
    if present & {"idiom"}:
        modifiers.add("idiom")
    if "benign" in present:
        modifiers.add("everyday_context")
    if "joke_strong" in present:
        modifiers.add("joking")

    # Each frame that fired: its level, category and the modifiers that shaped it.
    fired: dict[str, tuple[RiskLevel, str, set[str]]] = {}
    for with_context in (False, True):
        available = present | context_slots if with_context else present
        if with_context and not context_slots - present:
            break
        for frame in book.frames:
            if frame.all[0].isdisjoint(available):
                continue  # neither a match nor a half-match without the frame's core slot
            shaped: set[str] = set()
            level = _frame_level(frame, available, third_party, negated, shaped, dated)
            if level is None or level is RiskLevel.NONE:
                continue
            key = f"frame.{frame.id}"
            if key in fired and fired[key][0].rank >= level.rank:
                continue
            if with_context:
                shaped.add("conversation")
            fired[key] = (level, frame.category, shaped)
    signals = sorted(slot for slot in present - third_party if slot in book.remembered_slots)
    if not fired:
        return FrameResult(RiskLevel.NONE, [], [], sorted(modifiers), signals)
    top = max((level for level, _, _ in fired.values()), key=lambda level: level.rank)
    # The explanation is what set the level: the frames at the top level (half-matches below it add nothing).
    kept = {key: entry for key, entry in fired.items() if entry[0] is top}
    ordered = sorted(kept)
    for _, _, shaped in kept.values():
        modifiers |= shaped
    categories = list(dict.fromkeys(category for _, category, _ in (kept[key] for key in ordered)))
    languages = {hit.language for slot in present & book.core_slots for hit in slots[slot]} - {"any"}
    return FrameResult(
        level=top,
        categories=categories,
        frames=ordered,
        modifiers=sorted(modifiers),
        signals=signals,
        languages=sorted(languages),
    )


_DENIALS = frozenset({"deny", "deny_intent"})
# Phrases whose negation words do negate what follows ("not going to", "no intention of").
_NOT_OWNING = frozenset({"deny", "deny_intent", "idiom", "benign"})
_TIMES = frozenset({"time_near", "time_secret"})
_BEYOND_EVERYDAY = frozenset(
    {"time_secret", "intent", "farewell", "farewell_act", "suicide_word", "hopeless", "attempt", "symptom", "enough",
     "on_purpose", "passive_wish", "burden", "overdose_word"}
)  # fmt: skip
_SUICIDE_FAMILY = frozenset({"suicide", "self_harm", "overdose_ingestion", "farewell", "attempt", "hopelessness"})


_NOT_CRISIS = frozenset({"time_near", "hold", "position", "recent", "have", "quantity_large"})
_PAST_REACH = 6  # words between a past marker ("years ago", "used to") and the phrase it dates


def _dated_slots(slots: dict[str, list[Hit]], clauses: Sequence[int]) -> dict[str, str]:
    """Crisis slots with a past marker close by in their clause: "past" (history) or "past_weeks" (recent weeks).

    "i used to cut" and "tried once years ago" are dated; "thinking about killing myself and it doesnt scare me like
    it used to" is not — the marker there dates the fear, far from the thought.
    """
    dated: dict[str, str] = {}
    for kind in ("past_weeks", "past"):  # "past" wins where both apply
        for marker in slots.get(kind, []):
            for slot, hits in slots.items():
                for hit in hits:
                    if slot in _PAST_KINDS or clauses[hit.start] != clauses[marker.start]:
                        continue
                    gap = marker.start - hit.end if marker.start >= hit.end else hit.start - marker.end
                    if gap <= _PAST_REACH:
                        dated[slot] = kind
    return dated


_PAST_KINDS = frozenset({"past", "past_weeks"})


def _separate(hits: Sequence[Hit]) -> list[Hit]:
    """The hits that do not overlap an earlier one."""
    kept: list[Hit] = []
    for hit in sorted(hits, key=lambda h: (h.start, -h.end)):
        if not kept or hit.start >= kept[-1].end:
            kept.append(hit)
    return kept


def _frame_level(
    frame: Frame,
    present: set[str],
    third_party: set[str],
    negated: set[str],
    modifiers: set[str],
    dated: dict[str, str],
) -> RiskLevel | None:
    missing = [group for group in frame.all if not group & present]
    any_ok = not frame.any or bool(frame.any & present)
    matched_slots = set().union(*(group & present for group in frame.all)) | (frame.any & present)
    half = False
    if not missing and any_ok:
        position = frame.level.rank
    elif (
        frame.half is not None
        and len(missing) + (0 if any_ok else 1) == 1
        # The first group is the frame's core ("ingest", "means", "threat"): half a frame needs it.
        and frame.all[0] & present
    ):
        position, half = frame.half.rank, True
        modifiers.add("half_match")
    else:
        return None
    if frame.unless & present:
        # An everyday context (a cooking class, a doctor's dose) switches off a frame — but not an acute frame matched
        # in full ("my doctor gave me pills and i took all of them"), and not while the text says more than the
        # everyday context explains (a secret time, a decision, a farewell, a symptom…).
        if (not frame.acute or half) and not (present & _BEYOND_EVERYDAY) - matched_slots:
            return None
        modifiers.add("despite_context")
    crisis = bool(matched_slots)
    dates = {dated[slot] for slot in matched_slots if slot in dated}
    if "past" in dates:
        position = min(position, RiskLevel.CONCERN.rank)
        modifiers.add("past")
    elif "past_weeks" in dates:
        position = min(position, RiskLevel.HIGH.rank)
        modifiers.add("past_weeks")
    if "media" in present and matched_slots and matched_slots <= third_party | _NOT_CRISIS:
        # A news story, a film, a book: someone else's crisis, told about — not the texter's, not now.
        return None
    timed = bool(matched_slots & _TIMES)
    if timed:
        modifiers.add("timeframe")
    if frame.self_directed and matched_slots and matched_slots <= third_party | {"time_near", "hold", "position"}:
        modifiers.add("third_party")
        # CRISIS.md: a third party is capped at high unless ingestion, an attempt (acute) or a timeframe.
        if not frame.acute and not timed:
            position = min(position, RiskLevel.HIGH.rank)
    if matched_slots & negated:
        modifiers.add("negated")
        position -= 1
    if present & _DENIALS and frame.id != "state.denied" and not matched_slots & negated:
        # "No intention of …" lowers by one; the question still deserves asking (never below concern).
        modifiers.add("negated")
        position = max(position - 1, min(position, RiskLevel.CONCERN.rank))
    if "joke_strong" in present:
        modifiers.add("hyperbole")
        position -= 2
    elif "joke" in present and not frame.acute:
        modifiers.add("hyperbole")
        position -= 1
    if crisis and (frame.level.rank >= RiskLevel.HIGH.rank or frame.category in _SUICIDE_FAMILY):
        # CRISIS.md: once a suicide-family phrase matched, nothing lowers it below concern.
        position = max(position, RiskLevel.CONCERN.rank)
    return level_at(position)


def _phrases(slot: str, raw: Any, path: Path, language: str = "any") -> Iterable[Phrase]:
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise FramesError(f"{path}: lexicon {slot}: each language must be a list of strings")
    for item in raw:
        words = tuple(normalize(item).split()) if not item.strip().startswith(("#", "...")) else tuple(item.split())
        words = tuple(word for part in words for word in _split_units(part))
        if not words or words[0] == "...":
            raise FramesError(f"{path}: lexicon {slot}: empty phrase or phrase starting with '...': {item!r}")
        yield Phrase(slot, words, item, language)


def _split_units(word: str) -> list[str]:
    if word in {"#", "_", "..."} or word.endswith("*"):
        return [word]
    return _DIGIT_LETTER.sub(" ", word).split() or [word]


def load_frames(folders: Sequence[Path] | None = None) -> FrameBook:
    """Read every ``*.toml`` of the frames folder(s): ``[lexicon.<slot>]`` tables and ``[[frame]]`` tables."""
    import tomllib  # only on the slow path: the bundle (bundle.py) spares a cold start the TOML parser

    book = FrameBook()
    frames: list[Frame] = []
    crisis: set[str] = set()
    remembered: set[str] = set()
    for folder in folders or [FRAMES_DIR]:
        if not folder.exists():
            raise FramesError(f"triage frames folder {folder} does not exist")
        files = [folder] if folder.is_file() else sorted(folder.glob("*.toml"))
        for path in files:
            try:
                document = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as error:
                raise FramesError(f"{path}: {error}") from error
            unknown = set(document) - {"settings", "spelling", "lexicon", "frame", "macros", "rule", "idiom", "cue"}
            if unknown:
                raise FramesError(f"{path}: unknown tables {sorted(unknown)} (frames files hold settings, lexicon, frame)")
            settings = document.get("settings", {})
            crisis.update(settings.get("crisis_slots", []))
            remembered.update(settings.get("context_slots", []))
            book.deniable_slots = book.deniable_slots | frozenset(settings.get("deniable_slots", []))
            book.masking_slots = book.masking_slots | frozenset(settings.get("masking_slots", []))
            for written, meant in (document.get("spelling") or {}).items():
                book.spelling[normalize(written)] = normalize(str(meant)).split()
            book.negators = book.negators | frozenset(settings.get("negators", []))
            book.first_person = book.first_person | frozenset(settings.get("first_person", []))
            book.third_person = book.third_person | frozenset(settings.get("third_person", []))
            for slot, languages in (document.get("lexicon") or {}).items():
                if not isinstance(languages, dict):
                    raise FramesError(f"{path}: lexicon {slot} must be a table of language = [phrases]")
                for language, raw in languages.items():
                    for phrase in _phrases(slot, raw, path, language):
                        book.add(phrase)
            for raw in document.get("frame", []):
                frames.append(_frame(raw, path))
    book.frames = tuple(frames)
    book.vocabulary = frozenset(word for bucket in book.literal.values() for _, words, _ in bucket for word in words)
    _check_slots(book)
    book.crisis_slots = frozenset(crisis)
    book.remembered_slots = frozenset(crisis | remembered)
    return book


# Slots filled by code, not by a lexicon.
COMPUTED_SLOTS = frozenset({"quantity_large", "dose_mg", "third_party"})


def filled_slots(book: FrameBook) -> set[str]:
    """Every slot some lexicon fills, and those filled by code."""
    filled = {slot for bucket in book.literal.values() for slot, _, _ in bucket}
    filled |= {phrase.slot for bucket in book.exact.values() for phrase in bucket}
    filled |= {phrase.slot for bucket in book.prefix.values() for _, phrase in bucket}
    filled |= {phrase.slot for phrase in book.numeric}
    return filled | COMPUTED_SLOTS


def _check_slots(book: FrameBook) -> None:
    """A frame naming a slot no lexicon fills is a typo ("substanse"): refuse it rather than never match."""
    filled = filled_slots(book)
    for frame in book.frames:
        named = {slot for group in frame.all for slot in group} | frame.any | frame.unless
        unknown = sorted(slot for slot in named if slot.removesuffix("*2") not in filled)
        if unknown:
            raise FramesError(f"frame {frame.id}: no lexicon fills the slot(s) {unknown}")


def _groups(value: Any, path: Path, frame_id: str) -> tuple[frozenset[str], ...]:
    if not isinstance(value, list):
        raise FramesError(f"{path}: frame {frame_id}: 'all' must be a list")
    return tuple(frozenset(part.strip() for part in str(group).split("|")) for group in value)


def _frame(raw: dict[str, Any], path: Path) -> Frame:
    frame_id = str(raw.get("id", "?"))
    unknown = set(raw) - {"id", "level", "category", "all", "any", "unless", "acute", "self", "half", "positive", "negative", "description"}
    if unknown:
        raise FramesError(f"{path}: frame {frame_id}: unknown keys {sorted(unknown)}")
    try:
        level = RiskLevel(str(raw["level"]))
        half = RiskLevel(str(raw["half"])) if "half" in raw else None
        return Frame(
            id=frame_id,
            level=level,
            category=str(raw["category"]),
            all=_groups(raw.get("all", []), path, frame_id),
            any=frozenset(raw.get("any", [])),
            unless=frozenset(raw.get("unless", [])),
            acute=bool(raw.get("acute", False)),
            self_directed=bool(raw.get("self", True)),
            half=half,
            positive=tuple(raw.get("positive", [])),
            negative=tuple(raw.get("negative", [])),
        )
    except (KeyError, ValueError) as error:
        raise FramesError(f"{path}: frame {frame_id}: {error}") from error
