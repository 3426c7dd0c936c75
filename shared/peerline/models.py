"""The records Peerline stores and the messages it queues, as pydantic models (one per boundary)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from peerline.language import Language
from peerline.risk import RiskLevel


class ConversationState(StrEnum):
    NEW = "new"
    CONSENT_PENDING = "consent_pending"
    WAITING = "waiting"
    OFFERED = "offered"
    ACTIVE = "active"
    CLOSED = "closed"


OPEN_STATES = frozenset(
    {
        ConversationState.NEW,
        ConversationState.CONSENT_PENDING,
        ConversationState.WAITING,
        ConversationState.OFFERED,
        ConversationState.ACTIVE,
    }
)
# States in which the texter is in the queue, waiting for a volunteer.
QUEUED_STATES = frozenset({ConversationState.WAITING, ConversationState.OFFERED})


class Consent(StrEnum):
    UNKNOWN = "unknown"
    GIVEN = "yes"
    REFUSED = "no"


class InboundText(BaseModel):
    """A texter's text as the inbound webhook queues it: no plaintext number, only the id and the ciphertext."""

    model_config = ConfigDict(frozen=True)

    message_sid: str = Field(min_length=2, max_length=64)
    texter_id: str = Field(min_length=64, max_length=64)
    encrypted_number: str = Field(min_length=1)
    body: str = Field(max_length=1600)
    received_at: datetime
    num_media: int = 0
    opt_out_type: str | None = None


class TimerKind(StrEnum):
    CONSENT_TIMEOUT = "consent_timeout"
    STILL_WAITING = "still_waiting"
    OFFER_EXPIRY = "offer_expiry"
    INACTIVITY = "inactivity"
    ESCALATION_REPAGE = "escalation_repage"
    # Routes again once a decline has lapsed (nobody else could take the conversation meanwhile).
    DECLINE_LAPSE = "decline_lapse"
    # Not a conversation's: a volunteer was deactivated or changed role (see ``peerline.access``).
    ACCESS_CHANGED = "access_changed"


class ConversationTimer(BaseModel):
    """A delayed message that asks the engine to look at a conversation again; stale timers do nothing."""

    model_config = ConfigDict(frozen=True)

    timer_id: str
    kind: TimerKind
    conversation_id: str
    texter_id: str
    fire_at: datetime
    # For offer expiry: which offer; for inactivity: the activity it was scheduled after. A timer whose offer or
    # activity is no longer current is stale and does nothing.
    offer_id: str | None = None
    volunteer_id: str | None = None
    activity_at: datetime | None = None
    # For re-paging: which escalation, and how many pages have gone out when this timer was set.
    escalation_id: str | None = None
    page_count: int | None = None


def inactivity_timer(
    conversation_id: str, texter_id: str, activity_at: datetime, after: timedelta
) -> ConversationTimer:
    """Closes the conversation unless something happens after ``activity_at`` (one per activity)."""
    return ConversationTimer(
        timer_id=f"inactivity:{conversation_id}:{activity_at.isoformat()}",
        kind=TimerKind.INACTIVITY,
        conversation_id=conversation_id,
        texter_id=texter_id,
        fire_at=activity_at + after,
        activity_at=activity_at,
    )


def offer_expiry_timer(
    conversation_id: str, texter_id: str, offer_id: str, volunteer_id: str, expires: datetime
) -> ConversationTimer:
    """Moves an offer on unless it was accepted or declined first (stale once the offer id changed)."""
    return ConversationTimer(
        timer_id=f"offer:{offer_id}",
        kind=TimerKind.OFFER_EXPIRY,
        conversation_id=conversation_id,
        texter_id=texter_id,
        fire_at=expires,
        offer_id=offer_id,
        volunteer_id=volunteer_id,
    )


def decline_lapse_timer(conversation_id: str, texter_id: str, lapses_at: datetime) -> ConversationTimer:
    """Routes the conversation again when declines on it lapse (a no-op if someone took it meanwhile)."""
    return ConversationTimer(
        timer_id=f"lapse:{conversation_id}:{lapses_at.isoformat()}",
        kind=TimerKind.DECLINE_LAPSE,
        conversation_id=conversation_id,
        texter_id=texter_id,
        fire_at=lapses_at,
    )


class OutboundText(BaseModel):
    """One text to send. ``outbound_id`` is deterministic, so a retried decision can't send it twice."""

    model_config = ConfigDict(frozen=True)

    outbound_id: str = Field(min_length=1, max_length=128)
    recipient_id: str = Field(min_length=1, max_length=128)
    encrypted_to: str = Field(min_length=1)
    body: str = Field(min_length=1, max_length=1600)
    purpose: str
    conversation_id: str | None = None
    texter_id: str | None = None


class Notification(BaseModel):
    """A page on the notification topic (e-mail, paging services): never a number or the texter's words."""

    subject: str
    message: str
    dedup_key: str


class AppliedEvent(BaseModel):
    """An event the engine has applied, and the texts and timers it queued."""

    event_id: str
    outbound: list[OutboundText] = Field(default_factory=list)
    timers: list[ConversationTimer] = Field(default_factory=list)
    purge_messages_of: list[str] = Field(default_factory=list)
    notifications: list[Notification] = Field(default_factory=list)


class TexterRecord(BaseModel):
    """What Peerline keeps about a texter: a pseudonymous id, the encrypted number and opt-out state."""

    texter_id: str
    encrypted_number: str
    language: Language = Language.ENGLISH
    opted_out: bool = False
    open_conversation_id: str | None = None
    # The last few events (inbound MessageSid or timer id) applied, with what each queued: replaying an event
    # re-queues exactly these (deduplicated downstream) instead of deciding again on state that has moved on.
    recent_events: list[AppliedEvent] = Field(default_factory=list)
    # Only what a returning texter's short welcome needs: when their last conversation closed and their consent
    # answer in it. Cleared when the next conversation opens and at STOP; never a transcript or a history.
    last_closed_at: datetime | None = None
    last_consent: Consent = Consent.UNKNOWN
    # A supervisor's block (by alias, audited with its reason): until then the texter's texts are triaged but reach
    # no volunteer, and they get one notice per block. It lapses by itself.
    blocked_until: datetime | None = None
    block_notice_sent: bool = False
    # The per-texter rate limit's fixed one-minute window: texts above the limit get no automatic reply.
    rate_window_started_at: datetime | None = None
    texts_in_rate_window: int = 0
    version: int = 0
    first_seen_at: datetime
    last_seen_at: datetime
    expires_at: int

    def is_blocked(self, now: datetime) -> bool:
        """Blocked by a supervisor, and the block has not lapsed yet."""
        return self.blocked_until is not None and now < self.blocked_until


class ConversationRecord(BaseModel):
    """One conversation. Message bodies live in the messages table; this is the metadata."""

    conversation_id: str
    texter_id: str
    state: ConversationState
    version: int = 0
    language: Language = Language.ENGLISH
    consent: Consent = Consent.UNKNOWN
    priority: RiskLevel = RiskLevel.NONE
    created_at: datetime
    waiting_since: datetime | None = None
    closed_at: datetime | None = None
    close_reason: str | None = None
    inbound_count: int = 0
    outbound_count: int = 0
    resources_sent: bool = False
    expires_at: int
    # Routing: who holds it (offered to, or active with), the current offer, and who must not get it again.
    volunteer_id: str | None = None
    offer_id: str | None = None
    offer_expires_at: datetime | None = None
    excluded_volunteers: list[str] = Field(default_factory=list)
    # When each exclusion (decline, expiry, transfer away) happened: exclusions lapse when nobody else can take it.
    excluded_since: dict[str, datetime] = Field(default_factory=dict)
    accepted_at: datetime | None = None
    last_activity_at: datetime | None = None
    needs_supervisor: bool = False
    outcome: str | None = None
    tags: list[str] = Field(default_factory=list)
    # Crisis triage: the highest level of the texter's recent messages, its categories, the open escalation,
    # and what the volunteer is prompted to do about it (never the texter's words).
    risk_level: RiskLevel = RiskLevel.NONE
    # Triage's frame signals from the texter's recent texts ("means", "time_near"…): names, never words; cleared
    # when the conversation closes.
    risk_signals: list[str] = Field(default_factory=list)
    risk_categories: list[str] = Field(default_factory=list)
    escalation_id: str | None = None
    escalated_level: RiskLevel = RiskLevel.NONE
    volunteer_prompt: str | None = None

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


class VolunteerStatus(StrEnum):
    AVAILABLE = "available"
    AWAY = "away"
    OFFLINE = "offline"


class Role(StrEnum):
    VOLUNTEER = "volunteer"
    SUPERVISOR = "supervisor"


class VolunteerRecord(BaseModel):
    """A trained volunteer, keyed by their Cognito ``sub``. ``load`` = offers held + active conversations."""

    volunteer_id: str = Field(min_length=1)
    username: str = Field(min_length=1)
    display_name: str = Field(min_length=1, max_length=40)
    roles: list[Role] = Field(default_factory=lambda: [Role.VOLUNTEER], min_length=1)
    certified_until: date | None = None
    languages: list[Language] = Field(default_factory=lambda: [Language.ENGLISH], min_length=1)
    max_concurrent: int = Field(default=2, ge=1, le=10)
    status: VolunteerStatus = VolunteerStatus.OFFLINE
    active: bool = True
    load: int = Field(default=0, ge=0)
    # ISO timestamp (a string so it sorts in the ByStatus index); "0" = never assigned, first in line.
    last_assigned_at: str = "0"
    # Things the volunteer must be told that happened without them (e.g. an inactivity close).
    notices: list[str] = Field(default_factory=list)
    # Off by default: while holding a high/imminent conversation, a volunteer is offered nothing new.
    offers_during_crisis: bool = False
    version: int = 0

    def is_certified(self, today: date) -> bool:
        return self.certified_until is not None and self.certified_until >= today

    @property
    def is_supervisor(self) -> bool:
        return Role.SUPERVISOR in self.roles


class StoredMessage(BaseModel):
    """A message body kept only while its conversation is open (TTL as a safety net).

    ``inbound`` is the texter's, ``outbound`` a volunteer's reply, ``automatic`` a text the line sent on its own
    (welcome, safety text…; ``purpose`` says which), kept so the volunteer sees everything the texter was told.
    """

    conversation_id: str
    message_key: str
    message_id: str
    direction: Literal["inbound", "outbound", "automatic"]
    body: str
    at: datetime
    expires_at: int
    purpose: str | None = None
    # Who wrote an ``outbound`` reply: after a transfer the next volunteer must not read a colleague's words as theirs.
    volunteer_id: str | None = None

    @classmethod
    def automatic(cls, text: OutboundText, *, conversation_id: str, key: str, at: datetime, expires_at: int) -> Self:
        """The line's own ``text`` as a transcript message; its id is the text's (derived from the event that
        sent it), and ``key`` orders it in the transcript, so deciding the same event twice stores it once."""
        return cls(
            conversation_id=conversation_id,
            message_key=key,
            message_id=text.outbound_id,
            direction="automatic",
            body=text.body,
            at=at,
            expires_at=expires_at,
            purpose=text.purpose,
        )


class SessionMetadata(BaseModel):
    """What survives a closed conversation, and only with the texter's consent."""

    conversation_id: str
    created_at: datetime
    closed_at: datetime
    wait_seconds: float | None
    duration_seconds: float
    inbound_count: int
    outbound_count: int
    priority: RiskLevel
    close_reason: str


class AuditEvent(BaseModel):
    """One step of an escalation: what happened, when, by whom. Never the texter's words or number."""

    at: datetime
    action: str
    actor: str
    detail: str = ""


class EscalationStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"


class EscalationRecord(BaseModel):
    """A crisis escalation and its audit trail. ``code`` is what the on-call professional texts back (ACK code)."""

    escalation_id: str
    code: str
    # None: an opted-out or blocked texter's (no conversation), or unlinked once its conversation closed. A default,
    # because DynamoDB items leave ``None`` attributes out.
    conversation_id: str | None = None
    texter_id: str
    texter_alias: str
    level: RiskLevel
    categories: list[str] = Field(default_factory=list)
    rules: list[str] = Field(default_factory=list)
    trigger: str
    status: EscalationStatus = EscalationStatus.OPEN
    created_at: datetime
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    page_count: int = 0
    audit: list[AuditEvent] = Field(default_factory=list)
    # False between recording a volunteer's escalation and queuing its texts: pressing again re-sends them.
    dispatched: bool = True
    version: int = 0
    expires_at: int


class OnCallMember(BaseModel):
    """A professional on the on-call rota: pseudonymous id (HMAC of the number), the number only encrypted."""

    oncall_id: str
    name: str = Field(min_length=1, max_length=60)
    encrypted_number: str
    position: int = Field(ge=0)
    masked_number: str
