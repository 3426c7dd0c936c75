"""What the volunteer API takes and gives (pydantic: validated in, documented in the OpenAPI schema)."""

from __future__ import annotations

import base64
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from peerline.models import ConversationRecord, EscalationRecord, StoredMessage, VolunteerRecord
from peerline.phone import texter_alias

if TYPE_CHECKING:
    from peerline.routing.model import MessagePage


def actor_name(actor: str) -> str:
    """``"on-call:Dr Ana"`` → ``"Dr Ana (on-call)"``: an audit actor as a person reads it."""
    role, _, name = actor.partition(":")
    return f"{name} ({role})" if name else actor


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AvailabilityRequest(_Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "available"}]})

    status: Literal["available", "away", "offline"]


class SendMessageRequest(_Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"body": "I'm here with you. What's going on?"}]})

    body: str = Field(min_length=1, max_length=1600)


class TransferRequest(_Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"to": "queue"}]})

    to: str = Field(
        min_length=1, max_length=128, description='"queue", or the volunteer id (Cognito sub) to offer it to'
    )


class CloseRequest(_Strict):
    """A wrap-up: one outcome and a few tags, each from the line's lists (``sessionOutcomes`` and ``sessionTags`` in
    the dashboard's config.json); anything else is a 422."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"outcome": "supported", "tags": ["anxiety"]}]})

    outcome: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    tags: list[Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9_-]*$")]] = Field(
        default_factory=list, max_length=10
    )


class Me(BaseModel):
    volunteer_id: str
    display_name: str
    roles: list[str]
    languages: list[str]
    status: str
    certified_until: date | None
    max_concurrent: int
    load: int
    notices: list[str]
    offers_during_crisis: bool = Field(description="Offered new conversations while holding a high/imminent one")
    holding_crisis: bool = Field(description="Holds (offered or active) a high/imminent conversation right now")
    two_step_setup_required: bool = Field(
        default=False, description="A supervisor who must set up two-step sign-in (TOTP) before supervisor operations"
    )

    @classmethod
    def of(cls, volunteer: VolunteerRecord, *, holding_crisis: bool = False) -> Me:
        return cls(
            volunteer_id=volunteer.volunteer_id,
            display_name=volunteer.display_name,
            roles=[str(role) for role in volunteer.roles],
            languages=[str(language) for language in volunteer.languages],
            status=str(volunteer.status),
            certified_until=volunteer.certified_until,
            max_concurrent=volunteer.max_concurrent,
            load=volunteer.load,
            notices=volunteer.notices[-20:],
            offers_during_crisis=volunteer.offers_during_crisis,
            holding_crisis=holding_crisis,
        )


class SettingsRequest(_Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"offers_during_crisis": False}]})

    offers_during_crisis: bool = Field(
        description="Offer me new conversations while I hold a high/imminent one (off by default)"
    )


class AssignRequest(_Strict):
    to: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9_.:@-]+$",
        description="The volunteer id to offer it to; the supervisor's own id takes it at once",
    )


class Colleague(BaseModel):
    """A volunteer as colleagues see them: name, load and languages (never contact details)."""

    volunteer_id: str
    display_name: str
    load: int
    max_concurrent: int
    languages: list[str]

    @classmethod
    def of(cls, volunteer: VolunteerRecord) -> Colleague:
        return cls(
            volunteer_id=volunteer.volunteer_id,
            display_name=volunteer.display_name,
            load=volunteer.load,
            max_concurrent=volunteer.max_concurrent,
            languages=[str(language) for language in volunteer.languages],
        )


class ColleagueList(BaseModel):
    volunteers: list[Colleague]


class EscalationState(BaseModel):
    """Where a conversation's escalation stands: open (paging) → acknowledged by whom and when."""

    id: str
    code: str
    status: Literal["open", "acknowledged"]
    created_at: datetime
    page_count: int
    last_paged_at: datetime | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None

    @classmethod
    def of(cls, escalation: EscalationRecord) -> EscalationState:
        pages = [event.at for event in escalation.audit if event.action == "paged"]
        return cls(
            id=escalation.escalation_id,
            code=escalation.code,
            status="acknowledged" if str(escalation.status) == "acknowledged" else "open",
            created_at=escalation.created_at,
            page_count=escalation.page_count,
            last_paged_at=max(pages) if pages else None,
            acknowledged_by=actor_name(escalation.acknowledged_by) if escalation.acknowledged_by else None,
            acknowledged_at=escalation.acknowledged_at,
        )


class ConversationSummary(BaseModel):
    """A conversation as a volunteer sees it: an alias, never a number."""

    id: str
    status: str
    priority: str
    risk_level: str
    texter_alias: str
    language: str
    waiting_since: datetime | None
    offer_expires_at: datetime | None
    accepted_at: datetime | None
    needs_supervisor: bool
    volunteer_id: str | None
    risk_categories: list[str]
    volunteer_prompt: str | None
    escalation_id: str | None
    waiting_seconds: float | None = Field(description="How long the texter has waited (waiting or offered)")
    preview: str | None = Field(description="The first words of the texter's first text (offers, supervisors)")
    last_texter_at: datetime | None = Field(description="When the texter last texted")
    awaiting_reply: bool = Field(description="The texter's last text is newer than any reply to it")
    volunteer_name: str | None = Field(description="Who holds it (offered or active)")
    close_reason: str | None
    escalation: EscalationState | None
    offered_again: bool = Field(
        default=False,
        description="Offered to a volunteer who declined it (or let it expire) before: nobody else could take it",
    )

    @classmethod
    def of(
        cls,
        conversation: ConversationRecord,
        *,
        now: datetime | None = None,
        escalation: EscalationRecord | None = None,
        preview: str | None = None,
        last_texter_at: datetime | None = None,
        awaiting_reply: bool = False,
        volunteer_name: str | None = None,
    ) -> ConversationSummary:
        queued = conversation.state in ("waiting", "offered") and conversation.waiting_since is not None
        waited = (
            (now - conversation.waiting_since).total_seconds()
            if queued and now and conversation.waiting_since
            else None
        )
        return cls(
            id=conversation.conversation_id,
            status=str(conversation.state),
            priority=str(conversation.priority),
            risk_level=conversation.risk_level,
            texter_alias=texter_alias(conversation.texter_id) if conversation.texter_id else "Texter",
            language=str(conversation.language),
            waiting_since=conversation.waiting_since,
            offer_expires_at=conversation.offer_expires_at,
            accepted_at=conversation.accepted_at,
            needs_supervisor=conversation.needs_supervisor,
            volunteer_id=conversation.volunteer_id,
            risk_categories=conversation.risk_categories,
            volunteer_prompt=conversation.volunteer_prompt,
            escalation_id=conversation.escalation_id,
            waiting_seconds=max(0.0, waited) if waited is not None else None,
            preview=preview,
            last_texter_at=last_texter_at,
            awaiting_reply=awaiting_reply,
            volunteer_name=volunteer_name,
            close_reason=conversation.close_reason,
            offered_again=conversation.state == "offered"
            and conversation.volunteer_id is not None
            and conversation.volunteer_id in conversation.excluded_volunteers,
            escalation=EscalationState.of(escalation)
            if escalation is not None and escalation.escalation_id == conversation.escalation_id
            else None,
        )


class ConversationList(BaseModel):
    conversations: list[ConversationSummary]


class MessageOut(BaseModel):
    id: str
    # "automatic": a text the line sent on its own (welcome, safety text…), named by ``purpose``.
    direction: Literal["inbound", "outbound", "automatic"]
    body: str
    at: datetime
    purpose: str | None = None
    volunteer_id: str | None = Field(
        default=None, description="Who wrote an outbound reply (after a transfer, maybe not the holder)"
    )

    @classmethod
    def of(cls, message: StoredMessage) -> MessageOut:
        return cls(
            id=message.message_id,
            direction=message.direction,
            body=message.body,
            at=message.at,
            purpose=message.purpose if message.direction == "automatic" else None,
            volunteer_id=message.volunteer_id if message.direction == "outbound" else None,
        )


class MessageList(BaseModel):
    """A page of the transcript, oldest first: the newest messages, or those before ``cursor``."""

    messages: list[MessageOut]
    next_cursor: str | None = Field(
        default=None,
        description="Pass as `cursor` for the messages before these; null: this page starts the transcript",
    )

    @classmethod
    def of(cls, page: MessagePage) -> MessageList:
        return cls(
            messages=[MessageOut.of(message) for message in page.messages],
            next_cursor=cursor_of(page.older) if page.older else None,
        )


# listMessages' page size when the caller names none, and the most it gives at once.
DEFAULT_MESSAGE_PAGE = 50
MAX_MESSAGE_PAGE = 200
CURSOR_PATTERN = r"^[A-Za-z0-9_-]{1,400}$"


def cursor_of(message_key: str) -> str:
    """The opaque ``next_cursor`` for a message key (base64url: a client can't build or depend on one)."""
    return base64.urlsafe_b64encode(message_key.encode()).decode().rstrip("=")


def message_key_of(cursor: str) -> str | None:
    """The message key a cursor stands for; None when it isn't one this API gave."""
    try:
        key = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return None
    return key if "#" in key and key.isprintable() else None


class RevealRequest(_Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "Imminent risk: a rescue is under way"}]})

    reason: str = Field(min_length=10, max_length=500, description="Why the number is needed (audited)")


class RevealedNumber(BaseModel):
    escalation_id: str
    texter_alias: str
    number: str


class AuditEntry(BaseModel):
    at: datetime
    action: str
    actor: str
    detail: str


class EscalationSummary(BaseModel):
    """An escalation as a supervisor sees it: alias, level, code, pages and audit — never the texter's words."""

    id: str
    code: str
    conversation_id: str | None
    texter_alias: str
    level: str
    categories: list[str]
    status: str
    trigger: str
    created_at: datetime
    page_count: int
    last_paged_at: datetime | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    audit: list[AuditEntry]
    outcome: Literal["paged", "already_open", "already_acknowledged"] | None = Field(
        default=None, description="escalateConversation: whether this press paged on-call or found an escalation"
    )
    already_acknowledged: bool | None = Field(
        default=None, description="acknowledgeEscalation: someone had acknowledged it before this call"
    )
    message: str | None = Field(default=None, description="What happened, in words for the dashboard")

    @classmethod
    def of(cls, escalation: EscalationRecord) -> EscalationSummary:
        pages = [event.at for event in escalation.audit if event.action == "paged"]
        return cls(
            id=escalation.escalation_id,
            code=escalation.code,
            conversation_id=escalation.conversation_id,
            texter_alias=escalation.texter_alias,
            level=escalation.level,
            categories=escalation.categories,
            status=str(escalation.status),
            trigger=escalation.trigger,
            created_at=escalation.created_at,
            page_count=escalation.page_count,
            last_paged_at=max(pages) if pages else None,
            acknowledged_by=actor_name(escalation.acknowledged_by) if escalation.acknowledged_by else None,
            acknowledged_at=escalation.acknowledged_at,
            audit=[AuditEntry(**event.model_dump()) for event in escalation.audit],
        )


class EscalationList(BaseModel):
    escalations: list[EscalationSummary]


class VolunteersByStatus(BaseModel):
    available: int
    away: int
    offline: int


class LineOverview(BaseModel):
    """The line at a glance, for supervisors."""

    waiting: int
    longest_wait_seconds: float | None
    volunteers: VolunteersByStatus
    active: list[ConversationSummary]
    escalations: list[EscalationSummary]
    queue: list[ConversationSummary] = Field(description="Waiting conversations, most urgent first")
    available_volunteers: list[Colleague] = Field(description="Who a supervisor can assign a conversation to")


class DashboardConfig(BaseModel):
    """The dashboard's runtime configuration, generated from the deployment's own values."""

    apiUrl: str
    socketUrl: str
    region: str
    userPoolId: str
    userPoolClientId: str
    cognitoEndpoint: str
    sessionOutcomes: list[str] = Field(default_factory=list, description="The wrap-up's outcomes, in order")
    sessionTags: list[str] = Field(default_factory=list, description="The tags a wrap-up may carry")


class TexterBlockRequest(_Strict):
    reason: str = Field(min_length=3, max_length=400, description="Why the texter is blocked (audited)")
    hours: int = Field(ge=1, le=24 * 30, description="How long the block lasts; it lapses by itself")


class TexterEraseRequest(_Strict):
    reason: str = Field(min_length=3, max_length=400, description="Why the texter is erased (audited)")


class TexterUnblockRequest(_Strict):
    reason: str = Field(default="", max_length=400, description="Why the block is lifted early (audited)")


class TexterBlock(BaseModel):
    """A texter's block as a supervisor sees it: the alias and until when (``null``: not blocked)."""

    texter_alias: str
    blocked_until: datetime | None
