"""Revealing a texter's number for a rescue: a supervisor, an escalation still under way, a reason, an audit entry.

The one use case that decrypts a texter's number outside the sender, served by its own small function (the only
other role the key policy lets decrypt, and only texters' numbers). The rules, in the order they are checked:

- the caller is an active supervisor who signs in with two steps (TOTP, ``two_step.py``) (``RevealForbiddenError``);
- the escalation and, later, its texter's record exist (``RevealNotFoundError``);
- the rescue is under way: its conversation, when it has one, is still open, and it was opened at most
  ``window_minutes`` ago — also when it has no conversation (an opted-out texter), so an old escalation never
  reveals a number (``RevealConflictError``);
- the supervisor has revealed fewer than ``per_hour`` numbers this hour, counted atomically apart from the audit
  log, which no function may read back (``RevealRateLimitedError``);
- then an audit entry (by volunteer id, with the reason) is appended to the append-only log, and only after it
  the number is decrypted, under the texter's own encryption context.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from peerline.api_models import RevealedNumber
from peerline.audit import AuditEntry, AuditLog
from peerline.models import ConversationRecord, EscalationRecord, TexterRecord, VolunteerRecord
from peerline.number_context import NumberOwner, texter_number
from peerline.observability import make_logger
from peerline.ports import utc_now
from peerline.two_step import SETUP_REQUIRED

logger = make_logger()

REVEAL_ACTION = "reveal_number"


class RevealForbiddenError(Exception):
    """The caller is not an active supervisor (403)."""


class RevealNotFoundError(Exception):
    """No such escalation, or its texter's record is gone (404)."""


class RevealConflictError(Exception):
    """The escalation is no longer a rescue under way: its conversation closed, or its window passed (409)."""


class RevealRateLimitedError(Exception):
    """The supervisor has used up this hour's reveals (429)."""


class RevealRecords(Protocol):
    """What the rules read (each one item by key)."""

    def volunteer(self, volunteer_id: str) -> VolunteerRecord | None: ...

    def escalation(self, escalation_id: str) -> EscalationRecord | None: ...

    def conversation(self, conversation_id: str) -> ConversationRecord | None: ...

    def texter(self, texter_id: str) -> TexterRecord | None: ...


class RevealAllowance(Protocol):
    def take(self, volunteer_id: str, *, now: datetime, per_hour: int) -> bool:
        """Count one reveal for the volunteer in ``now``'s hour; False (and nothing counted) once ``per_hour`` were."""
        ...


@dataclass(frozen=True)
class RevealPolicy:
    window_minutes: int = 60
    per_hour: int = 5


@dataclass(frozen=True)
class RevealDesk:
    records: RevealRecords
    allowance: RevealAllowance
    audit: AuditLog
    # Decrypts a number under its owner's encryption context (KMS); called only after the audit entry is written.
    decrypt: Callable[[str, NumberOwner], str]
    # Whether a user signs in with a TOTP code (the user pool's answer): a password alone reveals no number.
    has_totp: Callable[[str], bool]
    policy: RevealPolicy = RevealPolicy()
    clock: Callable[[], datetime] = field(default=utc_now)

    def reveal(self, subject: str | None, escalation_id: str, *, reason: str) -> RevealedNumber:
        """The texter's number for a rescue under way, audited (by volunteer id, with the reason) before decryption."""
        supervisor = self._supervisor(subject)
        escalation = self.records.escalation(escalation_id)
        if escalation is None:
            raise RevealNotFoundError(f"no escalation {escalation_id}")
        now = self.clock()
        self._check_under_way(escalation, now)
        # An escalation unlinked from its texter (after a close without consent, or an erasure) has no number.
        texter = self.records.texter(escalation.texter_id) if escalation.texter_id else None
        if texter is None:
            raise RevealNotFoundError(
                f"no texter record for escalation {escalation.code} any more (expired or erased): no number to reveal"
            )
        if not self.allowance.take(supervisor.volunteer_id, now=now, per_hour=self.policy.per_hour):
            next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            raise RevealRateLimitedError(
                f"at most {self.policy.per_hour} numbers may be revealed per hour; try again after "
                f"{next_hour:%H:%M} UTC, or ask another supervisor"
            )
        self.audit.append(
            AuditEntry(
                actor_id=supervisor.volunteer_id, action=REVEAL_ACTION, subject=escalation_id, reason=reason, at=now
            )
        )
        number = self.decrypt(texter.encrypted_number, texter_number(texter.texter_id))
        logger.warning("texter number revealed", escalation_id=escalation_id, by=supervisor.volunteer_id)
        return RevealedNumber(escalation_id=escalation_id, texter_alias=escalation.texter_alias, number=number)

    def _supervisor(self, subject: str | None) -> VolunteerRecord:
        volunteer = self.records.volunteer(subject) if subject else None
        if volunteer is None or not volunteer.active:
            raise RevealForbiddenError("not an active volunteer")
        if not volunteer.is_supervisor:
            raise RevealForbiddenError("supervisors only")
        if not self.has_totp(volunteer.username):
            raise RevealForbiddenError(SETUP_REQUIRED)
        return volunteer

    def _check_under_way(self, escalation: EscalationRecord, now: datetime) -> None:
        if escalation.conversation_id:
            conversation = self.records.conversation(escalation.conversation_id)
            if conversation is None or not conversation.is_open:
                raise RevealConflictError(
                    f"escalation {escalation.code}: its conversation is closed, so there is no rescue under way"
                )
        window = timedelta(minutes=self.policy.window_minutes)
        if now - escalation.created_at > window:
            raise RevealConflictError(
                f"escalation {escalation.code} was opened more than {self.policy.window_minutes} minutes ago: "
                "numbers are revealed only in the first minutes of a rescue"
            )
