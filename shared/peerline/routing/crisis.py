"""A volunteer's escalate: the same safety text, page and audit as triage's, and what a repeated press did."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from peerline.escalation import PROMPTS, acknowledged_by, plan_escalation
from peerline.lifecycle import ConversationChange
from peerline.models import (
    EscalationRecord,
    EscalationStatus,
    StoredMessage,
    VolunteerRecord,
)
from peerline.risk import RiskLevel, highest
from peerline.routing.core import RoutingContext
from peerline.routing.model import (
    NotEligibleError,
    NotFoundError,
)


@dataclass(frozen=True)
class Escalated:
    """What pressing "escalate" did: paged on-call, or found an escalation already open or acknowledged."""

    escalation: EscalationRecord
    outcome: Literal["paged", "already_open", "already_acknowledged"]

    @property
    def message(self) -> str:
        escalation = self.escalation
        if self.outcome == "paged":
            return f"On-call has been paged (code {escalation.code}); the texter got the safety text."
        if self.outcome == "already_open":
            return (
                f"Already escalated (code {escalation.code}): on-call was paged {escalation.page_count} time(s) and "
                "is paged again until someone acknowledges. No new page was sent."
            )
        return f"Already acknowledged {acknowledged_by(escalation)} (code {escalation.code}). No new page was sent."


class CrisisRouting(RoutingContext):
    """Escalate from the dashboard."""

    def escalate(self, caller: VolunteerRecord, conversation_id: str) -> Escalated:
        """A volunteer's "escalate": at least ``high``, the same safety text, page and audit as triage's.

        Pressing it again pages nobody new and says so: the escalation is still open (being paged), or someone
        acknowledged it already.
        """
        if self.crisis is None:
            raise NotEligibleError("escalation is not configured")
        now = self.clock()
        conversation = self.repository.get_conversation(conversation_id)
        if conversation is None or not self.may_see(caller, conversation):
            raise NotFoundError("no such conversation")
        level = highest([conversation.risk_level, RiskLevel.HIGH])
        texter = self.repository.get_texter(conversation.texter_id)
        if conversation.escalation_id and conversation.escalated_level.at_least(level):
            existing = self.crisis.service.get(conversation.escalation_id)
            if existing is not None:
                if not existing.dispatched:
                    # The first press was recorded but crashed before its texts were queued: queue them now.
                    self.crisis.service.redispatch(existing, texter, self.replies.text("safety", conversation.language))
                    return Escalated(existing, "paged")
                # Already escalated at this level: pressing the button twice pages once.
                acknowledged = existing.status is EscalationStatus.ACKNOWLEDGED
                return Escalated(existing, "already_acknowledged" if acknowledged else "already_open")
        if texter is None:
            raise NotFoundError("the texter's record is gone")
        plan = plan_escalation(
            event_id=f"volunteer:{caller.volunteer_id}:{conversation_id}:{conversation.version}",
            conversation=conversation,
            texter=texter,
            level=level,
            categories=conversation.risk_categories or ["volunteer_concern"],
            rules=["volunteer_escalation"],
            trigger=f"volunteer:{caller.display_name}",
            now=now,
            directory=self.crisis.directory,
            replies=self.replies,
            settings=self.crisis.settings,
            dispatched=False,
        )
        updated = conversation.model_copy(
            update={
                "risk_level": level,
                "priority": level,
                "escalation_id": plan.escalation.escalation_id,
                "escalated_level": level,
                "volunteer_prompt": PROMPTS[level],
            }
        )
        self.commit_or_conflict(
            conversation,
            ConversationChange(
                conversation=updated,
                expected_conversation_version=conversation.version,
                new_escalation=plan.escalation,
                # The safety text joins the transcript (same id as the text), so the volunteer knows it was sent.
                new_messages=[
                    StoredMessage.automatic(
                        text,
                        conversation_id=conversation_id,
                        key=f"{now.isoformat()}#{text.outbound_id}",
                        at=now,
                        expires_at=int((now + timedelta(hours=self.settings.message_ttl_hours)).timestamp()),
                    )
                    for text in plan.outbound
                    if text.purpose == "safety"
                ],
            ),
        )
        self.crisis.service.dispatch(plan)
        self.crisis.service.mark_dispatched(plan.escalation.escalation_id)
        return Escalated(plan.escalation, "paged")
