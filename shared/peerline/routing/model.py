"""Routing's vocabulary: its errors, the repository it reads and writes through, and its settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from peerline.lifecycle import ConversationChange
from peerline.models import ConversationRecord, StoredMessage, TexterRecord, VolunteerRecord, VolunteerStatus

# How often a routing step re-reads and retries after losing a race, before it gives up.
MAX_ATTEMPTS = 5


class RoutingError(Exception):
    """Base of the errors a volunteer's request can meet."""


class NotFoundError(RoutingError):
    """No such conversation, or not one the caller may see (a volunteer can't tell which)."""


class ConflictError(RoutingError):
    """The conversation is not in a state that allows this (already accepted, closed, no longer offered…)."""


class NotEligibleError(RoutingError):
    """The volunteer can't take conversations now (not certified, deactivated, offline, at their cap…)."""


@dataclass(frozen=True)
class MessagePage:
    """Up to a page of a transcript's newest messages (before a point), oldest first, as the volunteer reads them.

    ``older`` is where the next (earlier) page ends: the message key of this page's oldest message when there are
    earlier ones, ``None`` when this page starts the transcript.
    """

    messages: list[StoredMessage]
    older: str | None = None


class RoutingRepository(Protocol):
    def get_conversation(self, conversation_id: str) -> ConversationRecord | None: ...

    def get_volunteer(self, volunteer_id: str) -> VolunteerRecord | None: ...

    def get_texter(self, texter_id: str) -> TexterRecord | None: ...

    def waiting_conversations(self) -> list[ConversationRecord]: ...

    def conversations_held_by(self, volunteer_id: str) -> list[ConversationRecord]: ...

    def open_conversations(self) -> list[ConversationRecord]: ...

    def available_volunteers(self) -> list[VolunteerRecord]: ...

    def set_volunteer_status(self, volunteer_id: str, status: VolunteerStatus) -> VolunteerRecord: ...

    def set_volunteer_settings(self, volunteer_id: str, *, offers_during_crisis: bool) -> VolunteerRecord: ...

    def commit(self, change: ConversationChange) -> None: ...

    def list_messages(self, conversation_id: str) -> list[StoredMessage]: ...

    def message_page(self, conversation_id: str, *, limit: int, before: str | None = None) -> MessagePage: ...

    def delete_messages(self, conversation_id: str) -> int: ...


@dataclass(frozen=True)
class RoutingSettings:
    offer_timeout_seconds: int = 45
    # How long a decline (or an expired offer, or a transfer away) keeps a conversation from that volunteer when
    # nobody else can take it. High/imminent conversations don't wait for it.
    decline_lapse_seconds: int = 120
    inactivity_close_minutes: int = 30
    message_ttl_hours: int = 24
    retention_days: int = 90
