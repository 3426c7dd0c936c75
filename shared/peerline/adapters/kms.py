"""Phone numbers encrypted under the line's KMS key (the only form in which a number is ever stored)."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from peerline.adapters.aws import kms

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

    from peerline.number_context import NumberOwner


class KmsNumberVault:
    """Encrypts (webhook, CLI) and decrypts (the sender and the reveal function only, by the key policy) phone
    numbers, each under the encryption context of its owner and purpose."""

    def __init__(self, key_id: str, kms_client: KMSClient | None = None) -> None:
        self._key_id = key_id
        self._kms = kms_client

    @property
    def _client(self) -> KMSClient:
        return self._kms or kms()

    def encrypt(self, number: str, owner: NumberOwner) -> str:
        blob = self._client.encrypt(
            KeyId=self._key_id, Plaintext=number.encode(), EncryptionContext=owner.encryption_context
        )
        return base64.b64encode(blob["CiphertextBlob"]).decode()

    def decrypt(self, ciphertext: str, owner: NumberOwner) -> str:
        """The number; KMS refuses (InvalidCiphertextException) unless ``owner`` is the one it was encrypted for."""
        result = self._client.decrypt(
            CiphertextBlob=base64.b64decode(ciphertext), KeyId=self._key_id, EncryptionContext=owner.encryption_context
        )
        return bytes(result["Plaintext"]).decode()
