"""Erasing a texter — their own ``DELETE`` / ``BORRAR``, or a supervisor's erase by alias — as one change.

What goes, in one transaction: the texter's record (encrypted number, language, opt-out and block state, the
replay memory of recent events), their open conversation and its metadata even with consent (bodies purged right
after the commit, like any close; the holder's dashboard hears it closed), and every link to them in escalation
records. An escalation still being paged stays open and keeps paging — crisis safety first — but under an anonymous
alias, and no number can be revealed for it any more (the encrypted number is gone). Metadata of conversations that
closed earlier was already unlinked from the texter at its close: nothing leads from the texter to it.

The confirmation text carries the encrypted number itself (``OutboundText.encrypted_to``), so it is queued from the
record read before the erasure and still reaches the texter once the record is gone. It names no texter and no
conversation, so its delivery is recorded against neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from peerline.audit import TEXTER_ACTOR, AuditEntry
from peerline.escalation import unlinked_escalation
from peerline.lifecycle import ConversationChange, closing
from peerline.models import ConversationRecord, EscalationRecord, OutboundText, TexterRecord

ERASE_ACTION = "erase_texter"


def erasure(
    texter: TexterRecord,
    conversation: ConversationRecord | None,
    linked: Sequence[EscalationRecord],
    *,
    now: datetime,
    retention_days: int,
) -> ConversationChange:
    """The change that erases ``texter``: their record, their open ``conversation`` (closed and deleted whatever
    the consent) and the texter/conversation links of the escalations ``linked`` to them. The caller audits it
    (a texter's own erasure anonymously: ``texter_erased_itself``)."""
    if conversation is not None and conversation.is_open:
        change = closing(
            conversation, reason="erased", now=now, retention_days=retention_days, best_effort_release=True
        )
        # The texter asked for everything: consented metadata of this conversation goes too.
        change.delete_conversation = True
    else:
        change = ConversationChange()
    change.texter = texter
    change.expected_texter_version = texter.version
    change.delete_texter = True
    unique = {escalation.escalation_id: escalation for escalation in linked}
    change.escalations = [unlinked_escalation(escalation, keep_conversation=False) for escalation in unique.values()]
    change.counters[f"texters_erased#{now:%Y-%m-%d}"] = 1
    return change


def texter_erased_itself(now: datetime) -> AuditEntry:
    """A texter's own erasure, audited without an alias or an id: only that it happened, and when."""
    return AuditEntry(actor_id=TEXTER_ACTOR, action=ERASE_ACTION, at=now)


def erasure_confirmation(texter: TexterRecord, *, event_id: str, body: str) -> OutboundText:
    """The one text that says what was erased, to the number read before the erasure (its id derives from the
    event, so a retried erasure is deduplicated downstream)."""
    return OutboundText(
        outbound_id=f"{event_id}:erased",
        recipient_id=texter.texter_id,
        encrypted_to=texter.encrypted_number,
        body=body,
        purpose="erased",
    )
