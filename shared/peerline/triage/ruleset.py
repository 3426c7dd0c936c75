"""Loading the triage rules: TOML data files that operators can extend without a code change.

A rules folder holds ``*.toml`` files with any of these tables (see ``rules/README.md``):

- ``[macros]``: named regular-expression fragments, used in patterns as ``%NAME%``;
- ``[[rule]]``: a risk rule (id, category, level, language, patterns, positive and negative examples);
- ``[[idiom]]``: phrases masked before the rules run ("this homework is killing me");
- ``[[cue]]``: the words behind the modifiers (negation, past, third party, hyperbole, timeframe, …).

The built-in folder is always loaded; ``PEERLINE_TRIAGE_RULES_DIR`` names an extra folder whose files are added.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from peerline.triage.rule_specs import IdiomSpec, RuleSpec

RULES_DIR_ENV = "PEERLINE_TRIAGE_RULES_DIR"
BUILTIN_RULES_DIR = Path(__file__).with_name("rules")

_MACRO = re.compile(r"%([A-Z][A-Z0-9_]*)%")


class TriageRulesError(ValueError):
    """A rules file is unreadable or a rule in it is invalid; the message names the file and the rule."""


@dataclass(frozen=True)
class Rule:
    """A compiled rule: ``regex`` is every pattern of the rule joined into one alternation."""

    spec: RuleSpec
    regex: re.Pattern[str]
    source: Path

    @property
    def id(self) -> str:
        return self.spec.id


@dataclass(frozen=True)
class RuleSet:
    """Everything the scorer needs, compiled once."""

    rules: tuple[Rule, ...]
    # Each idiom with its expanded pattern (compiled together, once, as ``idiom_regex``).
    idioms: tuple[tuple[IdiomSpec, str], ...]
    cues: dict[str, re.Pattern[str]]
    first_person: frozenset[str]
    third_person: frozenset[str]
    third_reflexive: frozenset[str]
    sources: tuple[Path, ...] = field(default=())
    idiom_regex: re.Pattern[str] | None = None

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


def default_rule_folders() -> list[Path]:
    """The built-in rules folder, then ``$PEERLINE_TRIAGE_RULES_DIR`` if it is set."""
    folders = [BUILTIN_RULES_DIR]
    extra = os.environ.get(RULES_DIR_ENV, "").strip()
    if extra:
        folders.append(Path(extra))
    return folders


def rule_files(paths: Sequence[Path | str] | None = None) -> list[Path]:
    """The TOML files to load: those of :func:`default_rule_folders`, or exactly ``paths`` (folders or files)."""
    folders = default_rule_folders() if paths is None else [Path(path) for path in paths]
    files: list[Path] = []
    for folder in folders:
        if folder.is_file():
            files.append(folder)
        elif folder.is_dir():
            files.extend(sorted(folder.glob("*.toml")))
        else:
            raise TriageRulesError(f"triage rules folder {folder} does not exist")
    return files


def load_rules(paths: Sequence[Path | str] | None = None) -> RuleSet:
    """Read, validate and compile the rules.

    With no ``paths``: the package's ``rules/`` folder, plus the files of the folder named by
    ``PEERLINE_TRIAGE_RULES_DIR`` if it is set (added to the built-in rules, never replacing them).
    A rule id may be defined once only. Raises ``TriageRulesError`` naming the file and rule on any problem.
    """
    # The specs are pydantic models: imported here, so a cold start that loads the bundle never pays for them.
    from peerline.triage.rule_specs import CueSpec, IdiomSpec, RuleSpec, validate

    documents = [(path, _read(path)) for path in rule_files(paths)]
    macros: dict[str, str] = {}
    for path, document in documents:
        for name, value in (document.get("macros") or {}).items():
            if not isinstance(value, str):
                raise TriageRulesError(f"{path}: macro {name} must be a string")
            if name in macros:
                raise TriageRulesError(f"{path}: macro {name} is defined twice")
            macros[name] = value

    rules: list[Rule] = []
    seen: dict[str, Path] = {}
    idioms: list[tuple[IdiomSpec, str]] = []
    cue_patterns: dict[str, list[str]] = {}
    first_person: set[str] = set()
    third_person: set[str] = set()
    third_reflexive: set[str] = set()
    for path, document in documents:
        # A folder may mix phrase rules with frames tables (lexicon, frame, settings: see frames.py).
        unknown = set(document) - {"macros", "rule", "idiom", "cue", "lexicon", "frame", "settings", "spelling"}
        if unknown:
            raise TriageRulesError(
                f"{path}: unknown tables {sorted(unknown)} (expected macros, rule, idiom, cue, lexicon, frame, settings, spelling)"
            )
        for raw in document.get("rule", []):
            spec = validate(RuleSpec, raw, path)
            if spec.id in seen:
                raise TriageRulesError(f"{path}: rule {spec.id} is already defined in {seen[spec.id]}")
            seen[spec.id] = path
            rules.append(Rule(spec, _compile(spec.patterns, macros, path, spec.id), path))
        for raw in document.get("idiom", []):
            idiom = validate(IdiomSpec, raw, path)
            idioms.append((idiom, _join(idiom.patterns, macros, path, idiom.id)))
        for raw in document.get("cue", []):
            cue = validate(CueSpec, raw, path)
            if cue.kind == "first_person":
                first_person.update(word.lower() for word in cue.words)
            elif cue.kind == "third_person":
                third_person.update(word.lower() for word in cue.words)
            elif cue.kind == "third_reflexive":
                third_reflexive.update(word.lower() for word in cue.words)
            else:
                cue_patterns.setdefault(cue.kind, []).extend(cue.patterns)

    # Cues only change how phrase rules score: with no rule (the built-in folder holds none), nothing to compile.
    cues = (
        {kind: _compile(patterns, macros, Path("cues"), kind) for kind, patterns in cue_patterns.items()}
        if rules
        else {}
    )
    idiom_regex = re.compile("|".join(f"(?:{pattern})" for _, pattern in idioms)) if idioms else None
    return RuleSet(
        rules=tuple(rules),
        idioms=tuple(idioms),
        cues=cues,
        first_person=frozenset(first_person),
        third_person=frozenset(third_person),
        third_reflexive=frozenset(third_reflexive),
        sources=tuple(path for path, _ in documents),
        idiom_regex=idiom_regex,
    )


def _read(path: Path) -> dict[str, Any]:
    import tomllib

    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise TriageRulesError(f"{path}: {error}") from error


def expand(pattern: str, macros: dict[str, str], depth: int = 0) -> str:
    """``pattern`` with every ``%NAME%`` replaced by its macro (macros may use other macros)."""
    if depth > 10:
        raise TriageRulesError(f"macros nest too deeply in {pattern!r}")

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in macros:
            raise TriageRulesError(f"unknown macro %{name}% in {pattern!r}")
        return "(?:" + expand(macros[name], macros, depth + 1) + ")"

    return _MACRO.sub(substitute, pattern)


def _join(patterns: Iterable[str], macros: dict[str, str], path: Path, name: str) -> str:
    """The patterns, macros expanded, as one alternation — checked to compile (the bad one is named if not)."""
    expanded = [expand(pattern, macros) for pattern in patterns]
    joined = "|".join(f"(?:{pattern})" for pattern in expanded) or r"(?!x)x"
    try:
        re.compile(joined)
    except re.error as error:
        # Compiling each pattern alone costs as much again: only worth it to name the culprit.
        for pattern, full in zip(patterns, expanded, strict=True):
            try:
                re.compile(full)
            except re.error as own_error:
                raise TriageRulesError(f"{path}: {name}: bad pattern {pattern!r}: {own_error}") from own_error
        raise TriageRulesError(f"{path}: {name}: bad patterns: {error}") from error
    return joined


def _compile(patterns: Iterable[str], macros: dict[str, str], path: Path, name: str) -> re.Pattern[str]:
    # re caches what it compiled in _join, so this second compile is a dictionary lookup.
    return re.compile(_join(patterns, macros, path, name))
