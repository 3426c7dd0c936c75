"""Escalation to professional services: the safety text, the page, re-paging until acknowledged, the audit trail.

An escalation is created in the same atomic change as the conversation update that triggered it (its id derives
from the triggering event, so a replay or a duplicate trigger creates nothing new). Pages go out through the
outbound queue (SMS) and a notification topic (SNS); a re-page timer follows every page and does nothing once the
escalation is acknowledged, or once a newer page has gone out.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from peerline.api_models import actor_name
from peerline.models import (
    AuditEvent,
    Consent,
    ConversationRecord,
    ConversationTimer,
    EscalationRecord,
    EscalationStatus,
    Notification,
    OutboundText,
    TexterRecord,
    TimerKind,
)
from peerline.phone import texter_alias
from peerline.ports import ConcurrentUpdateError, OutboundQueue, TimerQueue, utc_now
from peerline.push import LivePush, NoLivePush, escalation_event, publish_quietly
from peerline.replies import ReplyBook
from peerline.risk import RiskLevel

# Unambiguous on a phone keyboard (no 0/O, 1/I/L).
_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
# "ACK 7KQ2MX", "ack: 7kq2mx", "Ack #7KQ2MX." — but not "acknowledge" (a separator is required).
_ACK = re.compile(r"^\s*ack(?:\s+|\s*[:#-]\s*)#?\s*([a-z0-9]{4,8})\s*[.!]?\s*$", re.IGNORECASE)

PROMPTS: dict[RiskLevel, str] = {
    RiskLevel.CONCERN: "Ask directly: “Are you thinking about suicide?” Asking does not put the idea in their head.",
    RiskLevel.HIGH: (
        "Screen now: “Are you thinking about killing yourself?” · “Have you thought about how?” · "
        "“Do you have access to that now?” · “When were you thinking of doing it?” — a professional has been paged."
    ),
    RiskLevel.IMMINENT: (
        "Imminent risk: stay with them. Ask where they are and whether they are safe right now; "
        "a professional has been paged and may contact emergency services."
    ),
}


def escalation_code(escalation_id: str) -> str:
    """A 6-character code the on-call professional texts back; derived, so a replay gives the same code."""
    number = int(hashlib.sha256(escalation_id.encode()).hexdigest(), 16)
    characters = []
    for _ in range(6):
        number, index = divmod(number, len(_CODE_ALPHABET))
        characters.append(_CODE_ALPHABET[index])
    return "".join(characters)


def parse_ack(body: str) -> str | None:
    """The code in an ``ACK <code>`` text, upper-cased, or None."""
    match = _ACK.match(body)
    return match.group(1).upper() if match else None


@dataclass(frozen=True)
class PageTarget:
    """Someone who can be paged: an on-call professional from the rota, or the deployment's fallback number."""

    target_id: str
    name: str
    encrypted_number: str


class OnCallDirectory(Protocol):
    def targets(self) -> list[PageTarget]:
        """The rota in order (the fallback number last, or alone when the rota is empty)."""
        ...

    def member_for(self, sender_id: str) -> PageTarget | None:
        """The on-call professional whose number has this HMAC id, if any."""
        ...


class Notifier(Protocol):
    def publish(self, notifications: Sequence[Notification]) -> None: ...


@dataclass(frozen=True)
class EscalationSettings:
    repage_seconds: int = 300
    # Pages to the same person before the next person on the rota is paged.
    pages_per_person: int = 2
    retention_days: int = 90


@dataclass
class EscalationPlan:
    """What escalating means right now: the record, texts (safety text first, then the page), timer, notification."""

    escalation: EscalationRecord
    outbound: list[OutboundText] = field(default_factory=list)
    timers: list[ConversationTimer] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)


def page_text(escalation: EscalationRecord) -> str:
    categories = ", ".join(escalation.categories) or "unspecified"
    return (
        f"PEERLINE {escalation.level.upper()} RISK: {escalation.texter_alias} needs a professional now "
        f"({categories}). Reply ACK {escalation.code} to this number to acknowledge (or acknowledge it in the "
        f"Peerline dashboard). If nobody acknowledges, the next person on call is paged."
    )


def repage_timer(
    escalation: EscalationRecord, page_count: int, now: datetime, settings: EscalationSettings, *, retry: bool = False
) -> ConversationTimer:
    """Pages again after ``RepageSeconds`` unless someone acknowledged, or a newer page went out, by then."""
    suffix = f":{now.isoformat()}" if retry else ""
    return ConversationTimer(
        timer_id=f"{escalation.escalation_id}:repage:{page_count}{suffix}",
        kind=TimerKind.ESCALATION_REPAGE,
        conversation_id=escalation.conversation_id or "",
        texter_id=escalation.texter_id,
        fire_at=now + timedelta(seconds=settings.repage_seconds),
        escalation_id=escalation.escalation_id,
        page_count=page_count,
    )


def _page(
    escalation: EscalationRecord, target: PageTarget, now: datetime, settings: EscalationSettings
) -> EscalationPlan:
    """Page ``target`` once more: SMS + notification + the next re-page timer, all audited."""
    number = escalation.page_count + 1
    paged = escalation.model_copy(
        update={
            "page_count": number,
            "audit": [
                *escalation.audit,
                AuditEvent(
                    at=now, action="paged", actor="peerline", detail=f"page {number} to {target.name} (SMS, SNS)"
                ),
            ],
        }
    )
    body = page_text(paged)
    return EscalationPlan(
        escalation=paged,
        outbound=[
            OutboundText(
                outbound_id=f"{escalation.escalation_id}:page:{number}",
                recipient_id=target.target_id,
                encrypted_to=target.encrypted_number,
                body=body,
                purpose="page",
                conversation_id=escalation.conversation_id,
            )
        ],
        timers=[repage_timer(escalation, number, now, settings)],
        notifications=[
            Notification(
                subject=f"Peerline {escalation.level} escalation {escalation.code} (page {number})",
                message=body,
                dedup_key=f"{escalation.escalation_id}:{number}",
            )
        ],
    )


def plan_escalation(
    *,
    event_id: str,
    conversation: ConversationRecord | None,
    texter: TexterRecord,
    level: RiskLevel,
    categories: Sequence[str],
    rules: Sequence[str],
    trigger: str,
    now: datetime,
    directory: OnCallDirectory,
    replies: ReplyBook,
    settings: EscalationSettings,
    dispatched: bool = True,
) -> EscalationPlan:
    """Open an escalation: a warm safety text to the texter (never repeating what they said), a page to the
    first person on call, a re-page timer, and the audit trail that says what triggered it (rule ids, not text)."""
    escalation_id = f"esc-{hashlib.sha256(event_id.encode()).hexdigest()[:24]}"
    escalation = EscalationRecord(
        escalation_id=escalation_id,
        code=escalation_code(escalation_id),
        conversation_id=conversation.conversation_id if conversation else None,
        texter_id=texter.texter_id,
        texter_alias=texter_alias(texter.texter_id),
        level=level,
        categories=sorted(set(categories)),
        rules=sorted(set(rules)),
        trigger=trigger,
        created_at=now,
        dispatched=dispatched,
        expires_at=int((now + timedelta(days=settings.retention_days)).timestamp()),
        audit=[
            AuditEvent(
                at=now,
                action="escalated",
                actor=trigger,
                detail=f"level {level}; rules: {', '.join(sorted(set(rules))) or 'none'}",
            )
        ],
    )
    targets = directory.targets()
    if targets:
        plan = _page(escalation, targets[0], now, settings)
    else:
        # Nobody to page is a configuration error, and must be loud: audited, and retried by the timer.
        escalation.audit.append(AuditEvent(at=now, action="page_failed", actor="peerline", detail="no one on call"))
        plan = EscalationPlan(
            escalation=escalation,
            timers=[repage_timer(escalation, 0, now, settings)],
        )
    if not texter.opted_out:
        language = conversation.language if conversation else texter.language
        plan.outbound.insert(0, safety_text(escalation, texter, replies.text("safety", language)))
    return plan


def safety_text(escalation: EscalationRecord, texter: TexterRecord, body: str) -> OutboundText:
    """The texter's safety text; its id derives from the escalation, so re-sending it is deduplicated."""
    return OutboundText(
        outbound_id=f"{escalation.escalation_id}:safety",
        recipient_id=texter.texter_id,
        encrypted_to=texter.encrypted_number,
        body=body,
        purpose="safety",
        conversation_id=escalation.conversation_id,
        texter_id=texter.texter_id,
    )


# What an escalation says of its texter once it is unlinked from them.
UNLINKED_ALIAS = "Texter"


def unlinked_escalation(escalation: EscalationRecord, *, keep_conversation: bool) -> EscalationRecord:
    """The escalation with only anonymous facts left (level, categories, times, pages, who acknowledged, its audit
    trail): no texter id or alias, and the conversation id only when that conversation's metadata is kept with
    consent (itself unlinked from the texter)."""
    return escalation.model_copy(
        update={
            "texter_id": "",
            "texter_alias": UNLINKED_ALIAS,
            "conversation_id": escalation.conversation_id if keep_conversation else None,
        }
    )


def unlinked_at_close(
    escalations: Sequence[EscalationRecord], conversation: ConversationRecord
) -> list[EscalationRecord]:
    """The conversation's escalations to rewrite as it closes: acknowledged ones lose their links now. One still
    unacknowledged keeps them — it is still being paged, and its texter's further crisis texts must join it rather
    than start a second page cycle — until it is acknowledged (see ``EscalationService.acknowledge``)."""
    keep_conversation = conversation.consent is Consent.GIVEN
    return [
        unlinked_escalation(escalation, keep_conversation=keep_conversation)
        for escalation in escalations
        if escalation.status is EscalationStatus.ACKNOWLEDGED and escalation.texter_id
    ]


class EscalationStore(Protocol):
    def get(self, escalation_id: str) -> EscalationRecord | None: ...

    def linked_to(self, *, texter_id: str | None = None, conversation_id: str | None = None) -> list[EscalationRecord]:
        """Escalations that still name this texter, or this conversation."""
        ...

    def find_by_code(self, code: str) -> list[EscalationRecord]: ...

    def replace(self, escalation: EscalationRecord, expected_version: int) -> None:
        """Write the escalation if its version is still ``expected_version`` (else ``ConcurrentUpdateError``)."""
        ...

    def open_escalations(self) -> list[EscalationRecord]: ...


def acknowledged_by(escalation: EscalationRecord) -> str:
    """``"by Dr Ana (on-call) at 14:02 UTC"``: who acknowledged, and when, as a person reads it."""
    who = actor_name(escalation.acknowledged_by or "someone")
    at = f"{escalation.acknowledged_at:%H:%M} UTC" if escalation.acknowledged_at else "earlier"
    return f"by {who} at {at}"


@dataclass(frozen=True)
class Acknowledgement:
    """The escalation after an acknowledgement, and whether someone had acknowledged it already."""

    escalation: EscalationRecord
    already: bool

    @property
    def message(self) -> str:
        escalation = self.escalation
        if self.already:
            return (
                f"Escalation {escalation.code} was already acknowledged {acknowledged_by(escalation)}; nothing changed."
            )
        return f"Escalation {escalation.code} acknowledged {acknowledged_by(escalation)}. Re-paging has stopped."


class EscalationService:
    """Re-paging and acknowledgement, shared by the timers, the engine (ACK texts) and the volunteer API."""

    def __init__(
        self,
        store: EscalationStore,
        directory: OnCallDirectory,
        outbound: OutboundQueue,
        timers: TimerQueue,
        notifier: Notifier,
        settings: EscalationSettings,
        clock: Callable[[], datetime] = utc_now,
        live: LivePush | None = None,
        holder_of: Callable[[str], str | None] | None = None,
        conversation_of: Callable[[str], ConversationRecord | None] | None = None,
    ) -> None:
        # Reads an escalation's conversation when it is acknowledged: once that conversation is closed, the
        # acknowledged escalation keeps no link to it or to the texter.
        self._conversation_of = conversation_of
        # Live dashboard updates: supervisors and the volunteer holding the conversation (``holder_of`` finds them)
        # hear of re-pages and acknowledgements once they are stored.
        self._live: LivePush = live or NoLivePush()
        self._holder_of = holder_of or (lambda conversation_id: None)
        self._store = store
        self._directory = directory
        self._outbound = outbound
        self._timers = timers
        self._notifier = notifier
        self._settings = settings
        self._clock = clock

    def repage(self, timer: ConversationTimer) -> bool:
        """Unacknowledged after the re-page time: page again, then the next person on the rota. Stale timers
        (acknowledged, or a newer page already out) do nothing."""
        for _ in range(5):
            escalation = self._store.get(timer.escalation_id or "")
            if escalation is None or escalation.status is EscalationStatus.ACKNOWLEDGED:
                return False
            page_count = timer.page_count or 0
            if escalation.page_count == page_count + 1 and not escalation.dispatched:
                # This timer's page was recorded but its dispatch crashed: send it now (same ids).
                self._resend_current_page(escalation)
                self.mark_dispatched(escalation.escalation_id)
                return True
            if escalation.page_count != page_count:
                return False
            targets = self._directory.targets()
            now = self._clock()
            if not targets:
                return self._nobody_on_call(escalation, now)
            plan = _page(escalation, self._target_for(escalation.page_count + 1, targets), now, self._settings)
            try:
                self._store.replace(plan.escalation.model_copy(update={"dispatched": False}), escalation.version)
            except ConcurrentUpdateError:
                continue
            self._dispatch(plan)
            self.mark_dispatched(escalation.escalation_id)
            self._announce(plan.escalation)
            return True
        return False

    def _announce(self, escalation: EscalationRecord) -> None:
        holder = self._holder_of(escalation.conversation_id) if escalation.conversation_id else None
        publish_quietly(self._live, [escalation_event(escalation, holder)])

    def get(self, escalation_id: str) -> EscalationRecord | None:
        return self._store.get(escalation_id)

    def _target_for(self, page_number: int, targets: Sequence[PageTarget]) -> PageTarget:
        """Each person on the rota is paged ``pages_per_person`` times, then the next, round and round."""
        return targets[((page_number - 1) // self._settings.pages_per_person) % len(targets)]

    def _current_page(self, escalation: EscalationRecord) -> EscalationPlan | None:
        """The plan of the page already recorded (same ids as when it was first made)."""
        targets = self._directory.targets()
        if escalation.page_count < 1 or not targets:
            return None
        previous = escalation.model_copy(update={"page_count": escalation.page_count - 1})
        plan = _page(previous, self._target_for(escalation.page_count, targets), self._clock(), self._settings)
        return plan

    def _resend_current_page(self, escalation: EscalationRecord) -> None:
        plan = self._current_page(escalation)
        if plan is not None:
            self._dispatch(plan)

    def _nobody_on_call(self, escalation: EscalationRecord, now: datetime) -> bool:
        """Audited, and tried again after the re-page time until someone is on call."""
        failed = escalation.model_copy(
            update={
                "audit": [
                    *escalation.audit,
                    AuditEvent(at=now, action="page_failed", actor="peerline", detail="no one on call"),
                ]
            }
        )
        try:
            self._store.replace(failed, escalation.version)
        except ConcurrentUpdateError:
            return False
        # A retry of the same page: its id says when, so each retry is a timer of its own.
        self._timers.schedule([repage_timer(escalation, escalation.page_count, now, self._settings, retry=True)])
        return True

    def redispatch(self, escalation: EscalationRecord, texter: TexterRecord | None, safety_body: str) -> None:
        """Queue an escalation's texts again (the safety text and its current page), then mark it dispatched."""
        plan = self._current_page(escalation) or EscalationPlan(escalation=escalation)
        if texter is not None and not texter.opted_out:
            plan.outbound.insert(0, safety_text(escalation, texter, safety_body))
        self._dispatch(plan)
        self.mark_dispatched(escalation.escalation_id)

    def mark_dispatched(self, escalation_id: str) -> None:
        for _ in range(5):
            escalation = self._store.get(escalation_id)
            if escalation is None or escalation.dispatched:
                return
            try:
                self._store.replace(escalation.model_copy(update={"dispatched": True}), escalation.version)
                return
            except ConcurrentUpdateError:
                continue

    def open_escalations(self) -> list[EscalationRecord]:
        return self._store.open_escalations()

    def acknowledge(self, escalation_id: str, actor: str) -> Acknowledgement | None:
        """Mark acknowledged. A second acknowledgement changes nothing and says who was first. None if unknown."""
        for _ in range(5):
            escalation = self._store.get(escalation_id)
            if escalation is None:
                return None
            if escalation.status is EscalationStatus.ACKNOWLEDGED:
                return Acknowledgement(escalation, already=True)
            now = self._clock()
            acknowledged = self._unlinked_if_closed(
                escalation.model_copy(
                    update={
                        "status": EscalationStatus.ACKNOWLEDGED,
                        "acknowledged_at": now,
                        "acknowledged_by": actor,
                        "audit": [*escalation.audit, AuditEvent(at=now, action="acknowledged", actor=actor)],
                    }
                )
            )
            try:
                self._store.replace(acknowledged, escalation.version)
            except ConcurrentUpdateError:
                continue
            acknowledged = acknowledged.model_copy(update={"version": escalation.version + 1})
            self._announce(acknowledged)
            return Acknowledgement(acknowledged, already=False)
        return None

    def _unlinked_if_closed(self, acknowledged: EscalationRecord) -> EscalationRecord:
        """Acknowledged after its conversation closed: unlinked now, as the close would have done."""
        if self._conversation_of is None or not acknowledged.conversation_id or not acknowledged.texter_id:
            return acknowledged
        conversation = self._conversation_of(acknowledged.conversation_id)
        if conversation is not None and conversation.is_open:
            return acknowledged
        # Still stored once closed means kept with consent (anonymous metadata): the link to it may stay.
        return unlinked_escalation(acknowledged, keep_conversation=conversation is not None)

    def linked_to(self, *, texter_id: str | None = None, conversation_id: str | None = None) -> list[EscalationRecord]:
        """Escalations that still name this texter, or this conversation (for a close or an erasure to unlink)."""
        return self._store.linked_to(texter_id=texter_id, conversation_id=conversation_id)

    def acknowledge_code(self, code: str, actor: str) -> Acknowledgement | None:
        """``ACK <code>`` from an on-call phone: the newest escalation with that code."""
        candidates = sorted(self._store.find_by_code(code.upper()), key=lambda e: e.created_at, reverse=True)
        if not candidates:
            return None
        return self.acknowledge(candidates[0].escalation_id, actor)

    def shown_with(self, conversations: Sequence[ConversationRecord]) -> list[EscalationRecord]:
        """What supervisors see: every open escalation, and acknowledged ones while their conversation is open
        (it can still need a number revealed, or an outcome)."""
        shown = {escalation.escalation_id: escalation for escalation in self._store.open_escalations()}
        for conversation in conversations:
            if conversation.is_open and conversation.escalation_id and conversation.escalation_id not in shown:
                escalation = self._store.get(conversation.escalation_id)
                if escalation is not None:
                    shown[escalation.escalation_id] = escalation
        return sorted(shown.values(), key=lambda escalation: escalation.created_at)

    def audit(self, escalation_id: str, action: str, actor: str, detail: str = "") -> EscalationRecord | None:
        """Add an event to the audit trail (e.g. a number revealed, with the reason)."""
        for _ in range(5):
            escalation = self._store.get(escalation_id)
            if escalation is None:
                return None
            event = AuditEvent(at=self._clock(), action=action, actor=actor, detail=detail)
            updated = escalation.model_copy(update={"audit": [*escalation.audit, event]})
            try:
                self._store.replace(updated, escalation.version)
            except ConcurrentUpdateError:
                continue
            return updated.model_copy(update={"version": escalation.version + 1})
        raise ConcurrentUpdateError(f"could not audit {escalation_id}")

    def dispatch(self, plan: EscalationPlan) -> None:
        self._dispatch(plan)

    def _dispatch(self, plan: EscalationPlan) -> None:
        self._outbound.enqueue(plan.outbound)
        self._timers.schedule(plan.timers)
        self._notifier.publish(plan.notifications)
