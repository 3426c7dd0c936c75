"""The audit log in memory: append-only, like the DynamoDB one."""

from __future__ import annotations

from datetime import datetime

from peerline.audit import AuditEntry


class InMemoryAuditLog:
    """Keeps every entry appended, in order; there is no way to change or remove one."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def append(self, entry: AuditEntry) -> None:
        self.entries.append(entry)

    def entries_by(self, actor_id: str, *, since: datetime) -> list[AuditEntry]:
        return [entry for entry in self.entries if entry.actor_id == actor_id and entry.at >= since]
