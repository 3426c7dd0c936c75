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
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from peerline.triage.models import RiskLevel

RULES_DIR_ENV = "PEERLINE_TRIAGE_RULES_DIR"
BUILTIN_RULES_DIR = Path(__file__).with_name("rules")

CueKind = Literal[
    "negation",
    "pseudo_negation",
    "hyperbole",
    "medical",
    "timeframe",
    "plan",
    "recent_past",
    "past_weeks",
    "past",
    "clause_break",
]
PersonKind = Literal["first_person", "third_person", "third_reflexive"]
Escalator = Literal["timeframe", "plan", "recent_past"]

_MACRO = re.compile(r"%([A-Z][A-Z0-9_]*)%")
_Spec = TypeVar("_Spec", bound=BaseModel)


class TriageRulesError(ValueError):
    """A rules file is unreadable or a rule in it is invalid; the message names the file and the rule."""


class RuleSpec(BaseModel):
    """One ``[[rule]]`` table as written in a rules file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z]{2,3}\.[a-z_]+\.[a-z0-9_]+$")
    category: str = Field(pattern=r"^[a-z_]+$")
    level: RiskLevel
    language: str = Field(pattern=r"^(any|[a-z]{2})$")
    patterns: list[str] = Field(min_length=1)
    positive: list[str] = Field(min_length=1)
    negative: list[str] = Field(default_factory=list)
    # Method, means, ingestion, attempt, farewell, danger right now: hyperbole does not lower it, and a third party
    # keeps its full level (CRISIS.md: "capped at high unless ingestion, attempt or timeframe").
    acute: bool = False
    # Modifiers that raise a match of this rule to imminent (intent with a near timeframe or a plan; an attempt or
    # ingestion in the recent past).
    escalate_on: list[Escalator] = Field(default_factory=list)
    # Dosage talk ("my doctor said 800mg for my knee") switches the rule off.
    medical_suppress: bool = False
    description: str = ""

    @field_validator("level", mode="before")
    @classmethod
    def _known_level(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


class IdiomSpec(BaseModel):
    """One ``[[idiom]]`` table: text masked before the rules run, with texts it must leave at ``none``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z]{2,3}\.idiom\.[a-z0-9_]+$")
    language: str = Field(pattern=r"^(any|[a-z]{2})$")
    patterns: list[str] = Field(min_length=1)
    examples: list[str] = Field(min_length=1)


class CueSpec(BaseModel):
    """One ``[[cue]]`` table: the patterns (or words, for person cues) behind one modifier."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: CueKind | PersonKind
    language: str = Field(pattern=r"^(any|[a-z]{2})$")
    patterns: list[str] = Field(default_factory=list)
    words: list[str] = Field(default_factory=list)


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
    idioms: tuple[tuple[IdiomSpec, re.Pattern[str]], ...]
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
    idioms: list[tuple[IdiomSpec, re.Pattern[str]]] = []
    cue_patterns: dict[str, list[str]] = {}
    first_person: set[str] = set()
    third_person: set[str] = set()
    third_reflexive: set[str] = set()
    for path, document in documents:
        unknown = set(document) - {"macros", "rule", "idiom", "cue"}
        if unknown:
            raise TriageRulesError(f"{path}: unknown tables {sorted(unknown)} (expected macros, rule, idiom, cue)")
        for raw in document.get("rule", []):
            spec = _validate(RuleSpec, raw, path)
            if spec.id in seen:
                raise TriageRulesError(f"{path}: rule {spec.id} is already defined in {seen[spec.id]}")
            seen[spec.id] = path
            rules.append(Rule(spec, _compile(spec.patterns, macros, path, spec.id), path))
        for raw in document.get("idiom", []):
            idiom = _validate(IdiomSpec, raw, path)
            idioms.append((idiom, _compile(idiom.patterns, macros, path, idiom.id)))
        for raw in document.get("cue", []):
            cue = _validate(CueSpec, raw, path)
            if cue.kind == "first_person":
                first_person.update(word.lower() for word in cue.words)
            elif cue.kind == "third_person":
                third_person.update(word.lower() for word in cue.words)
            elif cue.kind == "third_reflexive":
                third_reflexive.update(word.lower() for word in cue.words)
            else:
                cue_patterns.setdefault(cue.kind, []).extend(cue.patterns)

    cues = {kind: _compile(patterns, macros, Path("cues"), kind) for kind, patterns in cue_patterns.items()}
    idiom_regex = _compile([p for idiom, _ in idioms for p in idiom.patterns], macros, Path("idioms"), "idioms")
    return RuleSet(
        rules=tuple(rules),
        idioms=tuple(idioms),
        cues=cues,
        first_person=frozenset(first_person),
        third_person=frozenset(third_person),
        third_reflexive=frozenset(third_reflexive),
        sources=tuple(path for path, _ in documents),
        idiom_regex=idiom_regex if idioms else None,
    )


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise TriageRulesError(f"{path}: {error}") from error


def _validate(model: type[_Spec], raw: Any, path: Path) -> _Spec:
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        name = raw.get("id", "?") if isinstance(raw, dict) else "?"
        raise TriageRulesError(f"{path}: {model.__name__} {name}: {error}") from error


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


def _compile(patterns: Iterable[str], macros: dict[str, str], path: Path, name: str) -> re.Pattern[str]:
    alternatives = []
    for pattern in patterns:
        expanded = expand(pattern, macros)
        try:
            re.compile(expanded)
        except re.error as error:
            raise TriageRulesError(f"{path}: {name}: bad pattern {pattern!r}: {error}") from error
        alternatives.append(f"(?:{expanded})")
    return re.compile("|".join(alternatives) or r"(?!x)x")
