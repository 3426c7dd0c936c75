"""The on-call rota: `peerline oncall add|list|remove`, against the local line or a deployed stack.

A rota member's number is kept only KMS-encrypted, under the HMAC id the line computes for any number — so an
``ACK <code>`` text from that phone is recognised without the number ever being stored in plaintext.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

from peerline.adapters.escalations import DynamoOnCallDirectory
from peerline.adapters.kms import KmsNumberVault
from peerline.models import OnCallMember
from peerline.number_context import oncall_number
from peerline.phone import is_e164, mask_number, texter_id_for

_BAD_INPUT = 2


class OnCallAdminError(Exception):
    """Refused input; nothing was written."""


@dataclass
class OnCallAdmin:
    directory: DynamoOnCallDirectory
    vault: KmsNumberVault
    pepper: str

    def add(self, name: str, number: str, position: int | None = None) -> OnCallMember:
        """Put someone on the rota (last, unless a position is given)."""
        name = name.strip()
        problems = []
        if not name or len(name) > 60:
            problems.append("name: 1 to 60 characters")
        if not is_e164(number):
            problems.append("number: must be E.164, like +15555550123")
        if position is not None and position < 0:
            problems.append("position: 0 or more")
        if problems:
            raise OnCallAdminError("; ".join(problems))
        oncall_id = texter_id_for(number, self.pepper)
        members = self.directory.members()
        if any(member.oncall_id == oncall_id for member in members):
            raise OnCallAdminError(f"{mask_number(number)} is already on the rota")
        member = OnCallMember(
            oncall_id=oncall_id,
            name=name,
            encrypted_number=self.vault.encrypt(number, oncall_number(oncall_id)),
            position=position if position is not None else (max((m.position for m in members), default=-1) + 1),
            masked_number=mask_number(number),
        )
        self.directory.add(member)
        return member

    def list(self) -> list[OnCallMember]:
        return self.directory.members()

    def remove(self, name_or_number: str) -> OnCallMember:
        """Take someone off the rota, by name or by number."""
        key = texter_id_for(name_or_number, self.pepper) if is_e164(name_or_number) else None
        matches = [
            member
            for member in self.directory.members()
            if member.oncall_id == key or member.name.casefold() == name_or_number.strip().casefold()
        ]
        if len(matches) != 1:
            raise OnCallAdminError(
                f"{'no one' if not matches else 'more than one person'} on the rota matches {name_or_number!r}"
            )
        self.directory.remove(matches[0].oncall_id)
        return matches[0]


def admin_for(args: argparse.Namespace, load_local_info: Any) -> OnCallAdmin:
    """An OnCallAdmin for the local line (default) or a deployed stack (its outputs name the resources)."""
    import boto3

    from peerline.adapters.secrets import secret_string

    if args.stack:
        session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
        stack = session.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"][0]
        outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs") or []}
        try:
            table, pepper_arn, key_id = (
                outputs["OnCallTableName"],
                outputs["PepperSecretArn"],
                outputs["PhoneNumberKeyId"],
            )
        except KeyError as missing:
            raise SystemExit(f"Stack {args.stack!r} has no output {missing}: is it a Peerline stack?") from None
        endpoint = None
    else:
        info = load_local_info(args.state_dir)
        session = boto3.session.Session(
            aws_access_key_id=info.get("aws_access_key_id", "testing"),
            aws_secret_access_key=info.get("aws_secret_access_key", "testing"),
            region_name=info["region"],
        )
        resources = info["resources"]
        table, pepper_arn, key_id = (
            resources["OnCallTable"],
            resources["TexterIdPepperSecret"],
            resources["PhoneNumberKey"],
        )
        endpoint = info["aws_endpoint_url"]
    dynamodb = session.client("dynamodb", endpoint_url=endpoint)
    pepper = secret_string(pepper_arn, secrets_client=session.client("secretsmanager", endpoint_url=endpoint))
    return OnCallAdmin(
        directory=DynamoOnCallDirectory(table, dynamodb_client=dynamodb),
        vault=KmsNumberVault(key_id, session.client("kms", endpoint_url=endpoint)),
        pepper=pepper,
    )


def run(args: argparse.Namespace, load_local_info: Any) -> int:
    admin = admin_for(args, load_local_info)
    try:
        if args.oncall_command == "add":
            member = admin.add(args.name, args.number, args.position)
            print(f"added {member.name} ({member.masked_number}) to the on-call rota at position {member.position}")
        elif args.oncall_command == "remove":
            member = admin.remove(args.who)
            print(f"removed {member.name} ({member.masked_number}) from the on-call rota")
        else:
            members = admin.list()
            if not members:
                print("the on-call rota is empty (pages go to the OnCallFallbackNumber parameter, if set)")
            print(f"{'POSITION':<9} {'NAME':<30} NUMBER")
            for member in members:
                print(f"{member.position:<9} {member.name:<30} {member.masked_number}")
    except OnCallAdminError as error:
        print(f"peerline oncall {args.oncall_command}: refused, nothing was written: {error}", file=sys.stderr)
        return _BAD_INPUT
    return 0


def add_commands(commands: Any, target: argparse.ArgumentParser, load_local_info: Any) -> None:
    """The `peerline oncall` subcommands (``target`` carries --local/--stack/--region/--profile/--state-dir)."""
    oncall = commands.add_parser("oncall", help="manage the on-call rota: add, list, remove")
    actions = oncall.add_subparsers(dest="oncall_command", required=True)
    add = actions.add_parser("add", parents=[target], help="put a professional on the rota")
    add.add_argument("name")
    add.add_argument("number", help="their phone number, E.164 (stored only encrypted)")
    add.add_argument("--position", type=int, default=None, help="0 = paged first (default: last)")
    listing = actions.add_parser("list", parents=[target], help="the rota, in paging order (numbers masked)")
    remove = actions.add_parser("remove", parents=[target], help="take someone off the rota (by name or number)")
    remove.add_argument("who")
    for parser in (add, listing, remove):
        parser.set_defaults(run=lambda args: run(args, load_local_info))
