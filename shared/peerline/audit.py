"""The audit log: what someone did to a texter's privacy or to the line's people, kept append-only.

Entries name actors by id (a volunteer id, or ``line`` / ``texter`` for the line's own and a texter's actions),
never by display name, and never carry a number or a texter's words. The store only ever adds entries: no function
is granted an update or a delete on it (checked from the template), and each entry expires only after
``AuditRetentionDays`` — as long as the operator's law wants.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

# Actors that are not volunteers.
LINE_ACTOR = "line"
TEXTER_ACTOR = "texter"


class AuditEntry(BaseModel):
    """One audited action: who (by id), what, to whom (an escalation id, an alias), why, when."""

    model_config = ConfigDict(frozen=True)

    actor_id: str = Field(min_length=1)
    action: str = Field(min_length=1, pattern=r"^[a-z_]+$")
    subject: str = ""
    reason: str = Field(default="", max_length=500)
    at: datetime


class AuditLog(Protocol):
    def append(self, entry: AuditEntry) -> None:
        """Adds an entry; never replaces one."""
        ...

    def entries_by(self, actor_id: str, *, since: datetime) -> list[AuditEntry]:
        """The actor's entries at or after ``since``, oldest first (for rate limits and reviews)."""
        ...
