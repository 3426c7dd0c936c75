"""Volunteer administration (VolunteerAdmin and `peerline volunteers`) against moto, with the template's pool and
table: what it creates in Cognito and the registry, and that every refusal leaves nothing behind."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from peerline.access import AccessChanges
from peerline.adapters.audit import DynamoAuditLog
from peerline.adapters.queues import SqsTimerQueue
from peerline.adapters.volunteers import DynamoVolunteerRegistry
from peerline.models import ConversationTimer, Language, Role, TimerKind, VolunteerRecord, VolunteerStatus
from peerline_local.harness import drain
from peerline_local.stack import LocalStack
from peerline_ops.cli import main
from peerline_ops.volunteers import VolunteerAdmin, VolunteerAdminError

PASSWORD = "Admin-Tested-Passw0rd"
TODAY = date.today()
NEXT_YEAR = TODAY + timedelta(days=365)
HEADER = "username,email,display_name,languages,certified_until,roles,max_concurrent"


@pytest.fixture(scope="module")
def cognito(moto_endpoint: str) -> Any:
    return boto3.client("cognito-idp", endpoint_url=moto_endpoint, region_name="us-east-1")


@pytest.fixture(scope="module")
def dynamodb(moto_endpoint: str) -> Any:
    return boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1")


@pytest.fixture(scope="module")
def pool_id(stack: LocalStack) -> str:
    return stack.physical_id("VolunteerUserPool")


@pytest.fixture(scope="module")
def registry(stack: LocalStack, dynamodb: Any) -> DynamoVolunteerRegistry:
    return DynamoVolunteerRegistry(stack.physical_id("VolunteersTable"), dynamodb)


@pytest.fixture(scope="module")
def sqs(moto_endpoint: str) -> Any:
    return boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")


@pytest.fixture(scope="module")
def audit(stack: LocalStack, dynamodb: Any) -> DynamoAuditLog:
    return DynamoAuditLog(stack.physical_id("AuditTable"), retention_days=365, dynamodb_client=dynamodb)


@pytest.fixture
def admin(
    cognito: Any, pool_id: str, registry: DynamoVolunteerRegistry, audit: DynamoAuditLog, stack: LocalStack, sqs: Any
) -> VolunteerAdmin:
    access = AccessChanges(audit, SqsTimerQueue(stack.physical_id("TimerQueue"), sqs))
    return VolunteerAdmin(cognito, pool_id, registry, access=access)


def _access_jobs(sqs: Any, stack: LocalStack) -> list[ConversationTimer]:
    """The ACCESS_CHANGED jobs queued on the timer queue (taken off it)."""
    jobs = [ConversationTimer.model_validate_json(m["Body"]) for m in drain(sqs, stack.physical_id("TimerQueue"))]
    return [job for job in jobs if job.kind is TimerKind.ACCESS_CHANGED]


@pytest.fixture
def name() -> str:
    """A fresh username per test: the module's pool and table are shared."""
    return f"v{uuid.uuid4().hex[:10]}"


class Snapshot:
    """Everything in the pool and the table, to prove a refusal wrote nothing."""

    def __init__(self, cognito: Any, pool_id: str, registry: DynamoVolunteerRegistry) -> None:
        self._cognito, self._pool_id, self._registry = cognito, pool_id, registry
        self.before = self.take()

    def take(self) -> tuple[Any, ...]:
        users = sorted(
            (user["Username"], user["Enabled"])
            for page in self._cognito.get_paginator("list_users").paginate(UserPoolId=self._pool_id)
            for user in page["Users"]
        )
        return tuple(users), tuple(volunteer.model_dump_json() for volunteer in self._registry.all())

    def unchanged(self) -> bool:
        return self.take() == self.before


@pytest.fixture
def snapshot(cognito: Any, pool_id: str, registry: DynamoVolunteerRegistry) -> Snapshot:
    return Snapshot(cognito, pool_id, registry)


def _groups(cognito: Any, pool_id: str, username: str) -> set[str]:
    groups = cognito.admin_list_groups_for_user(UserPoolId=pool_id, Username=username)["Groups"]
    return {group["GroupName"] for group in groups}


def _attributes(cognito: Any, pool_id: str, username: str) -> dict[str, str]:
    user = cognito.admin_get_user(UserPoolId=pool_id, Username=username)
    return {attribute["Name"]: attribute["Value"] for attribute in user["UserAttributes"]}


def _sign_in(cognito: Any, stack: LocalStack, username: str, password: str) -> dict[str, Any]:
    result: dict[str, Any] = cognito.initiate_auth(
        ClientId=stack.physical_id("DashboardUserPoolClient"),
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    return result


def _add(admin: VolunteerAdmin, username: str, **overrides: Any) -> tuple[VolunteerRecord, str | None]:
    arguments: dict[str, Any] = {
        "username": username,
        "email": f"{username}@example.org",
        "display_name": "Robin",
        "languages": ["en"],
        "certified_until": NEXT_YEAR,
        "roles": ["volunteer"],
        "max_concurrent": 2,
        "password": PASSWORD,
    }
    arguments.update(overrides)
    return admin.add(**arguments)


# ---------------------------------------------------------------------------------------------------- add


def test_add_creates_the_cognito_user_in_its_groups_and_the_registry_record_keyed_by_its_sub(
    admin: VolunteerAdmin, cognito: Any, pool_id: str, registry: DynamoVolunteerRegistry, stack: LocalStack, name: str
) -> None:
    # when
    volunteer, temporary = _add(
        admin, name, display_name="Sofía", languages=["es", "en"], roles=["volunteer", "supervisor"], max_concurrent=3
    )

    # then the Cognito user exists, verified, in both role groups, and can sign in with the given password
    attributes = _attributes(cognito, pool_id, name)
    assert attributes["email"] == f"{name}@example.org"
    assert attributes["email_verified"] == "true"
    assert _groups(cognito, pool_id, name) == {"volunteer", "supervisor"}
    assert "AuthenticationResult" in _sign_in(cognito, stack, name, PASSWORD)
    assert temporary is None
    # and the registry holds the record under the user's sub
    assert volunteer.volunteer_id == attributes["sub"]
    assert registry.get(attributes["sub"]) == volunteer
    assert volunteer.username == name
    assert volunteer.display_name == "Sofía"
    assert volunteer.languages == [Language.SPANISH, Language.ENGLISH]
    assert volunteer.roles == [Role.VOLUNTEER, Role.SUPERVISOR]
    assert volunteer.certified_until == NEXT_YEAR
    assert volunteer.max_concurrent == 3
    assert volunteer.status is VolunteerStatus.OFFLINE
    assert volunteer.active


def test_add_without_a_password_gives_a_temporary_one_to_change_at_first_sign_in(
    admin: VolunteerAdmin, cognito: Any, stack: LocalStack, name: str
) -> None:
    # when
    _, temporary = _add(admin, name, password=None)

    # then
    assert temporary
    challenge = _sign_in(cognito, stack, name, temporary)
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"languages": ["en", "fr"]}, "unknown language code 'fr'"),
        ({"languages": []}, "no language given"),
        ({"certified_until": TODAY - timedelta(days=1)}, "is in the past"),
        ({"certified_until": "31/12/2030"}, "is not a date"),
        ({"email": "not-an-email"}, "is not an e-mail address"),
        ({"roles": ["volunteer", "admin"]}, "unknown role 'admin'"),
        ({"max_concurrent": "0"}, "max concurrent"),
        ({"display_name": ""}, "display name"),
        ({"password": "short"}, "password must have"),
    ],
)
def test_add_refuses_bad_input_and_writes_nothing(
    admin: VolunteerAdmin, snapshot: Snapshot, name: str, overrides: dict[str, Any], message: str
) -> None:
    # when
    with pytest.raises(VolunteerAdminError) as refused:
        _add(admin, name, **overrides)

    # then
    assert message in str(refused.value)
    assert snapshot.unchanged()


def test_add_refuses_a_username_or_email_that_exists(
    admin: VolunteerAdmin, cognito: Any, pool_id: str, registry: DynamoVolunteerRegistry, name: str
) -> None:
    # given
    _add(admin, name)
    snapshot = Snapshot(cognito, pool_id, registry)

    # when / then: usernames are case-insensitive, as in the pool
    with pytest.raises(VolunteerAdminError, match="already exists"):
        _add(admin, name.upper(), email="other@example.org")
    with pytest.raises(VolunteerAdminError, match="is already used by"):
        _add(admin, f"{name}-2", email=f"{name}@example.org")
    assert snapshot.unchanged()


class FailingRegistry(DynamoVolunteerRegistry):
    """The registry write fails after `succeed` creates (a throttled or unreachable table)."""

    def __init__(self, table_name: str, dynamodb_client: Any, succeed: int = 0) -> None:
        super().__init__(table_name, dynamodb_client)
        self.remaining = succeed

    def create(self, volunteer: VolunteerRecord) -> None:
        if self.remaining <= 0:
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "PutItem"
            )
        self.remaining -= 1
        super().create(volunteer)


def test_a_failed_registry_write_deletes_the_cognito_user_again(
    cognito: Any, pool_id: str, registry: DynamoVolunteerRegistry, dynamodb: Any, snapshot: Snapshot, name: str
) -> None:
    # given
    admin = VolunteerAdmin(cognito, pool_id, FailingRegistry(registry.table_name, dynamodb))

    # when
    with pytest.raises(VolunteerAdminError, match="slow down"):
        _add(admin, name)

    # then
    assert snapshot.unchanged()


# ---------------------------------------------------------------------------------------------------- import


def _csv(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "volunteers.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def test_import_adds_every_row(admin: VolunteerAdmin, cognito: Any, pool_id: str, tmp_path: Path, name: str) -> None:
    # given languages and roles separated by ";" or spaces; empty roles and cap take the defaults
    path = _csv(
        tmp_path,
        f"{name}a,{name}a@example.org,Ana,en;es,{NEXT_YEAR},volunteer;supervisor,3",
        f"{name}b,{name}b@example.org,Ben,es en,,,",
    )

    # when
    created = admin.import_csv(path)

    # then
    by_name = {volunteer.username: (volunteer, temporary) for volunteer, temporary in created}
    ana, ana_password = by_name[f"{name}a"]
    ben, _ = by_name[f"{name}b"]
    assert (ana.languages, ana.roles, ana.max_concurrent) == (
        [Language.ENGLISH, Language.SPANISH],
        [Role.VOLUNTEER, Role.SUPERVISOR],
        3,
    )
    assert (ben.languages, ben.roles, ben.max_concurrent, ben.certified_until) == (
        [Language.SPANISH, Language.ENGLISH],
        [Role.VOLUNTEER],
        2,
        None,
    )
    assert ana_password
    assert _groups(cognito, pool_id, f"{name}a") == {"volunteer", "supervisor"}
    assert {volunteer.username for volunteer in admin.list()} >= {f"{name}a", f"{name}b"}


def test_import_checks_every_row_first_and_refuses_the_whole_file(
    admin: VolunteerAdmin, tmp_path: Path, snapshot: Snapshot, name: str
) -> None:
    # given one good row and one problem on each other line
    _add(admin, f"{name}old")
    snapshot.before = snapshot.take()
    path = _csv(
        tmp_path,
        f"{name}ok,{name}ok@example.org,Ok,en,{NEXT_YEAR},volunteer,2",  # line 2: fine
        f"{name}fr,{name}fr@example.org,Fr,fr,{NEXT_YEAR},volunteer,2",  # line 3
        f"{name}old,{name}new@example.org,Old,en,{NEXT_YEAR},volunteer,2",  # line 4
        f"{name}ok,{name}ok2@example.org,Twice,en,{NEXT_YEAR},volunteer,2",  # line 5
        f"{name}past,{name}past@example.org,Past,en,{TODAY - timedelta(days=3)},volunteer,2",  # line 6
        f"{name}date,{name}date@example.org,Date,en,next year,volunteer,2",  # line 7
        f"{name}mail,nobody,Mail,en,{NEXT_YEAR},volunteer,2",  # line 8
        f"{name}role,{name}role@example.org,Role,en,{NEXT_YEAR},boss,2",  # line 9
    )

    # when
    with pytest.raises(VolunteerAdminError) as refused:
        admin.import_csv(path)

    # then every problem is reported with its line, and nothing was written (not even line 2)
    problems = refused.value.problems
    assert any(p.startswith("line 3:") and "unknown language code 'fr'" in p for p in problems)
    assert any(p.startswith("line 4:") and "already exists" in p for p in problems)
    assert any(p.startswith("line 5:") and "already on line 2" in p for p in problems)
    assert any(p.startswith("line 6:") and "in the past" in p for p in problems)
    assert any(p.startswith("line 7:") and "not a date" in p for p in problems)
    assert any(p.startswith("line 8:") and "e-mail" in p for p in problems)
    assert any(p.startswith("line 9:") and "unknown role 'boss'" in p for p in problems)
    assert not any(p.startswith("line 2:") for p in problems)
    assert snapshot.unchanged()


def test_import_refuses_a_file_with_the_wrong_header(admin: VolunteerAdmin, tmp_path: Path, snapshot: Snapshot) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("user,email\nx,x@example.org\n")
    with pytest.raises(VolunteerAdminError, match="line 1: missing column"):
        admin.import_csv(path)
    assert snapshot.unchanged()


def test_an_import_that_fails_midway_removes_what_it_created(
    cognito: Any,
    pool_id: str,
    registry: DynamoVolunteerRegistry,
    dynamodb: Any,
    tmp_path: Path,
    snapshot: Snapshot,
    name: str,
) -> None:
    # given a table that takes one write and then fails
    admin = VolunteerAdmin(cognito, pool_id, FailingRegistry(registry.table_name, dynamodb, succeed=1))
    path = _csv(
        tmp_path,
        f"{name}1,{name}1@example.org,One,en,{NEXT_YEAR},volunteer,2",
        f"{name}2,{name}2@example.org,Two,en,{NEXT_YEAR},volunteer,2",
    )

    # when
    with pytest.raises(VolunteerAdminError):
        admin.import_csv(path)

    # then
    assert snapshot.unchanged()


# ---------------------------------------------------------------------------------------------------- certify, deactivate


def test_certify_moves_the_expiry_and_refuses_a_past_date(
    admin: VolunteerAdmin, registry: DynamoVolunteerRegistry, name: str
) -> None:
    # given
    volunteer, _ = _add(admin, name, certified_until=None)
    later = TODAY + timedelta(days=400)

    # when
    admin.certify(name, later.isoformat())

    # then
    stored = registry.get(volunteer.volunteer_id)
    assert stored is not None and stored.certified_until == later
    with pytest.raises(VolunteerAdminError, match="in the past"):
        admin.certify(name, TODAY - timedelta(days=1))
    with pytest.raises(VolunteerAdminError, match="no volunteer named"):
        admin.certify(f"{name}-nobody", later)
    stored_after = registry.get(volunteer.volunteer_id)
    assert stored_after is not None and stored_after.certified_until == later


def test_deactivate_disables_sign_in_and_takes_the_volunteer_off_the_line(
    admin: VolunteerAdmin,
    cognito: Any,
    pool_id: str,
    registry: DynamoVolunteerRegistry,
    audit: DynamoAuditLog,
    sqs: Any,
    stack: LocalStack,
    name: str,
) -> None:
    started = datetime.now(UTC)
    # given an available volunteer, signed in
    volunteer, _ = _add(admin, name)
    available = volunteer.model_copy(update={"status": VolunteerStatus.AVAILABLE})
    registry.replace(available, expected_version=volunteer.version)
    tokens = _sign_in(cognito, stack, name, PASSWORD)["AuthenticationResult"]
    _access_jobs(sqs, stack)

    # when
    admin.deactivate(name)

    # then
    assert cognito.admin_get_user(UserPoolId=pool_id, Username=name)["Enabled"] is False
    stored = registry.get(volunteer.volunteer_id)
    assert stored is not None
    assert (stored.active, stored.status) == (False, VolunteerStatus.OFFLINE)
    assert all(other.volunteer_id != volunteer.volunteer_id for other in registry.available())
    # and they are signed out everywhere: Cognito refuses their access token (the socket's check) and their refresh
    with pytest.raises(ClientError, match="NotAuthorized"):
        cognito.get_user(AccessToken=tokens["AccessToken"])
    with pytest.raises(ClientError, match="NotAuthorized"):
        cognito.initiate_auth(
            ClientId=stack.physical_id("DashboardUserPoolClient"),
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
        )
    # and the operator's action is audited by the volunteer's id, and the job that applies it is queued
    [entry] = [e for e in audit.entries_by("operator", since=started) if e.subject == volunteer.volunteer_id]
    assert entry.action == "deactivate_volunteer"
    assert [job.volunteer_id for job in _access_jobs(sqs, stack)] == [volunteer.volunteer_id]


def test_set_roles_promotes_and_demotes_in_cognito_and_the_registry_audited(
    admin: VolunteerAdmin,
    cognito: Any,
    pool_id: str,
    registry: DynamoVolunteerRegistry,
    audit: DynamoAuditLog,
    sqs: Any,
    stack: LocalStack,
    name: str,
) -> None:
    started = datetime.now(UTC)
    volunteer, _ = _add(admin, name, roles=["volunteer", "supervisor"])
    _access_jobs(sqs, stack)

    # when demoted
    demoted = admin.set_roles(name, ["volunteer"])

    # then the pool's groups and the registry say volunteer only, the change is audited and its job queued
    assert _groups(cognito, pool_id, name) == {"volunteer"}
    stored = registry.get(volunteer.volunteer_id)
    assert stored is not None and stored.roles == demoted.roles == [Role.VOLUNTEER]
    [entry] = [e for e in audit.entries_by("operator", since=started) if e.subject == volunteer.volunteer_id]
    assert (entry.action, entry.reason) == ("change_role", "volunteer,supervisor -> volunteer")
    assert [job.volunteer_id for job in _access_jobs(sqs, stack)] == [volunteer.volunteer_id]

    # when the same roles are set again, nothing changes and nothing is audited
    admin.set_roles(name, ["volunteer"])
    assert len([e for e in audit.entries_by("operator", since=started) if e.subject == volunteer.volunteer_id]) == 1
    assert _access_jobs(sqs, stack) == []

    # when promoted back
    admin.set_roles(name, ["volunteer", "supervisor"])
    assert _groups(cognito, pool_id, name) == {"volunteer", "supervisor"}
    promoted = registry.get(volunteer.volunteer_id)
    assert promoted is not None and promoted.is_supervisor

    # and an unknown role is refused with nothing written
    with pytest.raises(VolunteerAdminError, match="unknown role 'admin'"):
        admin.set_roles(name, ["admin"])
    assert _groups(cognito, pool_id, name) == {"volunteer", "supervisor"}


# ---------------------------------------------------------------------------------------------------- CLI


@pytest.fixture
def local_line_state(tmp_path: Path, stack: LocalStack, moto_endpoint: str) -> Path:
    """A local.json as the local line writes it, pointing at this module's moto resources."""
    info = {
        "aws_endpoint_url": moto_endpoint,
        "region": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "user_pool_id": stack.physical_id("VolunteerUserPool"),
        "user_pool_client_id": stack.physical_id("DashboardUserPoolClient"),
        "resources": {
            logical_id: stack.physical_id(logical_id) for logical_id in ("VolunteersTable", "AuditTable", "TimerQueue")
        },
    }
    state = tmp_path / "state"
    state.mkdir()
    (state / "local.json").write_text(json.dumps(info))
    return state


def test_cli_adds_lists_certifies_and_deactivates_on_the_local_line(
    local_line_state: Path, capsys: pytest.CaptureFixture[str], cognito: Any, pool_id: str, name: str
) -> None:
    target = ["--state-dir", str(local_line_state)]

    # when
    added = main(
        ["volunteers", "add", name, "--email", f"{name}@example.org", "--name", "Kim", "--languages", "en,es",
         "--certified-until", NEXT_YEAR.isoformat(), "--roles", "volunteer,supervisor", *target]
    )  # fmt: skip
    add_output = capsys.readouterr().out

    # then
    assert added == 0
    assert add_output.startswith(f"added {name} (Kim)")
    assert "temporary password" in add_output
    assert _groups(cognito, pool_id, name) == {"volunteer", "supervisor"}

    # when listed
    assert main(["volunteers", "list", *target]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == [
        "USERNAME",
        "DISPLAY",
        "NAME",
        "ROLES",
        "LANGUAGES",
        "CERTIFIED",
        "UNTIL",
        "STATUS",
        "ACTIVE",
    ]
    row = next(line for line in table if line.startswith(name + " "))
    assert row.split() == [name, "Kim", "volunteer,supervisor", "en,es", NEXT_YEAR.isoformat(), "offline", "yes"]
    # columns are aligned under their headings
    assert row.index("volunteer,supervisor") == table[0].index("ROLES")

    # when certified and deactivated
    later = (TODAY + timedelta(days=90)).isoformat()
    assert main(["volunteers", "certify", name, "--until", later, *target]) == 0
    assert capsys.readouterr().out.strip() == f"certified {name} until {later}"
    assert main(["volunteers", "set-roles", name, "--roles", "volunteer", *target]) == 0
    assert capsys.readouterr().out.startswith(f"{name} now has roles volunteer (audited)")
    assert _groups(cognito, pool_id, name) == {"volunteer"}
    assert main(["volunteers", "deactivate", name, *target]) == 0
    assert capsys.readouterr().out.startswith(f"deactivated {name}")
    assert cognito.admin_get_user(UserPoolId=pool_id, Username=name)["Enabled"] is False


def test_cli_refuses_bad_input_with_exit_code_2_and_writes_nothing(
    local_line_state: Path, capsys: pytest.CaptureFixture[str], snapshot: Snapshot, tmp_path: Path, name: str
) -> None:
    target = ["--state-dir", str(local_line_state)]
    bad_file = _csv(tmp_path, f"{name},{name}@example.org,Zed,de,{NEXT_YEAR},volunteer,2")

    for command in (
        ["volunteers", "add", name, "--email", f"{name}@example.org", "--name", "Zed", "--languages", "xx", *target],
        ["volunteers", "add", name, "--email", "x@example.org", "--name", "Zed", "--certified-until", "2001-01-01", *target],
        ["volunteers", "import", str(bad_file), *target],
        ["volunteers", "certify", name, "--until", "2001-01-01", *target],
        ["volunteers", "deactivate", f"{name}-nobody", *target],
        ["volunteers", "set-roles", name, "--roles", "admin", *target],
        ["volunteers", "set-roles", f"{name}-nobody", "--roles", "volunteer", *target],
    ):  # fmt: skip
        # when
        code = main(command)
        captured = capsys.readouterr()

        # then
        assert code == 2, command
        assert "refused, nothing was written" in captured.err
        assert captured.out == ""
    assert "line 2: unknown language code 'de'" in _refusal(
        main, ["volunteers", "import", str(bad_file), *target], capsys
    )
    assert snapshot.unchanged()


def _refusal(run: Any, command: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert run(command) == 2
    return capsys.readouterr().err


def test_cli_imports_a_csv_file(
    local_line_state: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str
) -> None:
    path = _csv(
        tmp_path,
        f"{name}x,{name}x@example.org,Xan,en,{NEXT_YEAR},volunteer,2",
        f"{name}y,{name}y@example.org,Yu,es,{NEXT_YEAR},volunteer,2",
    )
    assert main(["volunteers", "import", str(path), "--state-dir", str(local_line_state)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines[:2]] == [f"{name}x", f"{name}y"]
    assert lines[-1] == f"imported 2 volunteers from {path}"


@pytest.fixture
def deployed_stack(moto_endpoint: str, stack: LocalStack) -> Iterator[str]:
    """A CloudFormation stack in moto whose outputs name this module's table and pool, as `sam deploy` leaves them."""
    cloudformation = boto3.client("cloudformation", endpoint_url=moto_endpoint, region_name="us-east-1")
    stack_name = f"peerline-{uuid.uuid4().hex[:6]}"
    template = {
        "Parameters": {"Table": {"Type": "String"}, "Pool": {"Type": "String"}},
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {
            "VolunteersTableName": {"Value": {"Ref": "Table"}},
            "UserPoolId": {"Value": {"Ref": "Pool"}},
        },
    }
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(template),
        Parameters=[
            {"ParameterKey": "Table", "ParameterValue": stack.physical_id("VolunteersTable")},
            {"ParameterKey": "Pool", "ParameterValue": stack.physical_id("VolunteerUserPool")},
        ],
    )
    yield stack_name
    cloudformation.delete_stack(StackName=stack_name)


def test_cli_manages_a_deployed_stack_found_by_its_outputs(
    deployed_stack: str, capsys: pytest.CaptureFixture[str], cognito: Any, pool_id: str, name: str
) -> None:
    # when (boto3 reaches moto through AWS_ENDPOINT_URL, as it would reach AWS through a profile)
    code = main(
        ["volunteers", "add", name, "--email", f"{name}@example.org", "--name", "Dee", "--stack", deployed_stack,
         "--region", "us-east-1", "--password", PASSWORD]
    )  # fmt: skip

    # then
    assert code == 0
    assert capsys.readouterr().out.startswith(f"added {name} (Dee)")
    assert _groups(cognito, pool_id, name) == {"volunteer"}
    assert main(["volunteers", "list", "--stack", deployed_stack, "--region", "us-east-1"]) == 0
    assert any(line.startswith(name + " ") for line in capsys.readouterr().out.splitlines())


def test_cli_names_a_missing_stack(capsys: pytest.CaptureFixture[str], moto_endpoint: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["volunteers", "list", "--stack", "no-such-stack", "--region", "us-east-1"])
    assert "no-such-stack" in str(exited.value.code)
