"""In-memory fakes of the domain's ports: they keep what they are given so tests can assert on it."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from peerline.conversation import ConcurrentUpdateError
from peerline.errors import PermanentSmsError, TransientSmsError
from peerline.lifecycle import ConversationChange, LoadChange
from peerline.models import (
    ConversationRecord,
    ConversationTimer,
    EscalationRecord,
    InboundText,
    OutboundText,
    TexterRecord,
)
from peerline.number_context import NumberOwner

PEPPER = "unit-test-pepper"
EMERGENCY = "In an emergency call 911, or call or text 988."
EMERGENCY_ES = "En una emergencia llama al 911, o llama o escribe al 988."
START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """A clock that only moves when the test says so."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class EscalationTable(Protocol):
    def check_new(self, escalation: EscalationRecord) -> None: ...

    def put_new(self, escalation: EscalationRecord) -> None: ...

    def check_rewrite(self, escalation: EscalationRecord) -> None: ...

    def rewrite(self, escalation: EscalationRecord) -> None: ...


class InMemoryConversationRepository:
    """The ``ConversationRepository`` protocol on dicts, with the same optimistic locks as the DynamoDB one.

    Records are stored as JSON-ready dicts (what DynamoDB would hold), so tests can inspect exactly what is kept.
    """

    def __init__(self) -> None:
        self.texters: dict[str, dict] = {}
        self.conversations: dict[str, dict] = {}
        # conversation id → message key → stored message
        self.messages: dict[str, dict[str, dict]] = {}
        self.counters: dict[str, int] = {}
        # Volunteers (their load moves with a conversation in the same transaction) and, when wired, the
        # escalation store (an escalation opened with a change is created in the same transaction).
        self.volunteers: dict[str, dict] = {}
        self.escalations: EscalationTable | None = None
        self.commits = 0
        self._conflicts_to_raise = 0

    # -- test controls
    def fail_next_commits(self, times: int = 1) -> None:
        """Make the next ``times`` commits lose a race, as if another worker had committed first."""
        self._conflicts_to_raise = times

    def stored_records(self) -> list[dict]:
        """Every record kept, of every kind (for privacy assertions)."""
        records: list[dict] = [*self.texters.values(), *self.conversations.values()]
        for messages in self.messages.values():
            records += messages.values()
        records.append(dict(self.counters))
        return records

    def messages_of(self, conversation_id: str) -> list[dict]:
        return list(self.messages.get(conversation_id, {}).values())

    def transcript(self, conversation_id: str) -> list[dict]:
        """Every stored message of the conversation in transcript order (by key, as the API lists them)."""
        return [message for _, message in sorted(self.messages.get(conversation_id, {}).items())]

    def texter_messages_of(self, conversation_id: str) -> list[dict]:
        """Only what the texter wrote, in order."""
        return [message for message in self.transcript(conversation_id) if message["direction"] == "inbound"]

    # -- the protocol
    def get_texter(self, texter_id: str) -> TexterRecord | None:
        item = self.texters.get(texter_id)
        return TexterRecord.model_validate(item) if item else None

    def get_conversation(self, conversation_id: str) -> ConversationRecord | None:
        item = self.conversations.get(conversation_id)
        return ConversationRecord.model_validate(item) if item else None

    def commit(self, change: ConversationChange) -> None:
        """Every condition ``DynamoConversationStore.commit`` puts in its transaction, checked before anything
        is written: the change is all or nothing (a best-effort release that fails alone is dropped, as there)."""
        if self._conflicts_to_raise:
            self._conflicts_to_raise -= 1
            raise ConcurrentUpdateError("simulated: another worker committed first")
        if change.texter is not None:
            self._check_version(self.texters.get(change.texter.texter_id), change.expected_texter_version, "texter")
        if change.conversation is not None:
            current = self.conversations.get(change.conversation.conversation_id)
            if change.delete_conversation:
                if current is None or current["version"] != change.expected_conversation_version:
                    raise ConcurrentUpdateError("conversation to delete changed or is gone")
            else:
                self._check_version(current, change.expected_conversation_version, "conversation")
        if change.new_escalation is not None and self.escalations is not None:
            self.escalations.check_new(change.new_escalation)
        for escalation in change.escalations:
            assert self.escalations is not None, "escalations rewritten without an escalation store"
            self.escalations.check_rewrite(escalation)
        touched = [load.volunteer_id for load in change.loads]
        if len(touched) != len(set(touched)):
            # DynamoDB refuses two operations on one item in a transaction (a ValidationException, not a conflict).
            raise ValueError("a transaction can't change one volunteer twice")
        failing = [load for load in change.loads if self._load_refused(load)]
        if failing:
            if all(load.best_effort for load in failing):
                self.commit(change.without_best_effort_loads())
                return
            raise ConcurrentUpdateError(f"volunteer {failing[0].volunteer_id}: {self._load_refused(failing[0])}")
        self._apply(change)

    def _load_refused(self, load: LoadChange) -> str | None:
        """Why DynamoDB would refuse this load change (None: it wouldn't)."""
        volunteer = self.volunteers.get(load.volunteer_id)
        if volunteer is None:
            return "does not exist"
        if load.require_capacity and not (volunteer["load"] < volunteer["max_concurrent"] and volunteer["active"]):
            return "at their cap or deactivated"
        if load.require_status is not None and volunteer["status"] != load.require_status.value:
            return f"not {load.require_status}"
        if load.forbid_status is not None and volunteer["status"] == load.forbid_status.value:
            return f"is {load.forbid_status}"
        if load.delta < 0 and volunteer["load"] < -load.delta:
            return "no load to release"
        return None

    def _apply(self, change: ConversationChange) -> None:
        if change.texter is not None and change.delete_texter:
            del self.texters[change.texter.texter_id]
        elif change.texter is not None:
            texter = change.texter.model_copy(update={"version": (change.expected_texter_version or 0) + 1})
            self.texters[texter.texter_id] = texter.model_dump(mode="json")
        if change.conversation is not None:
            conversation_id = change.conversation.conversation_id
            if change.delete_conversation:
                del self.conversations[conversation_id]
            else:
                conversation = change.conversation.model_copy(
                    update={"version": (change.expected_conversation_version or 0) + 1}
                )
                self.conversations[conversation_id] = conversation.model_dump(mode="json")
        for message in change.new_messages:
            self.messages.setdefault(message.conversation_id, {})[message.message_key] = message.model_dump(mode="json")
        for counter_id, increment in change.counters.items():
            self.counters[counter_id] = self.counters.get(counter_id, 0) + increment
        for load in change.loads:
            volunteer: dict[str, Any] = dict(self.volunteers[load.volunteer_id])
            volunteer["load"] += load.delta
            volunteer["version"] += 1
            if load.assigned_at is not None:
                volunteer["last_assigned_at"] = load.assigned_at
            if load.notice is not None:
                volunteer["notices"] = [*volunteer.get("notices", []), load.notice]
            self.volunteers[load.volunteer_id] = volunteer
        if change.new_escalation is not None and self.escalations is not None:
            self.escalations.put_new(change.new_escalation)
        for escalation in change.escalations:
            assert self.escalations is not None
            self.escalations.rewrite(escalation)
        self.commits += 1

    def delete_messages(self, conversation_id: str) -> int:
        return len(self.messages.pop(conversation_id, {}))

    @staticmethod
    def _check_version(current: dict | None, expected: int | None, what: str) -> None:
        if expected is None:
            if current is not None:
                raise ConcurrentUpdateError(f"{what} already exists")
        elif current is None or current["version"] != expected:
            raise ConcurrentUpdateError(f"{what} version is not {expected}")


class RecordingOutboundQueue:
    def __init__(self) -> None:
        self.texts: list[OutboundText] = []

    def enqueue(self, texts: Sequence[OutboundText]) -> None:
        self.texts.extend(texts)

    def purposes(self) -> list[str]:
        return [text.purpose for text in self.texts]

    def clear(self) -> None:
        self.texts.clear()


class RecordingTimerQueue:
    def __init__(self) -> None:
        self.timers: list[ConversationTimer] = []

    def schedule(self, timers: Sequence[ConversationTimer]) -> None:
        self.timers.extend(timers)

    def of_kind(self, kind: str) -> list[ConversationTimer]:
        return [timer for timer in self.timers if timer.kind == kind]

    def clear(self) -> None:
        self.timers.clear()


class ReversibleVault:
    """Stands in for KMS: "encrypts" reversibly, never leaves the plaintext digits in the ciphertext, and, like KMS,
    decrypts only for the owner (encryption context) it encrypted for."""

    def encrypt(self, number: str, owner: NumberOwner) -> str:
        sealed = f"{sorted(owner.encryption_context.items())}\n{number}"
        return "kms:" + base64.b64encode(bytes(b ^ 0x5A for b in sealed.encode())).decode()

    def decrypt(self, ciphertext: str, owner: NumberOwner) -> str:
        sealed = bytes(b ^ 0x5A for b in base64.b64decode(ciphertext.removeprefix("kms:"))).decode()
        context, _, number = sealed.rpartition("\n")
        if context != f"{sorted(owner.encryption_context.items())}":
            raise ValueError("InvalidCiphertextException: not encrypted for this owner and purpose")
        return number


# ---------------------------------------------------------------- inbound webhook fakes
class HmacSignatureChecker:
    """Signs like Twilio does in spirit (HMAC over the URL and sorted params) without importing twilio."""

    def __init__(self, token: str = "auth-token") -> None:
        self._token = token.encode()

    def sign(self, url: str, params: Mapping[str, str]) -> str:
        payload = url + "".join(f"{key}{params[key]}" for key in sorted(params))
        return base64.b64encode(hmac.new(self._token, payload.encode(), hashlib.sha1).digest()).decode()

    def is_valid(self, url: str, params: Mapping[str, str], signature: str | None) -> bool:
        return signature is not None and hmac.compare_digest(signature, self.sign(url, params))


class RecordingInboundQueue:
    """Queues a text once per MessageSid, like the FIFO queue's deduplication."""

    def __init__(self) -> None:
        self.texts: list[InboundText] = []

    def enqueue_once(self, text: InboundText) -> None:
        if all(queued.message_sid != text.message_sid for queued in self.texts):
            self.texts.append(text)


# ---------------------------------------------------------------- sender fakes
@dataclass(frozen=True)
class FakeSent:
    message_sid: str
    status: str = "queued"


class ScriptedGateway:
    """Answers each send with the next scripted outcome: an exception to raise, or a sid to return."""

    def __init__(self, *outcomes: Exception | str) -> None:
        self._outcomes = list(outcomes)
        self.sends: list[tuple[str, str]] = []

    def send(self, to: str, body: str) -> FakeSent:
        self.sends.append((to, body))
        outcome = self._outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return FakeSent(message_sid=outcome)


def transient(status: int = 503) -> TransientSmsError:
    return TransientSmsError(status)


def permanent(code: int) -> PermanentSmsError:
    return PermanentSmsError(code)


STATUS_RANK = {"accepted": 1, "queued": 1, "sending": 2, "sent": 3, "undelivered": 4, "failed": 4, "delivered": 4}


class InMemoryDeliveryLog:
    """The delivery log on a dict, with the DynamoDB log's rule: a status never moves backwards."""

    def __init__(self) -> None:
        self.deliveries: dict[str, dict] = {}
        self.failures: list[dict] = []

    def record_sent(self, *, message_sid: str, status: str) -> None:
        self.deliveries.setdefault(message_sid, {"status": status})

    def record_failed(self, *, error_code: int) -> None:
        self.failures.append({"error_code": error_code})

    def advance_status(self, *, message_sid: str, status: str, error_code: int | None) -> bool:
        record = self.deliveries.setdefault(message_sid, {})
        if "status" in record and STATUS_RANK.get(record["status"], 0) >= STATUS_RANK.get(status, 0):
            return False
        record.update(status=status, error_code=error_code)
        return True


class RecordingOptOuts:
    def __init__(self) -> None:
        self.opted_out: list[str] = []

    def mark_opted_out(self, texter_id: str) -> None:
        self.opted_out.append(texter_id)


class RecordingSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
