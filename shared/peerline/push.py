"""Live dashboard updates: who may hold a live connection, and what is pushed to whom after a change commits.

Pushes are small JSON events (never a phone number: conversations carry the texter's alias only)::

    {"type": "offer", "conversation": ConversationSummary}                    to the volunteer offered it
    {"type": "message", "conversation_id": "...", "message": MessageOut}      to the holder and supervisors
    {"type": "conversation", "conversation": ConversationSummary}             state or risk changes: to the holder
                                                                              (old and new) and supervisors
    {"type": "escalation", "escalation": EscalationSummary}                   new, re-paged, acknowledged: supervisors
                                                                              and the volunteer holding it

A push is a courtesy, never part of the change: it happens after the commit, a failure is logged and forgotten,
and a dashboard catches up on (re)connect by listing again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel

from peerline.api_models import ConversationSummary, EscalationSummary, MessageOut
from peerline.models import ConversationRecord, ConversationState, EscalationRecord, StoredMessage, VolunteerRecord

logger = logging.getLogger(__name__)

# API Gateway closes a WebSocket after 2 hours; the record outlives it a little, then TTL sweeps it.
CONNECTION_LIFETIME = timedelta(hours=3)


# ---------------------------------------------------------------------------------------------------- events


@dataclass(frozen=True)
class LiveEvent:
    """One event and who gets it: named volunteers (each on every connection they have), and/or all supervisors."""

    payload: dict[str, Any]
    volunteer_ids: frozenset[str] = frozenset()
    supervisors: bool = False


class LivePush(Protocol):
    """Delivers events to the recipients' open connections. Must not raise (see ``publish_quietly``)."""

    def publish(self, events: Sequence[LiveEvent]) -> None: ...


class NoLivePush:
    """No live channel configured (unit tests, functions that don't push): events go nowhere."""

    def publish(self, events: Sequence[LiveEvent]) -> None:
        return None


def publish_quietly(push: LivePush, events: Sequence[LiveEvent]) -> None:
    """Push after a commit; a failure is logged and never fails the change that caused it."""
    if not events:
        return
    try:
        push.publish(events)
    except Exception:
        logger.exception("live push failed; dashboards catch up when they list again")


def _ids(*volunteer_ids: str | None) -> frozenset[str]:
    return frozenset(volunteer_id for volunteer_id in volunteer_ids if volunteer_id)


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


Summarize = Callable[[ConversationRecord], ConversationSummary]


def offer_event(conversation: ConversationRecord, summary: ConversationSummary | None = None) -> LiveEvent:
    """A conversation offered to a volunteer: only they are told (supervisors get the state change)."""
    return LiveEvent(
        {"type": "offer", "conversation": _dump(summary or ConversationSummary.of(conversation))},
        volunteer_ids=_ids(conversation.volunteer_id),
    )


def conversation_event(
    conversation: ConversationRecord, *also: str | None, summary: ConversationSummary | None = None
) -> LiveEvent:
    """A state or risk change: the holder, anyone named in ``also`` (e.g. who held it before), supervisors."""
    return LiveEvent(
        {"type": "conversation", "conversation": _dump(summary or ConversationSummary.of(conversation))},
        volunteer_ids=_ids(_holder(conversation), *also),
        supervisors=True,
    )


def message_event(conversation: ConversationRecord, message: StoredMessage) -> LiveEvent:
    """A text stored with an open conversation: its holder (offered or active) and supervisors, who see them all."""
    return LiveEvent(
        {"type": "message", "conversation_id": conversation.conversation_id, "message": _dump(MessageOut.of(message))},
        volunteer_ids=_ids(_holder(conversation)),
        supervisors=True,
    )


def escalation_event(escalation: EscalationRecord, holder: str | None = None) -> LiveEvent:
    """A new, re-paged or acknowledged escalation: every supervisor, and the volunteer holding the conversation."""
    return LiveEvent(
        {"type": "escalation", "escalation": _dump(EscalationSummary.of(escalation))},
        volunteer_ids=_ids(holder),
        supervisors=True,
    )


def _holder(conversation: ConversationRecord) -> str | None:
    held = conversation.state in (ConversationState.OFFERED, ConversationState.ACTIVE)
    return conversation.volunteer_id if held else None


def _changed(before: ConversationRecord | None, after: ConversationRecord) -> bool:
    """Whether a dashboard's view of the conversation changed (state, holder, risk, supervisor flag)."""
    if before is None:
        return True
    watched = ("state", "volunteer_id", "risk_level", "priority", "escalation_id", "needs_supervisor", "offer_id")
    return any(getattr(before, name) != getattr(after, name) for name in watched)


def events_for_change(
    before: ConversationRecord | None,
    after: ConversationRecord | None,
    *,
    new_messages: Iterable[StoredMessage] = (),
    new_escalation: EscalationRecord | None = None,
    released: Iterable[str] = (),
    summarize: Summarize | None = None,
) -> list[LiveEvent]:
    """What one committed change means for the dashboards.

    ``before``/``after`` are the conversation as it was and as committed (a deleted conversation is passed in its
    closed state); ``released`` names volunteers whose load the change moved (they may have just lost it);
    ``summarize`` fills in what the record alone doesn't say (preview, escalation state — see ``views``), and is
    called only when an event needs it.
    """
    events: list[LiveEvent] = []
    if after is not None:
        summary: ConversationSummary | None = None

        def summarized(conversation: ConversationRecord) -> ConversationSummary:
            nonlocal summary
            if summary is None:
                summary = (
                    summarize(conversation)
                    if summarize is not None
                    else ConversationSummary.of(conversation, escalation=new_escalation)
                )
            return summary

        if after.state is ConversationState.CLOSED and before is not None and not after.texter_id:
            # Closed with consent, the record is unlinked from the texter; the dashboards still need the alias
            # they knew the conversation by, to say which one closed.
            after = after.model_copy(update={"texter_id": before.texter_id})
        offered_now = after.state is ConversationState.OFFERED and (
            before is None or before.state is not ConversationState.OFFERED or before.offer_id != after.offer_id
        )
        if offered_now:
            events.append(offer_event(after, summarized(after)))
        if _changed(before, after):
            previous = before.volunteer_id if before is not None else None
            events.append(conversation_event(after, previous, *released, summary=summarized(after)))
        if after.state is not ConversationState.CLOSED:
            events += [message_event(after, message) for message in new_messages]
    if new_escalation is not None:
        events.append(escalation_event(new_escalation, _holder(after) if after is not None else None))
    return events


# ---------------------------------------------------------------------------------------------------- connections


class LiveConnection(BaseModel):
    """One open dashboard WebSocket (API Gateway's connection id) and whose it is."""

    connection_id: str
    volunteer_id: str
    is_supervisor: bool
    connected_at: datetime
    expires_at: int


class SocketRefusedError(Exception):
    """The WebSocket upgrade is refused: 401 (no or bad token) or 403 (not an active volunteer)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class ConnectionStore(Protocol):
    def put(self, connection: LiveConnection) -> None: ...

    def delete(self, connection_id: str) -> None: ...


@dataclass
class LiveChannel:
    """$connect and $disconnect of the dashboard's WebSocket."""

    connections: ConnectionStore
    # The Cognito ``sub`` of a valid access token, or None (expired, revoked, forged, another pool's).
    subject_of: Callable[[str], str | None]
    volunteer: Callable[[str], VolunteerRecord | None]
    # Whether a user signs in with TOTP: a supervisor without it hears only their own conversations, like a volunteer.
    has_totp: Callable[[str], bool]
    lifetime: timedelta = field(default=CONNECTION_LIFETIME)

    def connect(self, connection_id: str, token: str | None, now: datetime) -> LiveConnection:
        """Admit an active volunteer's dashboard (``SocketRefusedError`` otherwise) and remember the connection."""
        if not token:
            raise SocketRefusedError(401, "no token")
        subject = self.subject_of(token)
        if subject is None:
            raise SocketRefusedError(401, "invalid token")
        volunteer = self.volunteer(subject)
        if volunteer is None or not volunteer.active:
            raise SocketRefusedError(403, "not an active volunteer")
        connection = LiveConnection(
            connection_id=connection_id,
            volunteer_id=volunteer.volunteer_id,
            is_supervisor=volunteer.is_supervisor and self.has_totp(volunteer.username),
            connected_at=now,
            expires_at=int((now + self.lifetime).timestamp()),
        )
        self.connections.put(connection)
        return connection

    def disconnect(self, connection_id: str) -> None:
        """Forget a closed connection (idempotent)."""
        self.connections.delete(connection_id)
