"""What the triage scorer says about one text: a risk level, and why."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

# The one risk scale lives in ``peerline.risk``; triage grades texts on it.
from peerline.risk import RiskLevel, highest, level_at, rank

__all__ = ["RiskLevel", "TriageResult", "highest", "level_at", "rank"]


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
