"""A wrap-up's outcome and tags, chosen from the lists the operator configured (the template's SessionOutcomes and
SessionTags): free text could carry a texter's words, a name or a number into metadata kept for RetentionDays."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# One choice: a short lowercase word or hyphenated phrase ("self-harm"), as the template's AllowedPattern says.
CHOICE = r"[a-z0-9][a-z0-9_-]{0,39}"
# A comma-separated list of at most 50 choices (the settings and the template's parameters use this).
CHOICE_LIST = rf"^{CHOICE}(,{CHOICE}){{0,49}}$"

DEFAULT_OUTCOMES = "supported,referred,escalated,disconnected,other"
DEFAULT_TAGS = (
    "anxiety,depression,loneliness,relationships,family,school,work,grief,self-harm,suicidal-thoughts,abuse,"
    "substance-use,identity,health,other"
)


class UnknownChoiceError(Exception):
    """An outcome or tag that isn't on the line's lists."""


@dataclass(frozen=True)
class WrapUpChoices:
    """The outcomes and tags a volunteer may choose from when closing a conversation."""

    outcomes: tuple[str, ...]
    tags: tuple[str, ...]

    @classmethod
    def parse(cls, outcomes: str = DEFAULT_OUTCOMES, tags: str = DEFAULT_TAGS) -> WrapUpChoices:
        """From the comma-separated lists of the configuration (already checked against ``CHOICE_LIST``)."""
        return cls(outcomes=tuple(outcomes.split(",")), tags=tuple(tags.split(",")))

    def check(self, outcome: str, tags: Sequence[str]) -> list[str]:
        """The tags, once each in the order given; ``UnknownChoiceError`` for anything not on the lists."""
        if outcome not in self.outcomes:
            raise UnknownChoiceError(f"the outcome must be one of: {', '.join(self.outcomes)}")
        unknown = [tag for tag in tags if tag not in self.tags]
        if unknown:
            raise UnknownChoiceError(
                f"{len(unknown)} tag(s) not on the line's list: choose from {', '.join(self.tags)}"
            )
        return list(dict.fromkeys(tags))
