"""The rule file tables as pydantic models (validated when rule files are read; see ``ruleset.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from peerline.triage.models import RiskLevel
from peerline.triage.ruleset import TriageRulesError

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


_Spec = TypeVar("_Spec", bound=BaseModel)


def validate(model: type[_Spec], raw: Any, path: Path) -> _Spec:
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        name = raw.get("id", "?") if isinstance(raw, dict) else "?"
        raise TriageRulesError(f"{path}: {model.__name__} {name}: {error}") from error
