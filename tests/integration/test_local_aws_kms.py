"""The local line's AWS refuses to use a disabled KMS key, as KMS does (moto alone doesn't)."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError


def test_a_disabled_key_refuses_to_encrypt_until_it_is_enabled_again(moto_endpoint: str) -> None:
    # given a key, disabled
    kms = boto3.session.Session(region_name="us-east-1").client("kms", endpoint_url=moto_endpoint)
    key_id = kms.create_key(Description="disabled-key test")["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=key_id)

    # when something encrypts with it, then KMS's DisabledException is the answer
    with pytest.raises(ClientError) as refused:
        kms.encrypt(KeyId=key_id, Plaintext=b"+15555550001")
    assert refused.value.response["Error"]["Code"] == "DisabledException"

    # and once enabled again, it encrypts and decrypts
    kms.enable_key(KeyId=key_id)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"+15555550001")["CiphertextBlob"]
    assert kms.decrypt(KeyId=key_id, CiphertextBlob=blob)["Plaintext"] == b"+15555550001"


def test_a_key_pending_deletion_refuses_to_encrypt(moto_endpoint: str) -> None:
    # given a key scheduled for deletion
    kms = boto3.session.Session(region_name="us-east-1").client("kms", endpoint_url=moto_endpoint)
    key_id = kms.create_key(Description="pending-deletion test")["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)

    # when / then
    with pytest.raises(ClientError) as refused:
        kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    assert refused.value.response["Error"]["Code"] == "KMSInvalidStateException"
