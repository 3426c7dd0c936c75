"""What happens once the engine decided: the change remembered on the texter (so a replay re-sends instead of
deciding again), the line's own texts kept in the transcript, then the commit's effects queued and pushed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from peerline.engine_core import (
    REMEMBERED_EVENTS,
    EngineEvent,
    Outcome,
    applied_event,
    epoch,
    logger,
    texter_of,
)
from peerline.engine_crisis import EngineCrisis
from peerline.lifecycle import (
    ConversationChange,
    forget_conversation,
)
from peerline.models import (
    ConversationRecord,
    ConversationState,
    StoredMessage,
    TexterRecord,
    TimerKind,
)
from peerline.push import events_for_change, publish_quietly

# Sent even to a texter over their rate limit: what a crisis and an opt-out owe them.
_ALWAYS_SENT = frozenset({"safety", "stopped"})


class EngineEffects(EngineCrisis):
    """Finishing, replaying and dispatching a committed change."""

    def _finish(self, change: ConversationChange, event: EngineEvent) -> ConversationChange:
        """Stamp the change with the event, so a replay of it re-sends instead of re-deciding."""
        if change.quiet_to_texter:
            change.outbound = [
                text
                for text in change.outbound
                if text.recipient_id != texter_of(change).texter_id or text.purpose in _ALWAYS_SENT
            ]
        self._keep_automatic_texts(change, event)
        remembered = [*texter_of(change).recent_events, applied_event(event.event_id, change)][-REMEMBERED_EVENTS:]
        closed = change.conversation is not None and change.conversation.state is ConversationState.CLOSED
        if closed and change.conversation is not None:
            # A closed conversation is forgotten like any close (a STOP with consent too): nothing on the texter's
            # record may link back to it, not even this replay memory.
            remembered = [forget_conversation(applied, change.conversation.conversation_id) for applied in remembered]
        change.texter = texter_of(change).model_copy(update={"recent_events": remembered})
        return change

    def _keep_automatic_texts(self, change: ConversationChange, event: EngineEvent) -> None:
        """The line's own texts to the texter join the open conversation's transcript, in the order they are sent,
        so the volunteer knows what the texter was already told. Committed with the event's change (ids and keys
        derive from the event, so it is stored once); never pages, never texts of a closed conversation."""
        conversation = change.conversation
        if conversation is None or change.delete_conversation or not conversation.is_open:
            return
        to_texter = [
            text
            for text in change.outbound
            if text.recipient_id == texter_of(change).texter_id and text.conversation_id == conversation.conversation_id
        ]
        # After the event's own inbound text (whose key is "<received at>#<sid>"), in sending order.
        stamp = (event.received_at or event.at).isoformat()
        expires_at = epoch(event.at + timedelta(hours=self._settings.message_ttl_hours))
        change.new_messages += [
            StoredMessage.automatic(
                text,
                conversation_id=conversation.conversation_id,
                key=f"{stamp}#{event.event_id}#{position:02d}",
                at=event.at,
                expires_at=expires_at,
            )
            for position, text in enumerate(to_texter)
        ]

    def _replay(self, texter: TexterRecord, event_id: str) -> Outcome | None:
        for applied in texter.recent_events:
            if applied.event_id == event_id:
                self._purge(applied.purge_messages_of)
                if texter.opted_out:
                    # A replay (a webhook has no timestamp) must never text an opted-out person again; only
                    # the opt-out confirmation itself and pages to on-call may be re-queued (deduplicated).
                    self._outbound.enqueue([t for t in applied.outbound if t.purpose in ("stopped", "page")])
                    self._timers.schedule([t for t in applied.timers if t.kind is TimerKind.ESCALATION_REPAGE])
                else:
                    self._outbound.enqueue(applied.outbound)
                    self._timers.schedule(applied.timers)
                if applied.notifications and self._crisis is not None:
                    self._crisis.notifier.publish(applied.notifications)
                return Outcome.REPLAYED
        return None

    def _purge(self, conversation_ids: Sequence[str]) -> None:
        """Bodies of closed conversations go before anything is texted, so a failed send can't leave them behind.
        A failed purge doesn't hold the texts back: the bodies' TTL is the safety net."""
        for conversation_id in conversation_ids:
            try:
                self._repository.delete_messages(conversation_id)
            except Exception:
                logger.exception("purging a closed conversation's bodies failed; their TTL will remove them")

    def _dispatch(self, change: ConversationChange, *, before: ConversationRecord | None) -> None:
        self._purge(change.purge_messages_of)
        self._outbound.enqueue(change.outbound)
        self._timers.schedule(change.timers)
        if change.notifications and self._crisis is not None:
            self._crisis.notifier.publish(change.notifications)
        self._append_audit(change)
        # Dashboards hear of this change before routing offers it on (so they never see the two out of order).
        self._push_live(change, before)
        if (change.entered_queue or change.loads) and self._on_queued is not None:
            try:
                self._on_queued()
            except Exception:
                # The text itself is applied; routing is retried by every timer and availability change.
                logger.exception("routing after a state change failed")

    def _append_audit(self, change: ConversationChange) -> None:
        if not change.audit:
            return
        if self._audit is None:
            logger.error(
                "an audited change was committed but this engine has no audit log", extra={"n": len(change.audit)}
            )
            return
        for entry in change.audit:
            self._audit.append(entry)

    def _push_live(self, change: ConversationChange, before: ConversationRecord | None) -> None:
        after = change.conversation
        events = events_for_change(
            before if after is None or before is None or before.conversation_id == after.conversation_id else None,
            after,
            new_messages=change.new_messages,
            new_escalation=change.new_escalation,
            released=[load.volunteer_id for load in change.loads],
            summarize=self._summarize,
        )
        publish_quietly(self._live, events)
