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
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from peerline.language import Language
from peerline.lifecycle import ConversationChange
from peerline.models import (
    OPEN_STATES,
    Consent,
    ConversationRecord,
    ConversationState,
    ConversationTimer,
    Role,
    StoredMessage,
    TexterRecord,
    TimerKind,
    VolunteerRecord,
    VolunteerStatus,
)
from peerline.replies import ReplyBook
from peerline.risk import RiskLevel
from peerline.routing import NotEligibleError, Router, RoutingSettings

from .fakes import (
    EMERGENCY,
    EMERGENCY_ES,
    START,
    FakeClock,
    InMemoryConversationRepository,
    RecordingOutboundQueue,
    RecordingTimerQueue,
)

HELD_STATES = frozenset({ConversationState.OFFERED, ConversationState.ACTIVE})
REPLIES = ReplyBook(emergency_resources=EMERGENCY, emergency_resources_es=EMERGENCY_ES)


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


@dataclass
class RoutingWorld:
    """A router wired to fakes, with helpers to set the scene."""

    repository: InMemoryRoutingRepository = field(default_factory=InMemoryRoutingRepository)
    outbound: RecordingOutboundQueue = field(default_factory=RecordingOutboundQueue)
    timers: RecordingTimerQueue = field(default_factory=RecordingTimerQueue)
    clock: FakeClock = field(default_factory=FakeClock)
    settings: RoutingSettings = field(default_factory=RoutingSettings)

    def __post_init__(self) -> None:
        self.router = Router(self.repository, self.outbound, self.timers, REPLIES, self.settings, clock=self.clock)

    # -- setting the scene
    def volunteer(self, volunteer_id: str, **overrides: Any) -> VolunteerRecord:
        return self.repository.add_volunteer(make_volunteer(volunteer_id, **overrides))

    def waiting(self, conversation_id: str, *, waited_seconds: float = 0, **overrides: Any) -> ConversationRecord:
        """A texter waiting for a volunteer (since ``waited_seconds`` ago), with their texter record."""
        conversation = make_waiting(
            conversation_id, waiting_since=self.clock() - timedelta(seconds=waited_seconds), **overrides
        )
        self.repository.add_texter(make_texter(conversation.texter_id, conversation_id=conversation_id))
        return self.repository.add_conversation(conversation)

    def inbound(self, conversation_id: str, body: str) -> StoredMessage:
        now = self.clock()
        return self.repository.add_message(
            StoredMessage(
                conversation_id=conversation_id,
                message_key=f"{now.isoformat()}#SM{len(self.repository.messages_of(conversation_id))}",
                message_id=f"SM{len(self.repository.messages_of(conversation_id))}",
                direction="inbound",
                body=body,
                at=now,
                expires_at=int((now + timedelta(hours=24)).timestamp()),
            )
        )

    def offered(self, conversation_id: str, to: str) -> ConversationRecord:
        """The conversation, offered to ``to`` (who must be its only eligible volunteer right now)."""
        self.router.route_waiting()
        conversation = self.conversation(conversation_id)
        assert conversation.state is ConversationState.OFFERED and conversation.volunteer_id == to
        return conversation

    def active(self, conversation_id: str, with_: str) -> ConversationRecord:
        self.offered(conversation_id, with_)
        return self.router.accept(with_, conversation_id)

    # -- looking at the world
    def conversation(self, conversation_id: str) -> ConversationRecord:
        conversation = self.repository.get_conversation(conversation_id)
        assert conversation is not None
        return conversation

    def load(self, volunteer_id: str) -> int:
        volunteer = self.repository.get_volunteer(volunteer_id)
        assert volunteer is not None
        return volunteer.load

    def record(self, volunteer_id: str) -> VolunteerRecord:
        volunteer = self.repository.get_volunteer(volunteer_id)
        assert volunteer is not None
        return volunteer

    def offer_timers(self, conversation_id: str | None = None) -> list[ConversationTimer]:
        return [
            timer
            for timer in self.timers.of_kind(TimerKind.OFFER_EXPIRY)
            if conversation_id is None or timer.conversation_id == conversation_id
        ]

    def texts_to(self, conversation_id: str) -> list[str]:
        return [text.body for text in self.outbound.texts if text.recipient_id == f"t-{conversation_id}"]

    def today(self) -> date:
        return self.clock().date()
