"""The on-call rota administration (`peerline oncall`) against moto, resources from template.yaml."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from peerline.adapters.escalations import DynamoOnCallDirectory
from peerline.adapters.kms import KmsNumberVault
from peerline.number_context import FALLBACK_ONCALL_ID, oncall_number
from peerline.phone import texter_id_for
from peerline_ops.oncall import OnCallAdmin, OnCallAdminError


@pytest.fixture
def admin(stack: Any) -> OnCallAdmin:
    session = boto3.session.Session(region_name="us-east-1")
    pepper = session.client("secretsmanager").get_secret_value(
        SecretId=stack.resources["TexterIdPepperSecret"].physical_id
    )["SecretString"]
    dynamodb = session.client("dynamodb")
    table = stack.resources["OnCallTable"].physical_id
    for item in dynamodb.scan(TableName=table)["Items"]:
        dynamodb.delete_item(TableName=table, Key={"oncall_id": item["oncall_id"]})
    return OnCallAdmin(
        directory=DynamoOnCallDirectory(table, dynamodb_client=dynamodb),
        vault=KmsNumberVault(stack.resources["PhoneNumberKey"].physical_id, session.client("kms")),
        pepper=pepper,
    )


def test_members_are_paged_in_rota_order_and_stored_without_a_plaintext_number(admin: OnCallAdmin, stack: Any) -> None:
    # given two professionals added in this order
    admin.add("Dr. Rivera", "+15555550123")
    admin.add("Dr. Okafor", "+15555550124", position=0)

    # then Okafor is paged first, and no item holds either number in plaintext
    assert [target.name for target in admin.directory.targets()] == ["Dr. Okafor", "Dr. Rivera"]
    items = boto3.client("dynamodb", region_name="us-east-1").scan(
        TableName=stack.resources["OnCallTable"].physical_id
    )["Items"]
    dumped = json.dumps(items)
    assert "5555550123" not in dumped and "5555550124" not in dumped
    assert [member.masked_number for member in admin.list()] == ["+1•••••0124", "+1•••••0123"]
    # and a text from Rivera's phone is recognised as hers
    member = admin.directory.member_for(texter_id_for("+15555550123", admin.pepper))
    assert member is not None and member.name == "Dr. Rivera"


@pytest.mark.parametrize(
    ("name", "number", "position"),
    [
        ("", "+15555550123", None),
        ("Dr. X", "5555550123", None),
        ("Dr. X", "+1555", None),
        ("Dr. X", "+15555550125", -1),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(admin: OnCallAdmin, name: str, number: str, position: Any) -> None:
    with pytest.raises(OnCallAdminError):
        admin.add(name, number, position)
    assert admin.list() == []


def test_the_same_number_cannot_be_added_twice(admin: OnCallAdmin) -> None:
    admin.add("Dr. Rivera", "+15555550123")
    with pytest.raises(OnCallAdminError, match="already on the rota"):
        admin.add("Dr. R. Again", "+15555550123")
    assert len(admin.list()) == 1


def test_removal_by_name_or_number(admin: OnCallAdmin) -> None:
    admin.add("Dr. Rivera", "+15555550123")
    admin.add("Dr. Okafor", "+15555550124")
    assert admin.remove("dr. rivera").name == "Dr. Rivera"
    assert admin.remove("+15555550124").name == "Dr. Okafor"
    with pytest.raises(OnCallAdminError, match="no one"):
        admin.remove("Dr. Nobody")
    assert admin.list() == []


def test_the_fallback_number_is_paged_after_the_rota(stack: Any, admin: OnCallAdmin) -> None:
    # given a directory with the deployment's fallback number and one member
    admin.add("Dr. Rivera", "+15555550123")
    directory = DynamoOnCallDirectory(
        stack.resources["OnCallTable"].physical_id,
        fallback_number="+15555550100",
        encrypt=admin.vault.encrypt,
        dynamodb_client=boto3.client("dynamodb", region_name="us-east-1"),
    )
    targets = directory.targets()
    assert [target.name for target in targets] == ["Dr. Rivera", "fallback on-call (+1•••••0100)"]
    # the fallback has its fixed id (no pepper needed), and each number decrypts only as its own on-call number
    assert targets[1].target_id == FALLBACK_ONCALL_ID
    assert admin.vault.decrypt(targets[1].encrypted_number, oncall_number(FALLBACK_ONCALL_ID)) == "+15555550100"
    assert admin.vault.decrypt(targets[0].encrypted_number, oncall_number(targets[0].target_id)) == "+15555550123"
