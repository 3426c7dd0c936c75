"""In-memory fakes for crisis escalation: the escalation store, the on-call rota, the paging topic, a stub triage,
and repositories that create an escalation in the same atomic change as the conversation update that triggered it.

The stores keep JSON-ready dicts (what DynamoDB would hold) and check exactly the conditions the DynamoDB adapters
put on their writes: ``version = :expected`` on a replace, ``attribute_not_exists(escalation_id)`` on a create.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from peerline.conversation import ConcurrentUpdateError
from peerline.escalation import PageTarget
from peerline.models import EscalationRecord, EscalationStatus, Notification, OutboundText
from peerline.number_context import oncall_number
from peerline.phone import texter_id_for

from .fakes import (
    PEPPER,
    InMemoryConversationRepository,
    RecordingOutboundQueue,
    ReversibleVault,
)
from .routing_fakes import InMemoryRoutingRepository


# ---------------------------------------------------------------- escalation store
class InMemoryEscalationStore:
    """The ``EscalationStore`` protocol on a dict, with the DynamoDB store's conditions."""

    def __init__(self) -> None:
        self.escalations: dict[str, dict] = {}
        self.replaces = 0
        self._before_next_replace: list[Callable[[], object]] = []

    # -- test controls
    def before_next_replace(self, action: Callable[[], object]) -> None:
        """Run ``action`` (another worker's move) between a caller's read and its conditional write."""
        self._before_next_replace.append(action)

    def all(self) -> list[EscalationRecord]:
        return [EscalationRecord.model_validate(item) for item in self.escalations.values()]

    def only(self) -> EscalationRecord:
        """The one escalation stored (fails the test if there are none or several)."""
        escalations = self.all()
        assert len(escalations) == 1, f"expected one escalation, found {len(escalations)}"
        return escalations[0]

    # -- writes that belong to the conversation's transaction
    def check_new(self, escalation: EscalationRecord) -> None:
        # Invariant (attribute_not_exists): one escalation per triggering event, however often it is retried.
        if escalation.escalation_id in self.escalations:
            raise ConcurrentUpdateError(f"escalation {escalation.escalation_id} already exists")

    def put_new(self, escalation: EscalationRecord) -> None:
        self.check_new(escalation)
        self.escalations[escalation.escalation_id] = escalation.model_dump(mode="json")

    def check_rewrite(self, escalation: EscalationRecord) -> None:
        # Invariant (version = :expected): an unlinking never overwrites a page or an acknowledgement.
        current = self.escalations.get(escalation.escalation_id)
        if current is None or current["version"] != escalation.version:
            raise ConcurrentUpdateError(f"escalation {escalation.escalation_id} changed meanwhile")

    def rewrite(self, escalation: EscalationRecord) -> None:
        self.check_rewrite(escalation)
        updated = escalation.model_copy(update={"version": escalation.version + 1})
        self.escalations[escalation.escalation_id] = updated.model_dump(mode="json")

    # -- the protocol
    def linked_to(self, *, texter_id: str | None = None, conversation_id: str | None = None) -> list[EscalationRecord]:
        return [
            escalation
            for escalation in self.all()
            if (texter_id and escalation.texter_id == texter_id)
            or (conversation_id and escalation.conversation_id == conversation_id)
        ]

    def get(self, escalation_id: str) -> EscalationRecord | None:
        item = self.escalations.get(escalation_id)
        return EscalationRecord.model_validate(item) if item else None

    def find_by_code(self, code: str) -> list[EscalationRecord]:
        return [escalation for escalation in self.all() if escalation.code == code]

    def replace(self, escalation: EscalationRecord, expected_version: int) -> None:
        while self._before_next_replace:
            self._before_next_replace.pop(0)()
        current = self.escalations.get(escalation.escalation_id)
        # Invariant (version = :expected): a page, an acknowledgement and an audit entry never overwrite one another.
        if current is None or current["version"] != expected_version:
            raise ConcurrentUpdateError(f"escalation version is not {expected_version}")
        updated = escalation.model_copy(update={"version": expected_version + 1})
        self.escalations[escalation.escalation_id] = updated.model_dump(mode="json")
        self.replaces += 1

    def open_escalations(self) -> list[EscalationRecord]:
        return sorted(
            (escalation for escalation in self.all() if escalation.status is EscalationStatus.OPEN),
            key=lambda escalation: escalation.created_at,
        )


# ---------------------------------------------------------------- on-call rota
class InMemoryOnCallDirectory:
    """The rota in order, with an optional fallback target after it (as ``DynamoOnCallDirectory`` orders them)."""

    def __init__(self, vault: ReversibleVault) -> None:
        self._vault = vault
        self.members: list[PageTarget] = []
        self.fallback: PageTarget | None = None

    def add(self, name: str, number: str) -> PageTarget:
        member = self._target(name, number)
        self.members.append(member)
        return member

    def set_fallback(self, number: str) -> PageTarget:
        self.fallback = self._target("fallback on-call", number)
        return self.fallback

    def _target(self, name: str, number: str) -> PageTarget:
        target_id = texter_id_for(number, PEPPER)
        return PageTarget(
            target_id=target_id, name=name, encrypted_number=self._vault.encrypt(number, oncall_number(target_id))
        )

    # -- the protocol
    def targets(self) -> list[PageTarget]:
        targets = list(self.members)
        if self.fallback is not None and all(target.target_id != self.fallback.target_id for target in targets):
            targets.append(self.fallback)
        return targets

    def member_for(self, sender_id: str) -> PageTarget | None:
        for target in self.targets():
            if target.target_id == sender_id:
                return target
        return None


class RecordingNotifier:
    """The paging topic: keeps every notification published."""

    def __init__(self) -> None:
        self.notifications: list[Notification] = []

    def publish(self, notifications: Sequence[Notification]) -> None:
        self.notifications.extend(notifications)


class FlakyOutboundQueue(RecordingOutboundQueue):
    """The outbound queue, which can be told to fail (a crash between the commit and the dispatch)."""

    def __init__(self) -> None:
        super().__init__()
        self._failures = 0

    def fail_next(self, times: int = 1) -> None:
        self._failures = times

    def enqueue(self, texts: Sequence[OutboundText]) -> None:
        if self._failures:
            self._failures -= 1
            raise ConnectionError("simulated: SQS unavailable")
        super().enqueue(texts)

    def of_purpose(self, purpose: str) -> list[OutboundText]:
        return [text for text in self.texts if text.purpose == purpose]


# ---------------------------------------------------------------- stub triage
@dataclass(frozen=True)
class StubAssessment:
    level: str = "none"
    categories: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)


class StubTriage:
    """Triage as a lookup table from the text to its assessment; any other text scores ``none``."""

    def __init__(self, table: dict[str, StubAssessment]) -> None:
        self._table = table

    def __call__(self, body: str, *, context: Sequence[str] = ()) -> StubAssessment:
        return self._table.get(body, StubAssessment())


# ---------------------------------------------------------------- repositories
class EscalatingConversationRepository(InMemoryConversationRepository):
    """The engine's repository, whose commit also creates ``change.new_escalation``, all or nothing."""

    def __init__(self, escalations: InMemoryEscalationStore) -> None:
        super().__init__()
        self.escalations = escalations


class EscalatingRoutingRepository(InMemoryRoutingRepository):
    """The routing repository, whose commit also creates ``change.new_escalation``, all or nothing."""

    def __init__(self, escalations: InMemoryEscalationStore | None = None) -> None:
        super().__init__()
        self.escalations = escalations or InMemoryEscalationStore()
