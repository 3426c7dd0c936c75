"""Revealing a texter's number: who may, for which escalation, how often, and that the audit comes first."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from peerline.audit import AuditEntry
from peerline.models import (
    ConversationRecord,
    ConversationState,
    EscalationRecord,
    EscalationStatus,
    Role,
    TexterRecord,
    VolunteerRecord,
)
from peerline.number_context import NumberOwner, texter_number
from peerline.reveal import (
    RevealConflictError,
    RevealDesk,
    RevealForbiddenError,
    RevealNotFoundError,
    RevealPolicy,
    RevealRateLimitedError,
)
from peerline.risk import RiskLevel

from .fakes import ReversibleVault

OPENED = datetime(2026, 5, 1, 14, 0, tzinfo=UTC)
NUMBER = "+15555550001"
TEXTER_ID = "t" * 64
REASON = "911 dispatch asked for the number"


@dataclass
class Records:
    volunteers: dict[str, VolunteerRecord] = field(default_factory=dict)
    escalations: dict[str, EscalationRecord] = field(default_factory=dict)
    conversations: dict[str, ConversationRecord] = field(default_factory=dict)
    texters: dict[str, TexterRecord] = field(default_factory=dict)

    def volunteer(self, volunteer_id: str) -> VolunteerRecord | None:
        return self.volunteers.get(volunteer_id)

    def escalation(self, escalation_id: str) -> EscalationRecord | None:
        return self.escalations.get(escalation_id)

    def conversation(self, conversation_id: str) -> ConversationRecord | None:
        return self.conversations.get(conversation_id)

    def texter(self, texter_id: str) -> TexterRecord | None:
        return self.texters.get(texter_id)


@dataclass
class HourlyCounter:
    counts: dict[tuple[str, datetime], int] = field(default_factory=dict)

    def take(self, volunteer_id: str, *, now: datetime, per_hour: int) -> bool:
        key = (volunteer_id, now.replace(minute=0, second=0, microsecond=0))
        if self.counts.get(key, 0) >= per_hour:
            return False
        self.counts[key] = self.counts.get(key, 0) + 1
        return True


@dataclass
class RecordingAuditLog:
    entries: list[AuditEntry] = field(default_factory=list)

    def append(self, entry: AuditEntry) -> None:
        self.entries.append(entry)

    def entries_by(self, actor_id: str, *, since: datetime) -> list[AuditEntry]:
        return [entry for entry in self.entries if entry.actor_id == actor_id and entry.at >= since]


class RevealWorld:
    def __init__(self) -> None:
        self.now = OPENED + timedelta(minutes=5)
        self.vault = ReversibleVault()
        self.records = Records()
        self.audit = RecordingAuditLog()
        self.counter = HourlyCounter()
        # What the audit log held each time a number was decrypted.
        self.audited_when_decrypted: list[list[str]] = []
        # Supervisors who have not set up two-step sign-in (TOTP).
        self.without_totp: set[str] = set()
        for volunteer_id, roles, active in [
            ("sub-sol", [Role.VOLUNTEER, Role.SUPERVISOR], True),
            ("sub-ana", [Role.VOLUNTEER], True),
            ("sub-old", [Role.VOLUNTEER, Role.SUPERVISOR], False),
        ]:
            self.records.volunteers[volunteer_id] = VolunteerRecord(
                volunteer_id=volunteer_id, username=volunteer_id, display_name=volunteer_id, roles=roles, active=active
            )
        self.records.texters[TEXTER_ID] = TexterRecord(
            texter_id=TEXTER_ID,
            encrypted_number=self.vault.encrypt(NUMBER, texter_number(TEXTER_ID)),
            first_seen_at=OPENED,
            last_seen_at=OPENED,
            expires_at=0,
        )
        self.desk = RevealDesk(
            records=self.records,
            allowance=self.counter,
            audit=self.audit,
            decrypt=self._decrypt,
            has_totp=lambda username: username not in self.without_totp,
            policy=RevealPolicy(window_minutes=60, per_hour=2),
            clock=lambda: self.now,
        )

    def _decrypt(self, ciphertext: str, owner: NumberOwner) -> str:
        self.audited_when_decrypted.append([entry.action for entry in self.audit.entries])
        return self.vault.decrypt(ciphertext, owner)

    def escalation(self, escalation_id: str = "esc-1", *, conversation: ConversationState | None) -> str:
        conversation_id = None
        if conversation is not None:
            conversation_id = f"c-{escalation_id}"
            self.records.conversations[conversation_id] = ConversationRecord(
                conversation_id=conversation_id,
                texter_id=TEXTER_ID,
                state=conversation,
                created_at=OPENED,
                expires_at=0,
            )
        self.records.escalations[escalation_id] = EscalationRecord(
            escalation_id=escalation_id,
            code="7KQ2MX",
            conversation_id=conversation_id,
            texter_id=TEXTER_ID,
            texter_alias="Texter TTTT",
            level=RiskLevel.IMMINENT,
            trigger="triage",
            status=EscalationStatus.ACKNOWLEDGED,
            created_at=OPENED,
            expires_at=0,
        )
        return escalation_id


@pytest.fixture
def world() -> RevealWorld:
    return RevealWorld()


def test_a_supervisor_gets_the_number_audited_by_their_id_before_it_is_decrypted(world: RevealWorld) -> None:
    # given an acknowledged escalation whose conversation is active
    escalation_id = world.escalation(conversation=ConversationState.ACTIVE)

    # when the supervisor reveals the number, with a reason
    revealed = world.desk.reveal("sub-sol", escalation_id, reason=REASON)

    # then they get it, and the audit entry (by volunteer id, with the reason) was written before decryption
    assert (revealed.number, revealed.texter_alias) == (NUMBER, "Texter TTTT")
    assert world.audited_when_decrypted == [["reveal_number"]]
    [entry] = world.audit.entries
    assert (entry.actor_id, entry.action, entry.subject, entry.reason) == ("sub-sol", "reveal_number", "esc-1", REASON)
    assert NUMBER not in entry.model_dump_json()


@pytest.mark.parametrize("subject", ["sub-ana", "sub-old", "sub-unknown", None])
def test_only_an_active_supervisor_may_reveal(world: RevealWorld, subject: str | None) -> None:
    # given an escalation under way
    escalation_id = world.escalation(conversation=ConversationState.ACTIVE)

    # when a volunteer, a deactivated supervisor or a stranger asks, then they are refused
    with pytest.raises(RevealForbiddenError):
        world.desk.reveal(subject, escalation_id, reason=REASON)

    # and nothing was audited, counted or decrypted
    assert (world.audit.entries, world.counter.counts, world.audited_when_decrypted) == ([], {}, [])


def test_a_supervisor_without_two_step_sign_in_reveals_nothing(world: RevealWorld) -> None:
    # given an escalation under way, and a supervisor who signs in with a password only
    escalation_id = world.escalation(conversation=ConversationState.ACTIVE)
    world.without_totp.add("sub-sol")

    # when they ask, then they are told to set up two-step sign-in first
    with pytest.raises(RevealForbiddenError, match="set up two-step sign-in first"):
        world.desk.reveal("sub-sol", escalation_id, reason=REASON)

    # and nothing was audited, counted or decrypted
    assert (world.audit.entries, world.counter.counts, world.audited_when_decrypted) == ([], {}, [])


def test_an_unknown_escalation_is_not_found(world: RevealWorld) -> None:
    with pytest.raises(RevealNotFoundError, match="no escalation esc-nope"):
        world.desk.reveal("sub-sol", "esc-nope", reason=REASON)
    assert world.audit.entries == []


def test_an_escalation_whose_texter_record_is_gone_is_not_found(world: RevealWorld) -> None:
    # given an escalation whose texter record expired (or was erased)
    escalation_id = world.escalation(conversation=None)
    del world.records.texters[TEXTER_ID]

    # when / then it is not found, and nothing is audited or counted
    with pytest.raises(RevealNotFoundError, match="no texter record"):
        world.desk.reveal("sub-sol", escalation_id, reason=REASON)
    assert (world.audit.entries, world.counter.counts) == ([], {})


@pytest.mark.parametrize("gone", [True, False])
def test_no_number_once_the_conversation_is_closed(world: RevealWorld, gone: bool) -> None:
    # given an escalation whose conversation closed (or whose record is gone)
    escalation_id = world.escalation(conversation=ConversationState.CLOSED)
    if gone:
        world.records.conversations.clear()

    # when / then revealing is refused as a conflict
    with pytest.raises(RevealConflictError, match="conversation is closed"):
        world.desk.reveal("sub-sol", escalation_id, reason=REASON)
    assert world.audit.entries == []


def test_without_a_conversation_a_number_is_revealed_only_within_the_window(world: RevealWorld) -> None:
    # given an opted-out texter's escalation (no conversation), opened 59 minutes ago
    escalation_id = world.escalation(conversation=None)
    world.now = OPENED + timedelta(minutes=59)
    assert world.desk.reveal("sub-sol", escalation_id, reason=REASON).number == NUMBER

    # when the window has passed
    world.now = OPENED + timedelta(minutes=61)

    # then it is refused, however open the escalation still is
    with pytest.raises(RevealConflictError, match="more than 60 minutes ago"):
        world.desk.reveal("sub-sol", escalation_id, reason=REASON)
    assert len(world.audit.entries) == 1


def test_the_window_applies_while_the_conversation_is_open_too(world: RevealWorld) -> None:
    escalation_id = world.escalation(conversation=ConversationState.ACTIVE)
    world.now = OPENED + timedelta(hours=3)
    with pytest.raises(RevealConflictError, match="more than 60 minutes ago"):
        world.desk.reveal("sub-sol", escalation_id, reason=REASON)


def test_a_supervisor_reveals_at_most_the_hourly_allowance(world: RevealWorld) -> None:
    # given a supervisor who has revealed twice this hour (the allowance here)
    first, second, third = (world.escalation(f"esc-{n}", conversation=ConversationState.ACTIVE) for n in (1, 2, 3))
    world.desk.reveal("sub-sol", first, reason=REASON)
    world.desk.reveal("sub-sol", second, reason=REASON)

    # when they ask a third time in the same hour, then they are refused, and nothing is audited or decrypted
    with pytest.raises(RevealRateLimitedError, match=r"at most 2 .* after 15:00 UTC"):
        world.desk.reveal("sub-sol", third, reason=REASON)
    assert [entry.subject for entry in world.audit.entries] == [first, second]
    assert len(world.audited_when_decrypted) == 2

    # and in the next hour (still inside the escalation's window) they may again
    world.now = OPENED + timedelta(minutes=60)
    assert world.desk.reveal("sub-sol", third, reason=REASON).number == NUMBER


def test_the_number_is_decrypted_only_under_its_own_texters_context(world: RevealWorld) -> None:
    # given a texter record whose ciphertext was made for another texter
    escalation_id = world.escalation(conversation=ConversationState.ACTIVE)
    texter = world.records.texters[TEXTER_ID]
    world.records.texters[TEXTER_ID] = texter.model_copy(
        update={"encrypted_number": world.vault.encrypt(NUMBER, texter_number("someone-else"))}
    )

    # when / then decryption fails (as KMS refuses a wrong encryption context)
    with pytest.raises(ValueError, match="InvalidCiphertext"):
        world.desk.reveal("sub-sol", escalation_id, reason=REASON)
