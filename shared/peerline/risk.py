"""The one risk scale: ``none < concern < high < imminent`` (see ``../shared/CRISIS.md``).

Triage grades a text on it, a conversation's level and queue priority are on it, an escalation's level is on it.
Compare levels by ``rank`` (never by string order), and nowhere else keep a table of ranks.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

# Every this many seconds of waiting counts as one level more in the queue (never up to imminent: see ``urgency``).
AGING_SECONDS_PER_LEVEL = 600.0


class RiskLevel(StrEnum):
    """Ordered risk levels: ``none`` (0) … ``imminent`` (3)."""

    NONE = "none"
    CONCERN = "concern"
    HIGH = "high"
    IMMINENT = "imminent"

    @property
    def rank(self) -> int:
        """0 for ``none`` … 3 for ``imminent``: compare levels with this, never with string order."""
        return _RANKS[self]

    @property
    def escalates(self) -> bool:
        """``high`` and ``imminent`` page on-call and text the safety text."""
        return self.rank >= _RANKS[RiskLevel.HIGH]

    def at_least(self, floor: RiskLevel | str) -> bool:
        return self.rank >= rank(floor)

    def urgency(self, waited_seconds: float) -> float:
        """A waiting conversation's place in the queue: its level, aged by waiting time — never above ``imminent``
        unless it is imminent, so a long wait can't overtake a life in danger."""
        aged = self.rank + max(0.0, waited_seconds) / AGING_SECONDS_PER_LEVEL
        return aged if self is RiskLevel.IMMINENT else min(aged, _RANKS[RiskLevel.IMMINENT] - 0.01)


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
