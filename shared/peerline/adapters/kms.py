"""Phone numbers encrypted under the line's KMS key (the only form in which a number is ever stored)."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from peerline.adapters.aws import kms

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

# Binds ciphertexts to their purpose: a number's ciphertext can't be decrypted as anything else.
_CONTEXT = {"peerline:purpose": "phone-number"}


class KmsNumberVault:
    """Encrypts (webhook) and decrypts (sender only, by IAM) phone numbers."""

    def __init__(self, key_id: str, kms_client: KMSClient | None = None) -> None:
        self._key_id = key_id
        self._kms = kms_client

    @property
    def _client(self) -> KMSClient:
        return self._kms or kms()

    def encrypt(self, number: str) -> str:
        blob = self._client.encrypt(KeyId=self._key_id, Plaintext=number.encode(), EncryptionContext=_CONTEXT)
        return base64.b64encode(blob["CiphertextBlob"]).decode()

    def decrypt(self, ciphertext: str) -> str:
        result = self._client.decrypt(
            CiphertextBlob=base64.b64decode(ciphertext), KeyId=self._key_id, EncryptionContext=_CONTEXT
        )
        return bytes(result["Plaintext"]).decode()
