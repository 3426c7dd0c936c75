"""In-memory fakes for routing: the ``RoutingRepository`` on dicts, and a router wired to it.

The repository checks exactly the conditions ``DynamoConversationStore.commit`` puts in its transaction, so
a router bug that those conditions would catch in DynamoDB is caught here too, and one they would miss is missed here
too. A re-entrant lock makes every read and every commit atomic, like DynamoDB's serialisable transactions, so the
fake can be shared by threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from peerline.language import Language
from peerline.lifecycle import HELD_STATES, ConversationChange
from peerline.models import (
    OPEN_STATES,
    Consent,
    ConversationRecord,
    ConversationState,
    Role,
    StoredMessage,
    TexterRecord,
    VolunteerRecord,
    VolunteerStatus,
)
from peerline.risk import RiskLevel
from peerline.routing import MessagePage, NotEligibleError

from .fakes import (
    START,
    InMemoryConversationRepository,
)


class InMemoryRoutingRepository(InMemoryConversationRepository):
    """The ``RoutingRepository`` protocol (and the engine's ``ConversationRepository``) on dicts."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.RLock()
        self._before_next_commit: list[Callable[[], object]] = []

    # -- test controls
    def before_next_commit(self, action: Callable[[], object]) -> None:
        """Run ``action`` (another worker's move) just before the next ``commit`` checks its conditions.

        That is the window between a router's read and its conditional write, where races happen.
        """
        self._before_next_commit.append(action)

    def add_volunteer(self, volunteer: VolunteerRecord) -> VolunteerRecord:
        with self._lock:
            self.volunteers[volunteer.volunteer_id] = volunteer.model_dump(mode="json")
        return volunteer

    def add_texter(self, texter: TexterRecord) -> TexterRecord:
        with self._lock:
            self.texters[texter.texter_id] = texter.model_dump(mode="json")
        return texter

    def add_conversation(self, conversation: ConversationRecord) -> ConversationRecord:
        with self._lock:
            self.conversations[conversation.conversation_id] = conversation.model_dump(mode="json")
        return conversation

    def add_message(self, message: StoredMessage) -> StoredMessage:
        with self._lock:
            self.messages.setdefault(message.conversation_id, {})[message.message_key] = message.model_dump(mode="json")
        return message

    def all_conversations(self) -> list[ConversationRecord]:
        with self._lock:
            return [ConversationRecord.model_validate(item) for item in self.conversations.values()]

    def all_volunteers(self) -> list[VolunteerRecord]:
        with self._lock:
            return [VolunteerRecord.model_validate(item) for item in self.volunteers.values()]

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold every writer off while a test reads a consistent snapshot."""
        with self._lock:
            yield

    # -- reads
    def get_texter(self, texter_id: str) -> TexterRecord | None:
        with self._lock:
            return super().get_texter(texter_id)

    def get_conversation(self, conversation_id: str) -> ConversationRecord | None:
        with self._lock:
            return super().get_conversation(conversation_id)

    def get_volunteer(self, volunteer_id: str) -> VolunteerRecord | None:
        with self._lock:
            item = self.volunteers.get(volunteer_id)
            return VolunteerRecord.model_validate(item) if item else None

    def waiting_conversations(self) -> list[ConversationRecord]:
        return [c for c in self.all_conversations() if c.state is ConversationState.WAITING]

    def conversations_held_by(self, volunteer_id: str) -> list[ConversationRecord]:
        return [c for c in self.all_conversations() if c.state in HELD_STATES and c.volunteer_id == volunteer_id]

    def open_conversations(self) -> list[ConversationRecord]:
        return [c for c in self.all_conversations() if c.state in OPEN_STATES]

    def available_volunteers(self) -> list[VolunteerRecord]:
        return [v for v in self.all_volunteers() if v.status is VolunteerStatus.AVAILABLE]

    def list_messages(self, conversation_id: str) -> list[StoredMessage]:  # type: ignore[override]
        with self._lock:
            return [StoredMessage.model_validate(item) for item in self.messages.get(conversation_id, {}).values()]

    def message_page(self, conversation_id: str, *, limit: int, before: str | None = None) -> MessagePage:
        earlier = sorted(
            (m for m in self.list_messages(conversation_id) if before is None or m.message_key < before),
            key=lambda message: message.message_key,
        )
        page = earlier[-limit:]
        return MessagePage(messages=page, older=page[0].message_key if len(earlier) > limit else None)

    # -- writes
    def set_volunteer_status(self, volunteer_id: str, status: VolunteerStatus) -> VolunteerRecord:
        with self._lock:
            item = self.volunteers.get(volunteer_id)
            # As in DynamoDB: a deactivated volunteer can't make themselves available again.
            if item is None or not item["active"]:
                raise NotEligibleError("deactivated or not registered")
            self.volunteers[volunteer_id] = {**item, "status": status.value, "version": item["version"] + 1}
            return VolunteerRecord.model_validate(self.volunteers[volunteer_id])

    def set_volunteer_settings(self, volunteer_id: str, *, offers_during_crisis: bool) -> VolunteerRecord:
        with self._lock:
            item = self.volunteers.get(volunteer_id)
            if item is None:
                raise NotEligibleError("not registered")
            self.volunteers[volunteer_id] = {
                **item,
                "offers_during_crisis": offers_during_crisis,
                "version": item["version"] + 1,
            }
            return VolunteerRecord.model_validate(self.volunteers[volunteer_id])

    def delete_messages(self, conversation_id: str) -> int:
        with self._lock:
            return super().delete_messages(conversation_id)

    def commit(self, change: ConversationChange) -> None:
        """The one commit (see ``InMemoryConversationRepository.commit``), after any scheduled "other worker"."""
        while self._before_next_commit:
            self._before_next_commit.pop(0)()
        with self._lock:
            super().commit(change)


# ---------------------------------------------------------------- builders
def make_volunteer(volunteer_id: str, **overrides: Any) -> VolunteerRecord:
    """A certified, available, English-speaking volunteer with the default cap of 2, never assigned."""
    values: dict[str, Any] = {
        "volunteer_id": volunteer_id,
        "username": f"{volunteer_id}@example.org",
        "display_name": f"Peer {volunteer_id.title()}",
        "roles": [Role.VOLUNTEER],
        "certified_until": START.date() + timedelta(days=365),
        "languages": [Language.ENGLISH],
        "status": VolunteerStatus.AVAILABLE,
    }
    values.update(overrides)
    return VolunteerRecord(**values)


def make_texter(texter_id: str, *, conversation_id: str | None = None, now: datetime = START) -> TexterRecord:
    return TexterRecord(
        texter_id=texter_id,
        encrypted_number=f"kms:{texter_id}",
        open_conversation_id=conversation_id,
        first_seen_at=now,
        last_seen_at=now,
        expires_at=int((now + timedelta(days=90)).timestamp()),
    )


def make_waiting(conversation_id: str, *, waiting_since: datetime = START, **overrides: Any) -> ConversationRecord:
    """A waiting conversation (texter id ``t-<conversation id>``) that has waited since ``waiting_since``."""
    values: dict[str, Any] = {
        "conversation_id": conversation_id,
        "texter_id": f"t-{conversation_id}",
        "state": ConversationState.WAITING,
        "version": 3,
        "consent": Consent.GIVEN,
        "priority": RiskLevel.NONE,
        "created_at": waiting_since - timedelta(minutes=1),
        "waiting_since": waiting_since,
        "expires_at": int((waiting_since + timedelta(hours=24)).timestamp()),
    }
    values.update(overrides)
    return ConversationRecord(**values)
