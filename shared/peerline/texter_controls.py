"""What a supervisor may do to a texter, by the alias the dashboard shows (never by number): erase them, block
them for a while with a reason, lift a block. Every operation is audited first (the supervisor's volunteer id, the
action, the alias, the reason), so nothing is done that the audit log doesn't hold.

A block keeps the texter's texts away from volunteers until it lapses by itself (at most ``MAX_BLOCK_HOURS``); they
are still triaged, so a crisis text still gets the safety text and still pages on-call (see
``ConversationEngine._while_blocked``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from peerline.audit import AuditEntry, AuditLog
from peerline.erasure import ERASE_ACTION, erasure, erasure_confirmation
from peerline.escalation import EscalationService, unlinked_at_close
from peerline.lifecycle import ConversationChange, closing, unlinked_texter
from peerline.models import ConversationRecord, TexterRecord
from peerline.phone import texter_alias
from peerline.ports import ConcurrentUpdateError, OutboundQueue, utc_now
from peerline.replies import ReplyBook
from peerline.routing import ConflictError, NotFoundError

# A block is a pause, not a ban: the longest a supervisor may choose (30 days).
MAX_BLOCK_HOURS = 24 * 30
BLOCK_ACTION = "block_texter"
UNBLOCK_ACTION = "unblock_texter"
_ATTEMPTS = 5


class TexterStore(Protocol):
    def texters_with_alias(self, alias: str) -> list[TexterRecord]:
        """Every texter whose alias is ``alias`` (``"Texter 4F2A"``)."""
        ...

    def get_texter(self, texter_id: str) -> TexterRecord | None: ...

    def get_conversation(self, conversation_id: str) -> ConversationRecord | None: ...

    def commit(self, change: ConversationChange) -> None: ...

    def delete_messages(self, conversation_id: str) -> int: ...


class Committer(Protocol):
    def commit(self, before: ConversationRecord, change: ConversationChange) -> None:
        """Commit a change to a conversation and tell the dashboards concerned (the router's commit)."""
        ...

    def route_waiting(self) -> object: ...


@dataclass(frozen=True)
class TexterBlockState:
    alias: str
    blocked_until: datetime | None


@dataclass(frozen=True)
class TexterControls:
    store: TexterStore
    router: Committer
    escalations: EscalationService
    outbound: OutboundQueue
    audit: AuditLog
    replies: ReplyBook
    retention_days: int
    clock: Callable[[], datetime] = field(default=utc_now)

    def texter(self, alias: str) -> TexterRecord:
        """The one texter with this alias; none → ``NotFoundError``; several (aliases are short) → ``ConflictError``."""
        found = self.store.texters_with_alias(alias)
        if not found:
            raise NotFoundError(f"no texter {alias}")
        if len(found) > 1:
            raise ConflictError(f"{alias} names {len(found)} texters: act from their conversation or escalation")
        return found[0]

    def erase(self, actor_id: str, alias: str, *, reason: str = "") -> None:
        """Erase the texter (see ``peerline.erasure``), with one confirmation text unless they opted out."""
        self.texter(alias)
        self.audit.append(
            AuditEntry(actor_id=actor_id, action=ERASE_ACTION, subject=alias, reason=reason, at=self.clock())
        )
        for _ in range(_ATTEMPTS):
            texter = self.texter(alias)
            conversation = (
                self.store.get_conversation(texter.open_conversation_id) if texter.open_conversation_id else None
            )
            change = erasure(
                texter,
                conversation,
                self.escalations.linked_to(texter_id=texter.texter_id),
                now=self.clock(),
                retention_days=self.retention_days,
            )
            try:
                if conversation is not None and change.conversation is not None:
                    self.router.commit(conversation, change)
                else:
                    self.store.commit(change)
            except ConcurrentUpdateError:
                continue
            for closed in change.purge_messages_of:
                self.store.delete_messages(closed)
            if not texter.opted_out:
                body = self.replies.text("erased", texter.language)
                event_id = f"erase-{uuid.uuid4().hex}"
                self.outbound.enqueue([erasure_confirmation(texter, event_id=event_id, body=body)])
            if change.loads:
                self.router.route_waiting()
            return
        raise ConflictError("the texter keeps changing; try again")

    def block(self, actor_id: str, alias: str, *, reason: str, hours: int) -> TexterBlockState:
        """Block for ``hours`` (1 to ``MAX_BLOCK_HOURS``): an open conversation closes now, and the texter gets one
        notice at their next text."""
        if not 1 <= hours <= MAX_BLOCK_HOURS:
            raise ValueError(f"a block lasts 1 to {MAX_BLOCK_HOURS} hours")
        now = self.clock()
        self.texter(alias)
        self.audit.append(
            AuditEntry(actor_id=actor_id, action=BLOCK_ACTION, subject=alias, reason=f"{reason} ({hours} h)", at=now)
        )
        until = now + timedelta(hours=hours)
        for _ in range(_ATTEMPTS):
            texter = self.texter(alias)
            blocked = texter.model_copy(update={"blocked_until": until, "block_notice_sent": False})
            conversation = (
                self.store.get_conversation(texter.open_conversation_id) if texter.open_conversation_id else None
            )
            try:
                if conversation is not None and conversation.is_open:
                    # The conversation ends now, like any close (bodies purged, its volunteer told and freed); the
                    # texter hears of the block at their next text.
                    self._close_for_block(blocked, conversation)
                else:
                    self.store.commit(ConversationChange(texter=blocked, expected_texter_version=texter.version))
            except ConcurrentUpdateError:
                continue
            return TexterBlockState(alias=alias, blocked_until=until)
        raise ConflictError("the texter keeps changing; try again")

    def _close_for_block(self, texter: TexterRecord, conversation: ConversationRecord) -> None:
        now = self.clock()
        notice = f"{now:%H:%M} UTC: the conversation with {texter_alias(texter.texter_id)} was closed: a supervisor blocked the texter."
        change = closing(conversation, reason="blocked", now=now, retention_days=self.retention_days, notice=notice)
        change.texter = unlinked_texter(texter, conversation, now)
        change.expected_texter_version = texter.version
        if conversation.escalation_id is not None:
            linked = self.escalations.linked_to(conversation_id=conversation.conversation_id)
            change.escalations = unlinked_at_close(linked, conversation)
        self.router.commit(conversation, change)
        for closed in change.purge_messages_of:
            self.store.delete_messages(closed)
        self.router.route_waiting()

    def unblock(self, actor_id: str, alias: str, *, reason: str) -> TexterBlockState:
        """Lift a block at once (the texter's next text is answered as usual)."""
        self.texter(alias)
        self.audit.append(
            AuditEntry(actor_id=actor_id, action=UNBLOCK_ACTION, subject=alias, reason=reason, at=self.clock())
        )
        self._update(alias, blocked_until=None, block_notice_sent=False)
        return TexterBlockState(alias=alias, blocked_until=None)

    def _update(self, alias: str, **values: object) -> None:
        for _ in range(_ATTEMPTS):
            texter = self.texter(alias)
            try:
                self.store.commit(
                    ConversationChange(texter=texter.model_copy(update=values), expected_texter_version=texter.version)
                )
                return
            except ConcurrentUpdateError:
                continue
        raise ConflictError("the texter keeps changing; try again")


def alias_of(code: str) -> str:
    """``"4f2a"`` → ``"Texter 4F2A"``: the alias as the dashboard shows it, from the code a supervisor typed."""
    return texter_alias(code)
