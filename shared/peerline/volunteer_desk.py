"""The volunteer API's use cases: who the caller is and may do, then one routing or escalation step.

Every operation starts from the caller's Cognito ``sub`` (API Gateway verified the token): only an active volunteer
may use the desk, and supervisors alone see the line and escalations, assign and edit the library (revealing a
number is ``peerline.reveal``'s, in a function of its own). Refusals are domain errors (``AccessDeniedError`` here;
``NotFoundError``, ``ConflictError`` and ``NotEligibleError`` from routing) that the API maps to HTTP statuses in
one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from peerline.api_models import ConversationSummary, EscalationSummary, LineOverview, Me
from peerline.escalation import EscalationService
from peerline.library import Library
from peerline.models import (
    ConversationRecord,
    Role,
    StoredMessage,
    TexterRecord,
    VolunteerRecord,
    VolunteerStatus,
)
from peerline.observability import make_logger
from peerline.overview import LineReader, line_overview
from peerline.ports import utc_now
from peerline.routing import MessagePage, NotFoundError, Router
from peerline.texter_controls import TexterBlockState, TexterControls
from peerline.two_step import SETUP_REQUIRED, TwoStepCheck
from peerline.wrap_up import WrapUpChoices

logger = make_logger()


class AccessDeniedError(Exception):
    """The caller is not an active volunteer, or the operation is for supervisors only."""


class TwoStepSetupRequiredError(AccessDeniedError):
    """A supervisor without two-step sign-in (TOTP) asked for a supervisor-only operation."""


class DeskStore(LineReader, Protocol):
    """What the desk reads directly: volunteers, conversations and texters."""

    def get_volunteer(self, volunteer_id: str) -> VolunteerRecord | None: ...

    def get_conversation(self, conversation_id: str) -> ConversationRecord | None: ...

    def get_texter(self, texter_id: str) -> TexterRecord | None: ...


class LibraryStore(Protocol):
    def get(self) -> Library: ...

    def put(self, library: Library, *, edited_by: str) -> Library: ...


@dataclass(frozen=True)
class VolunteerDesk:
    store: DeskStore
    router: Router
    escalation_service: EscalationService
    library_store: LibraryStore
    # Whether a supervisor signs in with a TOTP code (the user pool's answer, briefly remembered).
    two_step: TwoStepCheck
    clock: Callable[[], datetime] = field(default=utc_now)
    # The outcomes and tags a wrap-up may name (the operator's lists).
    wrap_up: WrapUpChoices = field(default_factory=WrapUpChoices.parse)
    # Supervisors' erase and block by alias (``None`` where the API isn't wired for them).
    texters: TexterControls | None = None

    # ------------------------------------------------------------ who may do what
    def caller(self, subject: str | None) -> VolunteerRecord:
        """The signed-in volunteer; the registry, not the token, decides whether they may use the desk.

        A supervisor without two-step sign-in acts as a volunteer (their own conversations only) until they set it up.
        """
        volunteer = self._registered(subject)
        if volunteer.is_supervisor and not self.two_step.has_totp(volunteer.username):
            return volunteer.model_copy(update={"roles": [role for role in volunteer.roles if role != Role.SUPERVISOR]})
        return volunteer

    def _registered(self, subject: str | None) -> VolunteerRecord:
        volunteer = self.store.get_volunteer(subject) if subject else None
        if volunteer is None or not volunteer.active:
            raise AccessDeniedError("not an active volunteer")
        return volunteer

    def supervisor(self, subject: str | None) -> VolunteerRecord:
        """The caller, who must be a supervisor (on-call professionals are supervisors)."""
        volunteer = self._registered(subject)
        if not volunteer.is_supervisor:
            raise AccessDeniedError("supervisors only")
        self._require_two_step(volunteer)
        return volunteer

    def _require_two_step(self, supervisor: VolunteerRecord) -> None:
        """Supervisors can reveal numbers: a password alone must not be enough (TOTP is asked at every sign-in)."""
        if not self.two_step.has_totp(supervisor.username):
            raise TwoStepSetupRequiredError(SETUP_REQUIRED)

    # ------------------------------------------------------------ the volunteer themselves
    def me(self, subject: str | None) -> Me:
        """The caller's profile, status, load and notices (and, for a supervisor, whether TOTP must be set up)."""
        volunteer = self._registered(subject)
        setup_required = volunteer.is_supervisor and not self.two_step.has_totp(volunteer.username)
        return self._me(volunteer).model_copy(update={"two_step_setup_required": setup_required})

    def set_availability(self, subject: str | None, status: VolunteerStatus) -> Me:
        """Available, away or offline (offline moves pending offers on at once)."""
        return self._me(self.router.set_availability(self.caller(subject).volunteer_id, status))

    def set_offers_during_crisis(self, subject: str | None, enabled: bool) -> Me:
        """Whether to be offered new conversations while holding a high/imminent one."""
        return self._me(self.router.set_offers_during_crisis(self.caller(subject).volunteer_id, enabled))

    def _me(self, volunteer: VolunteerRecord) -> Me:
        return Me.of(volunteer, holding_crisis=self.router.holds_crisis(volunteer))

    # ------------------------------------------------------------ conversations
    def conversations(self, subject: str | None) -> list[ConversationSummary]:
        """The caller's offered and active conversations (a supervisor's: every open one)."""
        return self.router.views.summaries(self.router.visible_conversations(self.caller(subject)))

    def take_next(self, subject: str | None) -> ConversationSummary:
        """Claim the most urgent waiting conversation the caller is eligible for."""
        return self.router.views.summary(self.router.take_next(self.caller(subject).volunteer_id))

    def accept(self, subject: str | None, conversation_id: str) -> ConversationSummary:
        """An offer to the caller becomes active."""
        return self.router.views.summary(self.router.accept(self.caller(subject).volunteer_id, conversation_id))

    def decline(self, subject: str | None, conversation_id: str) -> None:
        """An offer to the caller goes to the next volunteer."""
        self.router.decline(self.caller(subject).volunteer_id, conversation_id)

    def messages(
        self, subject: str | None, conversation_id: str, *, limit: int, before: str | None = None
    ) -> MessagePage:
        """A page of the transcript, the line's own texts included: the newest ``limit`` before ``before``."""
        return self.router.message_page(self.caller(subject), conversation_id, limit=limit, before=before)

    def send_reply(self, subject: str | None, conversation_id: str, body: str) -> StoredMessage:
        """A reply, texted from the line's number."""
        return self.router.send_reply(self.caller(subject).volunteer_id, conversation_id, body)

    def transfer(self, subject: str | None, conversation_id: str, to: str) -> ConversationSummary:
        """Back to the queue, or offered to a colleague."""
        return self.router.views.summary(self.router.transfer(self.caller(subject), conversation_id, to))

    def transfer_candidates(self, subject: str | None, conversation_id: str) -> list[VolunteerRecord]:
        """Colleagues who could take the conversation now."""
        return self.router.transfer_candidates(self.caller(subject), conversation_id)

    def assign(self, subject: str | None, conversation_id: str, to: str) -> ConversationSummary:
        """Supervisors: a waiting conversation offered to a volunteer, or taken by the supervisor."""
        return self.router.views.summary(self.router.assign(self.supervisor(subject), conversation_id, to))

    def close(self, subject: str | None, conversation_id: str, *, outcome: str, tags: list[str]) -> None:
        """Close with a closing text; bodies deleted, metadata kept only with consent. The outcome and tags must be
        on the line's lists (``UnknownChoiceError``)."""
        caller = self.caller(subject)
        self.router.close(caller, conversation_id, outcome=outcome, tags=self.wrap_up.check(outcome, tags))

    # ------------------------------------------------------------ escalation
    def escalate(self, subject: str | None, conversation_id: str) -> EscalationSummary:
        """Page on-call about a conversation the caller holds (or any open one, for a supervisor)."""
        escalated = self.router.escalate(self.caller(subject), conversation_id)
        return EscalationSummary.of(escalated.escalation).model_copy(
            update={"outcome": escalated.outcome, "message": escalated.message}
        )

    def escalations(self, subject: str | None) -> list[EscalationSummary]:
        """Supervisors: open escalations, and acknowledged ones while their conversation is open."""
        self.supervisor(subject)
        shown = self.escalation_service.shown_with(self.store.open_conversations())
        return [EscalationSummary.of(escalation) for escalation in shown]

    def acknowledge(self, subject: str | None, escalation_id: str) -> EscalationSummary:
        """Supervisors: acknowledge an escalation; a second acknowledgement says who was first."""
        who = self.supervisor(subject)
        acknowledgement = self.escalation_service.acknowledge(escalation_id, actor=f"supervisor:{who.display_name}")
        if acknowledgement is None:
            raise NotFoundError("no such escalation")
        return EscalationSummary.of(acknowledgement.escalation).model_copy(
            update={"already_acknowledged": acknowledgement.already, "message": acknowledgement.message}
        )

    # ------------------------------------------------------------ supervisors: a texter, by alias
    def erase_texter(self, subject: str | None, alias: str, *, reason: str) -> None:
        """Supervisors: erase a texter as their own DELETE would, audited with the supervisor's id and reason."""
        self._texter_controls().erase(self.supervisor(subject).volunteer_id, alias, reason=reason)

    def block_texter(self, subject: str | None, alias: str, *, reason: str, hours: int) -> TexterBlockState:
        """Supervisors: keep a texter's texts from volunteers for ``hours`` (still triaged), audited with the reason."""
        return self._texter_controls().block(self.supervisor(subject).volunteer_id, alias, reason=reason, hours=hours)

    def unblock_texter(self, subject: str | None, alias: str, *, reason: str) -> TexterBlockState:
        """Supervisors: lift a texter's block now, audited."""
        return self._texter_controls().unblock(self.supervisor(subject).volunteer_id, alias, reason=reason)

    def _texter_controls(self) -> TexterControls:
        if self.texters is None:
            raise RuntimeError("texter controls are not configured for this desk")
        return self.texters

    # ------------------------------------------------------------ supervisors' views
    def line(self, subject: str | None) -> LineOverview:
        """Supervisors: the queue, who is free, open conversations and escalations."""
        self.supervisor(subject)
        return line_overview(self.store, self.escalation_service, self.router.views, now=self.clock())

    def library(self, subject: str | None) -> Library:
        """The resource library (every volunteer reads it)."""
        self.caller(subject)
        return self.library_store.get()

    def update_library(self, subject: str | None, library: Library) -> Library:
        """Supervisors: replace the resource library."""
        return self.library_store.put(library, edited_by=self.supervisor(subject).volunteer_id)
