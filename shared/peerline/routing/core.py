"""What every routing use case shares: the ports, one commit (then the live push), and the small steps
they all take (who may see a conversation, texting the texter, scheduling timers)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta

from peerline.conversation import ConcurrentUpdateError, CrisisDesk, OutboundQueue, TimerQueue, utc_now
from peerline.lifecycle import ConversationChange, LoadChange, transition
from peerline.models import (
    ConversationRecord,
    ConversationState,
    OutboundText,
    StoredMessage,
    VolunteerRecord,
    decline_lapse_timer,
    inactivity_timer,
)
from peerline.push import LivePush, NoLivePush, events_for_change, publish_quietly
from peerline.replies import ReplyBook
from peerline.routing.eligibility import (
    is_crisis,
)
from peerline.routing.model import (
    ConflictError,
    NotEligibleError,
    NotFoundError,
    RoutingRepository,
    RoutingSettings,
)
from peerline.views import ConversationViews


class RoutingContext:
    """The ports and shared steps of routing; each use case (offers, handover, relay, crisis) builds on it."""

    def __init__(
        self,
        repository: RoutingRepository,
        outbound: OutboundQueue,
        timers: TimerQueue,
        replies: ReplyBook,
        settings: RoutingSettings,
        clock: Callable[[], datetime] = utc_now,
        crisis: CrisisDesk | None = None,
        live: LivePush | None = None,
    ) -> None:
        self.repository = repository
        self.outbound = outbound
        self.timers = timers
        self.replies = replies
        self.settings = settings
        self.clock = clock
        self.crisis = crisis
        # Live dashboard updates, pushed after each committed change.
        self.live: LivePush = live or NoLivePush()
        self.views = ConversationViews(repository, crisis.service if crisis is not None else None, clock)

    def may_see(self, caller: VolunteerRecord, conversation: ConversationRecord) -> bool:
        if caller.is_supervisor:
            return conversation.is_open
        return conversation.volunteer_id == caller.volunteer_id and conversation.state in (
            ConversationState.OFFERED,
            ConversationState.ACTIVE,
        )

    def held(
        self,
        conversation_id: str,
        volunteer_id: str,
        state: ConversationState,
        *,
        caller: VolunteerRecord | None = None,
    ) -> ConversationRecord:
        conversation = self.repository.get_conversation(conversation_id)
        supervisor = caller is not None and caller.is_supervisor
        if conversation is None or (conversation.volunteer_id != volunteer_id and not supervisor):
            # Indistinguishable from "doesn't exist": a volunteer learns nothing about others' conversations.
            raise NotFoundError("no such conversation")
        if conversation.state is not state:
            raise ConflictError(f"the conversation is {conversation.state}, not {state}")
        return conversation

    def volunteer(self, volunteer_id: str) -> VolunteerRecord:
        volunteer = self.repository.get_volunteer(volunteer_id)
        if volunteer is None:
            raise NotEligibleError("not a registered volunteer")
        return volunteer

    def back_to_queue(self, conversation: ConversationRecord, volunteer_id: str) -> ConversationChange:
        now = self.clock()
        waiting = transition(conversation, ConversationState.WAITING).model_copy(
            update={
                "volunteer_id": None,
                "offer_id": None,
                "offer_expires_at": None,
                "needs_supervisor": False,
                "excluded_volunteers": sorted({*conversation.excluded_volunteers, volunteer_id}),
                "excluded_since": {**conversation.excluded_since, volunteer_id: now},
                # A transferred-back conversation keeps its place: it has waited since it first waited.
                "waiting_since": conversation.waiting_since or now,
            }
        )
        return ConversationChange(
            conversation=waiting,
            expected_conversation_version=conversation.version,
            loads=[LoadChange(volunteer_id, -1)],
        )

    def commit_or_conflict(self, before: ConversationRecord, change: ConversationChange) -> None:
        try:
            self.commit(before, change)
        except ConcurrentUpdateError as error:
            raise ConflictError("the conversation changed meanwhile; reload and try again") from error

    def try_commit(self, before: ConversationRecord, change: ConversationChange) -> None:
        """Best effort: if the conversation moved meanwhile, whatever moved it took care of it."""
        with contextlib.suppress(ConcurrentUpdateError):
            self.commit(before, change)

    def commit(self, before: ConversationRecord, change: ConversationChange) -> None:
        """Commit a routing change, then tell the dashboards concerned (after the commit, never instead of it)."""
        self.repository.commit(change)
        events = events_for_change(
            before,
            change.conversation,
            new_messages=change.new_messages,
            new_escalation=change.new_escalation,
            released=[load.volunteer_id for load in change.loads],
            summarize=lambda conversation: self.views.summary(conversation, escalation=change.new_escalation),
        )
        publish_quietly(self.live, events)

    def joined_text(self, conversation: ConversationRecord, volunteer: VolunteerRecord) -> str:
        # After a safety text the texter hears who is joining, not a generic "What's on your mind?".
        reply = "joined_crisis" if conversation.escalation_id else "joined"
        return self.replies.text(reply, conversation.language, name=volunteer.display_name)

    def kept_text(
        self, conversation: ConversationRecord, key: str, body: str, at: datetime, *, purpose: str | None = None
    ) -> list[StoredMessage]:
        """The automatic text ``_text_texter`` sends under ``key``, as a transcript message with the same id."""
        message_id = f"{conversation.conversation_id}:{key}"
        return [
            StoredMessage(
                conversation_id=conversation.conversation_id,
                message_key=f"{at.isoformat()}#{message_id}",
                message_id=message_id,
                direction="automatic",
                body=body,
                at=at,
                expires_at=int((at + timedelta(hours=self.settings.message_ttl_hours)).timestamp()),
                purpose=purpose or key.split(":")[0],
            )
        ]

    def text_texter(self, conversation: ConversationRecord, key: str, body: str, *, purpose: str | None = None) -> None:
        texter = self.repository.get_texter(conversation.texter_id) if conversation.texter_id else None
        if texter is None or texter.opted_out:
            return
        self.outbound.enqueue(
            [
                OutboundText(
                    outbound_id=f"{conversation.conversation_id}:{key}",
                    recipient_id=texter.texter_id,
                    encrypted_to=texter.encrypted_number,
                    body=body,
                    purpose=purpose or key.split(":")[0],
                    conversation_id=conversation.conversation_id,
                    texter_id=texter.texter_id,
                )
            ]
        )

    def schedule_lapse(self, conversation: ConversationRecord) -> None:
        """Route again when the exclusion just added lapses, in case nobody else took the conversation by then."""
        if is_crisis(conversation):
            return  # lapses at once: the route_waiting that follows already counts the volunteer back in
        lapses_at = self.clock() + timedelta(seconds=self.settings.decline_lapse_seconds)
        self.timers.schedule([decline_lapse_timer(conversation.conversation_id, conversation.texter_id, lapses_at)])

    def schedule_inactivity(self, conversation: ConversationRecord, activity_at: datetime) -> None:
        after = timedelta(minutes=self.settings.inactivity_close_minutes)
        self.timers.schedule(
            [inactivity_timer(conversation.conversation_id, conversation.texter_id, activity_at, after)]
        )
