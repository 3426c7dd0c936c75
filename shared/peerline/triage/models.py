"""What the triage scorer says about one text: a risk level, and why."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class RiskLevel(StrEnum):
    """Ordered risk levels (see ``../shared/CRISIS.md``): ``none < concern < high < imminent``."""

    NONE = "none"
    CONCERN = "concern"
    HIGH = "high"
    IMMINENT = "imminent"

    @property
    def rank(self) -> int:
        """0 for ``none`` … 3 for ``imminent``: compare levels with this, never with string order."""
        return _RANKS[self]


_ORDER = (RiskLevel.NONE, RiskLevel.CONCERN, RiskLevel.HIGH, RiskLevel.IMMINENT)
_RANKS = {level: index for index, level in enumerate(_ORDER)}


def rank(level: RiskLevel | str) -> int:
    """The position of ``level`` in the order ``none`` (0) … ``imminent`` (3)."""
    return _RANKS[RiskLevel(level)]


def level_at(position: int) -> RiskLevel:
    """The level at ``position``, clamped to ``none`` … ``imminent``."""
    return _ORDER[max(0, min(position, len(_ORDER) - 1))]


def highest(levels: Iterable[RiskLevel | str]) -> RiskLevel:
    """The highest of ``levels`` (``none`` for none): a conversation's level over its recent messages."""
    best = RiskLevel.NONE
    for level in levels:
        if rank(level) > best.rank:
            best = RiskLevel(level)
    return best


class TriageResult(BaseModel):
    """The scorer's verdict on one text. It never carries the text itself, so it is safe to log and store."""

    model_config = ConfigDict(frozen=True)

    level: RiskLevel
    categories: list[str]
    rules: list[str]
    modifiers: list[str]
    languages: list[str]
    # Frame slots this text filled ("means", "hold", "time_near", …): names only, never words. The engine keeps
    # them on the conversation and passes them back as ``context`` so frames combine across texts.
    signals: list[str] = []
    # The learned second stage's score, present only when it raised the level above the rules'.
    model: float | None = None

    @property
    def escalates(self) -> bool:
        """``high`` or ``imminent``: page the on-call professional."""
        return self.level.rank >= RiskLevel.HIGH.rank
