"""Whose number a ciphertext holds, and for what: the encryption context every number is encrypted under.

KMS binds a ciphertext to its encryption context: decrypting needs the very same context, and the key policy lets
each decrypting role use only the purposes it serves (the sender both, the reveal function texters' numbers only).
So a texter's ciphertext can't be decrypted as anyone else's, nor an on-call member's by the reveal function.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from peerline.models import OutboundText

# The deployment's fallback on-call number (a template parameter) has no HMAC id: the engine, the timers and the API
# hold no pepper. The webhook, which has it, gives a text from that number this id, so its ACK is recognised.
# As long as an HMAC id (texter ids are 64 characters), and never one: HMAC ids are hexadecimal.
FALLBACK_ONCALL_ID = "oncall-fallback".ljust(64, "-")


class NumberPurpose(StrEnum):
    """The two kinds of numbers the line keeps (the key policy names them in ``kms:EncryptionContext:purpose``)."""

    TEXTER = "texter-number"
    ONCALL = "oncall-number"


@dataclass(frozen=True)
class NumberOwner:
    """The texter or on-call member a number belongs to, as the encryption context names them."""

    purpose: NumberPurpose
    owner_id: str

    @property
    def encryption_context(self) -> dict[str, str]:
        id_key = "texter_id" if self.purpose is NumberPurpose.TEXTER else "oncall_id"
        return {"purpose": self.purpose.value, id_key: self.owner_id}


def texter_number(texter_id: str) -> NumberOwner:
    """A texter's number (encrypted by the webhook, decrypted by the sender and the reveal function)."""
    return NumberOwner(NumberPurpose.TEXTER, texter_id)


def oncall_number(oncall_id: str) -> NumberOwner:
    """An on-call member's number from the rota (encrypted by the operator's CLI, decrypted by the sender only)."""
    return NumberOwner(NumberPurpose.ONCALL, oncall_id)


def recipient_of(text: OutboundText) -> NumberOwner:
    """Whose number an outbound text goes to: pages go to the rota's numbers, everything else to a number the
    webhook saw (a texter's, or an on-call phone answering ACK under the id the webhook gave it)."""
    if text.purpose == "page":
        return oncall_number(text.recipient_id)
    return texter_number(text.recipient_id)
