"""What the volunteer API takes and gives (pydantic: validated in, documented in the OpenAPI schema)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from peerline.models import ConversationRecord, StoredMessage, VolunteerRecord
from peerline.phone import texter_alias


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AvailabilityRequest(_Strict):
    status: Literal["available", "away", "offline"]


class SendMessageRequest(_Strict):
    body: str = Field(min_length=1, max_length=1600)


class TransferRequest(_Strict):
    to: str = Field(
        min_length=1, max_length=128, description='"queue", or the volunteer id (Cognito sub) to offer it to'
    )


class CloseRequest(_Strict):
    outcome: str = Field(min_length=1, max_length=200)
    tags: list[str] = Field(default_factory=list, max_length=20)


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

    @classmethod
    def of(cls, volunteer: VolunteerRecord) -> Me:
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

    @classmethod
    def of(cls, conversation: ConversationRecord) -> ConversationSummary:
        return cls(
            id=conversation.conversation_id,
            status=str(conversation.state),
            priority=str(conversation.priority),
            risk_level=str(conversation.priority),
            texter_alias=texter_alias(conversation.texter_id) if conversation.texter_id else "Texter",
            language=str(conversation.language),
            waiting_since=conversation.waiting_since,
            offer_expires_at=conversation.offer_expires_at,
            accepted_at=conversation.accepted_at,
            needs_supervisor=conversation.needs_supervisor,
            volunteer_id=conversation.volunteer_id,
        )


class ConversationList(BaseModel):
    conversations: list[ConversationSummary]


class MessageOut(BaseModel):
    id: str
    direction: Literal["inbound", "outbound"]
    body: str
    at: datetime

    @classmethod
    def of(cls, message: StoredMessage) -> MessageOut:
        return cls(id=message.message_id, direction=message.direction, body=message.body, at=message.at)


class MessageList(BaseModel):
    messages: list[MessageOut]


class Problem(BaseModel):
    message: str
