"""Crisis within the engine: triage every kept text, raise the conversation's level, open an escalation in the
same change; and an on-call professional's ``ACK <code>``."""

from __future__ import annotations

from peerline.engine_core import (
    MAX_RISK_SIGNALS,
    EngineCore,
    EngineEvent,
    Outcome,
    texter_of,
)
from peerline.escalation import (
    PROMPTS,
    parse_ack,
    plan_escalation,
)
from peerline.lifecycle import (
    ConversationChange,
    transition,
)
from peerline.models import (
    ConversationRecord,
    ConversationState,
    InboundText,
    OutboundText,
    TimerKind,
)
from peerline.risk import RiskLevel, highest


class EngineCrisis(EngineCore):
    """Triage and escalation as part of deciding a texter's event."""

    def _assess(
        self,
        change: ConversationChange,
        event: EngineEvent,
        text: InboundText,
        *,
        conversation: ConversationRecord | None,
    ) -> None:
        """Triage the text; raise the conversation's level and priority; escalate high and imminent risk."""
        if self._triage is None:
            return
        # Frames combine across the texter's recent texts: the means in one text, the time in the next.
        context = conversation.risk_signals if conversation is not None else []
        result = self._triage(text.body, context=context)
        level = RiskLevel(result.level)
        if conversation is not None and result.signals:
            remembered = list(dict.fromkeys([*conversation.risk_signals, *result.signals]))[-MAX_RISK_SIGNALS:]
            if remembered != conversation.risk_signals:
                conversation = conversation.model_copy(update={"risk_signals": remembered})
                change.conversation = conversation
        if not level.at_least(RiskLevel.CONCERN):
            return
        escalate = self._crisis is not None and level.escalates
        if conversation is not None:
            risk = highest([conversation.risk_level, level])
            conversation = conversation.model_copy(
                update={
                    "risk_level": risk,
                    "risk_categories": sorted({*conversation.risk_categories, *result.categories}),
                    "priority": highest([conversation.priority, risk]),
                    "volunteer_prompt": PROMPTS[risk],
                }
            )
            escalate = escalate and level.rank > conversation.escalated_level.rank
            change.conversation = conversation
        elif escalate and self._open_escalation_of(texter_of(change).texter_id, at_least=level):
            # No conversation (an opted-out texter): their open escalation is still being paged until someone
            # acknowledges it; another crisis text at the same level must not start a second page cycle.
            escalate = False
        if not escalate:
            return
        assert self._crisis is not None
        plan = plan_escalation(
            event_id=event.event_id,
            conversation=conversation,
            texter=texter_of(change),
            level=level,
            categories=result.categories,
            rules=result.rules,
            trigger="triage",
            now=event.at,
            directory=self._crisis.directory,
            replies=self._replies,
            settings=self._crisis.settings,
        )
        change.new_escalation = plan.escalation
        safety = [text for text in plan.outbound if text.purpose == "safety"]
        pages = [text for text in plan.outbound if text.purpose != "safety"]
        # The safety text goes first, before anything else this event sends (e.g. the welcome).
        change.outbound = [*safety, *change.outbound, *pages]
        change.timers += plan.timers
        change.notifications += plan.notifications
        if conversation is not None:
            conversation = conversation.model_copy(
                update={"escalation_id": plan.escalation.escalation_id, "escalated_level": level}
            )
            change.conversation = conversation
            if conversation.state in (ConversationState.NEW, ConversationState.CONSENT_PENDING):
                # Support never waits on consent, least of all in a crisis: queue now, at the top.
                waiting = transition(conversation, ConversationState.WAITING)
                change.conversation = waiting.model_copy(update={"waiting_since": event.at})
                change.entered_queue = True
                self._schedule(change, event, TimerKind.STILL_WAITING, self._settings.still_waiting_seconds)

    def _open_escalation_of(self, texter_id: str, *, at_least: RiskLevel) -> bool:
        """Whether the texter has an open (unacknowledged) escalation at ``at_least`` or higher."""
        assert self._crisis is not None
        return any(
            escalation.texter_id == texter_id and escalation.level.at_least(at_least)
            for escalation in self._crisis.service.open_escalations()
        )

    def _acknowledge_page(self, text: InboundText) -> Outcome | None:
        """``ACK <code>`` from an on-call professional's phone acknowledges the escalation (and stops re-paging)."""
        assert self._crisis is not None
        code = parse_ack(text.body)
        member = self._crisis.directory.member_for(text.texter_id) if code else None
        if code is None or member is None:
            return None
        acknowledgement = self._crisis.service.acknowledge_code(code, actor=f"on-call:{member.name}")
        if acknowledgement is None:
            body = f"Peerline: no escalation with code {code}. Check the code and reply ACK <code>."
        elif acknowledgement.already:
            # Say who was first, so a second professional doesn't assume they own the follow-up.
            body = f"Peerline: {acknowledgement.message}"
        else:
            escalation = acknowledgement.escalation
            body = (
                f"Peerline: escalation {code} acknowledged ({escalation.texter_alias}, {escalation.level}). Thank you."
            )
        self._outbound.enqueue(
            [
                OutboundText(
                    outbound_id=f"{text.message_sid}:ack",
                    recipient_id=member.target_id,
                    encrypted_to=text.encrypted_number,
                    body=body,
                    purpose="ack",
                )
            ]
        )
        return Outcome.APPLIED

    def _keep_and_assess(self, change: ConversationChange, event: EngineEvent, text: InboundText) -> None:
        """Keep the texter's text for the volunteer, then triage it (which may escalate)."""
        self._store_inbound(change, event, text)
        self._assess(change, event, text, conversation=change.conversation)
