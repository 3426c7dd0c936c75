"""What the domain needs from the outside world, shared by the engine, the router and escalation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from peerline.models import ConversationTimer, OutboundText


class ConcurrentUpdateError(Exception):
    """Someone else changed the texter or conversation first; decide again on the fresh state."""


class OutboundQueue(Protocol):
    def enqueue(self, texts: Sequence[OutboundText]) -> None: ...


class TimerQueue(Protocol):
    def schedule(self, timers: Sequence[ConversationTimer]) -> None: ...


def utc_now() -> datetime:
    return datetime.now(UTC)
