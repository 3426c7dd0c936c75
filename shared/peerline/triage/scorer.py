"""The crisis triage scorer (see CRISIS.md): one text, in this order —

1. normalise, and mask idioms ("this homework is killing me": ``rules/idioms.toml``);
2. frames (``frames.py``): slots from lexicons, situations from frames, with the texter's recent signals as context;
3. phrase rules, if an operator added any (``[[rule]]`` tables in ``$PEERLINE_TRIAGE_RULES_DIR``), each match
   adjusted by its modifiers:
   past history → at most ``concern`` (weeks ago → at most ``high``); a rule's ``escalate_on`` modifiers raise it to
   ``imminent``; a third party → at most ``high`` unless acute or escalated; negation, else hyperbole, one level down
   (hyperbole never lowers an acute rule); a suicide-family phrase never ends below ``concern``;
4. the learned stage (``model.py``) may raise the result to ``high`` or ``concern``, never lower it.
The level is the highest of frames and phrase rules (a denial or joke read by the frames lowers a phrase match too).
"""

from __future__ import annotations

import bisect
import functools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from peerline.triage.frames import FRAMES_DIR, FrameBook, assess, load_frames
from peerline.triage.model import TriageModel, load_model
from peerline.triage.models import RiskLevel, TriageResult, level_at
from peerline.triage.normalize import normalize
from peerline.triage.ruleset import RULES_DIR_ENV, Rule, RuleSet, load_rules

# Categories where a matched phrase keeps the text at concern or above, whatever lowers it.
SUICIDE_FAMILY = frozenset({"suicide", "self_harm", "overdose_ingestion", "farewell"})

_WORD = re.compile(r"[a-z0-9]+")
# Ends a sentence (past and recency markers stay within it).
_SENTENCE_BREAK = re.compile(r"[.!?;\n]+|\b(?:but|pero|though|however|although|aunque|sino)\b")
# Ends a phrase (negation and pronouns look back only this far).
_PHRASE_BREAK = re.compile(r"[.!?;\n,:]+|\b(?:but|pero|and|y|so|because|cause|cuz|coz|porque|then|entonces|luego)\b")
_NEGATION_REACH = 40  # characters: about five words before the phrase

_NONE = TriageResult(level=RiskLevel.NONE, categories=[], rules=[], modifiers=[], languages=[])


@dataclass
class _Text:
    """One message, normalised and masked, with its cue positions computed on first use."""

    masked: str
    ruleset: RuleSet

    @functools.cached_property
    def sentence_breaks(self) -> list[int]:
        return _break_positions(_SENTENCE_BREAK, self.masked)

    @functools.cached_property
    def phrase_breaks(self) -> list[int]:
        return _break_positions(_PHRASE_BREAK, self.masked)

    @functools.cached_property
    def negation_spans(self) -> list[tuple[int, int]]:
        negation = self.ruleset.cues.get("negation")
        if negation is None:
            return []
        text = self.masked
        pseudo = self.ruleset.cues.get("pseudo_negation")
        if pseudo is not None:
            # "No one cares", "not gonna lie", "can't stop": negation words that do not negate.
            text = pseudo.sub(lambda match: " " * len(match.group()), text)
        return [match.span() for match in negation.finditer(text)]

    def cue_spans(self, kind: str) -> list[tuple[int, int]]:
        spans = self._spans.get(kind)
        if spans is None:
            spans = self._spans[kind] = self._find(kind)
        return spans

    def has_cue(self, kind: str) -> bool:
        return bool(self.cue_spans(kind))

    @functools.cached_property
    def _spans(self) -> dict[str, list[tuple[int, int]]]:
        return {}

    def _find(self, kind: str) -> list[tuple[int, int]]:
        cue = self.ruleset.cues.get(kind)
        return [match.span() for match in cue.finditer(self.masked)] if cue is not None else []

    def sentence(self, position: int) -> tuple[int, int]:
        return _enclosing(self.sentence_breaks, position, len(self.masked))

    def phrase_start(self, position: int) -> int:
        return _enclosing(self.phrase_breaks, position, len(self.masked))[0]


def _break_positions(pattern: re.Pattern[str], text: str) -> list[int]:
    positions: list[int] = []
    for match in pattern.finditer(text):
        positions.extend(match.span())
    return positions


def _enclosing(breaks: list[int], position: int, length: int) -> tuple[int, int]:
    # breaks holds (start, end) pairs flattened: the span between one break's end and the next one's start.
    index = bisect.bisect_right(breaks, position)
    start = breaks[index - 1] if index > 0 else 0
    end = breaks[index] if index < len(breaks) else length
    return start, end


def _within(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(span_start >= start and span_end <= end for span_start, span_end in spans)


def _is_third_party(text: _Text, match: re.Match[str]) -> bool:
    ruleset = text.ruleset
    inside = _WORD.findall(match.group())
    if any(word in ruleset.third_reflexive for word in inside):
        return True
    if any(word in ruleset.first_person for word in inside):
        return False
    # Otherwise the nearest person named before the match in its sentence is the subject.
    sentence_start, _ = text.sentence(match.start())
    for word in reversed(_WORD.findall(text.masked[sentence_start : match.start()])):
        if word in ruleset.first_person:
            return False
        if word in ruleset.third_person:
            return True
    return False


def _score_match(rule: Rule, match: re.Match[str], text: _Text, modifiers: set[str]) -> RiskLevel:
    spec = rule.spec
    position = spec.level.rank
    sentence_start, sentence_end = text.sentence(match.start())

    past = None
    for kind in ("recent_past", "past_weeks", "past"):
        if _within(text.cue_spans(kind), sentence_start, sentence_end):
            past = kind
            break
    escalated = False
    if past == "past":
        position = min(position, RiskLevel.CONCERN.rank)
    elif past == "past_weeks":
        position = min(position, RiskLevel.HIGH.rank)
    else:
        for trigger in spec.escalate_on:
            if (trigger == "recent_past" and past == "recent_past") or (
                trigger != "recent_past" and text.has_cue(trigger)
            ):
                position, escalated = RiskLevel.IMMINENT.rank, True
                modifiers.add(trigger)
    if past is not None:
        modifiers.add(past)

    if _is_third_party(text, match):
        modifiers.add("third_party")
        if not spec.acute and not escalated:
            position = min(position, RiskLevel.HIGH.rank)

    window_start = max(text.phrase_start(match.start()), match.start() - _NEGATION_REACH)
    if _within(text.negation_spans, window_start, match.start()):
        modifiers.add("negated")
        position -= 1
    elif not spec.acute and text.has_cue("hyperbole"):
        modifiers.add("hyperbole")
        position -= 1

    if spec.category in SUICIDE_FAMILY:
        position = max(position, RiskLevel.CONCERN.rank)
    return level_at(position)


def score(text: str, ruleset: RuleSet, book: FrameBook | None = None, context: Sequence[str] = ()) -> TriageResult:
    """Triage ``text`` with ``ruleset`` and the frames of ``book`` (see :func:`triage`)."""
    normalised = normalize(text)
    masked = _mask_idioms(normalised, ruleset)
    phrases = score_phrases(normalised, ruleset, masked)
    if book is None:
        return phrases
    frames = assess(book, masked, context, normalised=True)
    if frames.level is RiskLevel.NONE and not frames.signals and not frames.modifiers:
        return phrases.model_copy(update={"modifiers": ["idiom"]}) if masked != normalised else phrases
    phrase_level = phrases.level
    if phrase_level.rank > RiskLevel.CONCERN.rank:
        # A denial read at the frame level ("no intention of hurting myself") lowers a phrase match by one, an
        # explicit joke ("jk", "i'd rather … than") by two; the question still deserves asking (concern).
        lowered = 2 if "joking" in frames.modifiers else 1 if "negated" in frames.modifiers else 0
        phrase_level = level_at(max(phrase_level.rank - lowered, RiskLevel.CONCERN.rank))
    level = phrase_level if phrase_level.rank >= frames.level.rank else frames.level
    frame_ids = frames.frames if frames.level is not RiskLevel.NONE else []
    return TriageResult(
        level=level,
        categories=list(dict.fromkeys([*phrases.categories, *frames.categories])),
        rules=[*phrases.rules, *frame_ids],
        modifiers=sorted({*phrases.modifiers, *frames.modifiers, *(["idiom"] if masked != normalised else [])}),
        languages=sorted({*phrases.languages, *frames.languages}),
        signals=frames.signals,
    )


def _mask_idioms(normalised: str, ruleset: RuleSet) -> str:
    if ruleset.idiom_regex is None:
        return normalised
    return ruleset.idiom_regex.sub(lambda match: " " * len(match.group()), normalised)


def score_phrases(normalised: str, ruleset: RuleSet, masked: str) -> TriageResult:
    """The phrase rules alone (an operator's ``[[rule]]`` tables), on normalised text and the same text with idioms
    masked. The built-in folder holds no phrase rule any more (frames replaced them), only idioms and cues."""
    if not normalised or not ruleset.rules:
        return _NONE
    modifiers: set[str] = set()
    if masked != normalised:
        modifiers.add("idiom")

    context = _Text(masked, ruleset)
    best: dict[str, RiskLevel] = {}
    for rule in ruleset.rules:
        for match in rule.regex.finditer(masked):
            if not match.group().strip():
                continue
            if rule.spec.medical_suppress and context.has_cue("medical"):
                modifiers.add("medical")
                break
            level = _score_match(rule, match, context, modifiers)
            if rule.id not in best or level.rank > best[rule.id].rank:
                best[rule.id] = level

    if not best:
        return _NONE.model_copy(update={"modifiers": sorted(modifiers)}) if modifiers else _NONE
    by_id = {rule.id: rule for rule in ruleset.rules if rule.id in best}
    ordered = sorted(best, key=lambda rule_id: (-best[rule_id].rank, rule_id))
    categories: dict[str, int] = {}
    for rule_id in ordered:
        if best[rule_id] is not RiskLevel.NONE:
            category = by_id[rule_id].spec.category
            categories.setdefault(category, best[rule_id].rank)
    languages = sorted({by_id[rule_id].spec.language for rule_id in ordered} - {"any"})
    return TriageResult(
        level=max(best.values(), key=lambda level: level.rank),
        categories=list(categories),
        rules=ordered,
        modifiers=sorted(modifiers),
        languages=languages,
    )


@functools.lru_cache(maxsize=4)
def _rules_for(extra_dir: str) -> RuleSet:
    return load_rules()


@functools.lru_cache(maxsize=4)
def _frames_for(extra_dir: str) -> FrameBook:
    return load_frames([FRAMES_DIR, Path(extra_dir)] if extra_dir else [FRAMES_DIR])


@functools.cache
def _builtin() -> tuple[FrameBook, RuleSet] | None:
    from peerline.triage import bundle

    return bundle.load()


def _extra_dir() -> str:
    return os.environ.get(RULES_DIR_ENV, "").strip()


def default_rules() -> RuleSet:
    """The built-in idioms plus ``$PEERLINE_TRIAGE_RULES_DIR``'s phrase rules, loaded once per value of that variable.

    With no extra folder, from the pre-parsed bundle (``builtin.json``) while it matches the TOML.
    """
    extra = _extra_dir()
    if not extra and (builtin := _builtin()) is not None:
        return builtin[1]
    return _rules_for(extra)


def default_frames() -> FrameBook:
    """The built-in frames plus ``$PEERLINE_TRIAGE_RULES_DIR``'s lexicon and frame tables, loaded once."""
    extra = _extra_dir()
    if not extra and (builtin := _builtin()) is not None:
        return builtin[0]
    return _frames_for(extra)


def triage(
    text: str,
    rules: RuleSet | None = None,
    *,
    context: Sequence[str] = (),
    use_model: bool = True,
    frames: FrameBook | None = None,
) -> TriageResult:
    """Score one inbound text: its risk level, the categories and rule ids that fired, and the modifiers.

    ``context`` holds the frame signals of the texter's recent texts (``TriageResult.signals`` of earlier results,
    as kept on the conversation): frames combine across texts, so "i have the pills" then "tonight" is imminent.
    The learned second stage (``model.py``) may then raise the level, never lower it; when it did, ``model`` holds
    its score. Uses the default rules (loaded once, then cached) unless ``rules`` is given. Pure and fast: no I/O
    after the first call, no network. The result never contains the text.
    """
    result = score(
        text,
        rules if rules is not None else default_rules(),
        frames if frames is not None else default_frames(),
        context,
    )
    model = default_model() if use_model else None
    return raise_by_model(result, text, model) if model is not None else result


_MODEL_SILENCED = frozenset({"everyday_context", "idiom", "negated", "joking", "hyperbole"})


def raise_by_model(result: TriageResult, text: str, model: TriageModel) -> TriageResult:
    """The rules' result, raised to ``high`` (or ``concern``) when the model's score clears its threshold."""
    if result.level.rank >= RiskLevel.HIGH.rank:
        return result
    if _MODEL_SILENCED & set(result.modifiers):
        # The model sees words, not context: where the frames read a cooking class, a doctor's dose, an idiom or a
        # denial, its score on the same words says nothing more.
        return result
    scores = model.scores(text)
    level = model.floor(scores)
    if level.rank <= result.level.rank:
        return result
    score_ = scores.escalate if level is RiskLevel.HIGH else scores.flag
    return result.model_copy(
        update={"level": level, "model": round(score_, 3), "modifiers": sorted({*result.modifiers, "model"})}
    )


@functools.cache
def default_model() -> TriageModel | None:
    """The shipped model (``model/triage-model.bin``), loaded once; None when the file is absent."""
    return load_model()
