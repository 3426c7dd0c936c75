"""Volunteer administration for operators: the Cognito user and the registry record, created and changed together.

Used by ``peerline volunteers …`` (against the local line or a deployed stack) and by the local line for its demo
users. Every input is checked before anything is written, and a step that fails after the Cognito user was created
removes that user again: an operator never has to clean up half a volunteer.
"""

from __future__ import annotations

import builtins
import csv
import re
import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from peerline.access import CHANGE_ROLE_ACTION, DEACTIVATE_ACTION, OPERATOR_ACTOR, AccessChanges
from peerline.adapters.volunteers import DynamoVolunteerRegistry, UnknownVolunteerError, VolunteerExistsError
from peerline.models import Language, Role, VolunteerRecord, VolunteerStatus

CSV_COLUMNS = ("username", "email", "display_name", "languages", "certified_until", "roles", "max_concurrent")
LANGUAGE_CODES = tuple(language.value for language in Language)
ROLE_NAMES = tuple(role.value for role in Role)
DEFAULT_MAX_CONCURRENT = 2
MAX_CONCURRENT_RANGE = (1, 10)
DISPLAY_NAME_MAX = 40

# The pool signs in with usernames and allows e-mail aliases, so a username may not look like an e-mail address.
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
_EMAIL = re.compile(r'[^@\s"]+@[^@\s"]+\.[^@\s"]+')
_LIST_SEPARATORS = re.compile(r"[;,\s]+")
_UPDATE_ATTEMPTS = 5


class VolunteerAdminError(Exception):
    """An operator's request was refused; ``problems`` are the human-readable reasons (one per line in the CLI)."""

    def __init__(self, problems: str | Iterable[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class NewVolunteer:
    """A volunteer to create, with every field already checked."""

    username: str
    email: str
    display_name: str
    languages: list[Language]
    certified_until: date | None
    roles: list[Role]
    max_concurrent: int


def parse_list(raw: str) -> list[str]:
    """``"en;es"``, ``"en es"`` or ``"en,es"`` → ``["en", "es"]``."""
    return [item for item in _LIST_SEPARATORS.split(raw.strip()) if item]


def parse_date(raw: str) -> date:
    """An ISO date (``YYYY-MM-DD``); ``ValueError`` with a readable message otherwise."""
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise ValueError(f"{raw!r} is not a date (use YYYY-MM-DD)") from None


class VolunteerAdmin:
    """Creates, lists, certifies, re-roles and deactivates volunteers: one Cognito user + one registry record each."""

    def __init__(
        self,
        cognito_client: Any,
        user_pool_id: str,
        registry: DynamoVolunteerRegistry,
        *,
        today: date | None = None,
        access: AccessChanges | None = None,
    ) -> None:
        self._cognito = cognito_client
        self._pool_id = user_pool_id
        self._registry = registry
        self._today = today
        # Audits deactivations and role changes and queues the job that applies them (closes sockets, moves
        # conversations on); only ``deactivate`` and ``set_roles`` need it.
        self._access = access

    @property
    def today(self) -> date:
        return self._today or date.today()

    # ------------------------------------------------------------------ reading

    def list(self) -> builtins.list[VolunteerRecord]:
        """Every registered volunteer, by username."""
        return self._registry.all()

    def find(self, username: str) -> VolunteerRecord | None:
        """The registered volunteer with this username (usernames are case-insensitive, as in the user pool)."""
        wanted = username.strip().lower()
        return next((volunteer for volunteer in self._registry.all() if volunteer.username == wanted), None)

    # ------------------------------------------------------------------ creating

    def add(
        self,
        username: str,
        email: str,
        display_name: str,
        languages: Iterable[str],
        certified_until: date | str | None,
        roles: Iterable[str] = (Role.VOLUNTEER.value,),
        max_concurrent: int | str | None = DEFAULT_MAX_CONCURRENT,
        password: str | None = None,
    ) -> tuple[VolunteerRecord, str | None]:
        """Create the Cognito user (in its role groups) and the registry record.

        Returns the record and, when no ``password`` is given, the temporary password the volunteer must change at
        first sign-in (Cognito is told not to e-mail it: the operator hands it over). ``VolunteerAdminError`` for
        bad or duplicate input, with nothing written.
        """
        problems: builtins.list[str] = []
        new = self._checked(
            problems,
            username=username,
            email=email,
            display_name=display_name,
            languages=list(languages),
            certified_until=certified_until,
            roles=list(roles),
            max_concurrent=max_concurrent,
        )
        if password is not None and (problem := password_problem(password)):
            problems.append(problem)
        if new is not None:
            problems += self._conflicts(new, self._registered_usernames())
        if problems or new is None:
            raise VolunteerAdminError(problems)
        return self._create(new, password)

    def import_csv(self, path: Path | str) -> builtins.list[tuple[VolunteerRecord, str]]:
        """Add every volunteer of a CSV file, or none of them.

        Header: ``username,email,display_name,languages,certified_until,roles,max_concurrent``; languages and roles
        separated by ";" or spaces; empty roles = volunteer, empty max_concurrent = 2, empty certified_until =
        not certified yet. Every row is checked (and checked against who already exists) before anything is
        written; ``VolunteerAdminError`` lists every problem with its line number. Returns each created record with
        its temporary password.
        """
        rows, problems = self._read_csv(Path(path))
        registered = self._registered_usernames()
        volunteers: builtins.list[tuple[int, NewVolunteer]] = []
        first_line_of: dict[str, int] = {}
        first_line_of_email: dict[str, int] = {}
        for line, row in rows:
            row_problems: builtins.list[str] = []
            new = self._checked(
                row_problems,
                username=row.get("username") or "",
                email=row.get("email") or "",
                display_name=row.get("display_name") or "",
                languages=parse_list(row.get("languages") or ""),
                certified_until=(row.get("certified_until") or "").strip() or None,
                roles=parse_list(row.get("roles") or "") or [Role.VOLUNTEER.value],
                max_concurrent=(row.get("max_concurrent") or "").strip() or None,
            )
            if new is not None:
                if new.username in first_line_of:
                    row_problems.append(f"username {new.username!r} is already on line {first_line_of[new.username]}")
                if new.email in first_line_of_email:
                    row_problems.append(f"email {new.email!r} is already on line {first_line_of_email[new.email]}")
                first_line_of.setdefault(new.username, line)
                first_line_of_email.setdefault(new.email, line)
                row_problems += self._conflicts(new, registered)
                volunteers.append((line, new))
            problems += [f"line {line}: {problem}" for problem in row_problems]
        if not rows and not problems:
            problems.append(f"{path}: no volunteers in the file")
        if problems:
            raise VolunteerAdminError(problems)
        created: builtins.list[tuple[VolunteerRecord, str]] = []
        try:
            for _, new in volunteers:
                record, temporary = self._create(new, None)
                created.append((record, temporary or ""))
        except BaseException:
            # All or nothing: undo the volunteers this import already created.
            for record, _ in created:
                self._remove(record)
            raise
        return created

    # ------------------------------------------------------------------ changing

    def certify(self, username: str, until: date | str) -> VolunteerRecord:
        """Set the training certification's expiry; a date in the past is refused."""
        try:
            expiry = until if isinstance(until, date) else parse_date(until)
        except ValueError as error:
            raise VolunteerAdminError(f"certified until: {error}") from None
        if expiry < self.today:
            raise VolunteerAdminError(f"certified until: {expiry.isoformat()} is in the past")
        return self._update(username, certified_until=expiry)

    def deactivate(self, username: str, *, actor_id: str = OPERATOR_ACTOR) -> VolunteerRecord:
        """Take the volunteer off the line at once, everywhere (see ``peerline.access``).

        Here: the Cognito user disabled (no sign-in) and signed out globally (no token refresh; Cognito refuses
        their access tokens, so the dashboard socket does too), the record inactive and offline (the API and the
        socket refuse them from the next request), an audit entry, and the job that closes their sockets and sends
        their offers and conversations back to the queue. Running it again repeats every step harmlessly.
        """
        access = self._access_changes()
        volunteer = self._existing(username)
        self._cognito.admin_disable_user(UserPoolId=self._pool_id, Username=volunteer.username)
        try:
            updated = self._update(volunteer.username, active=False, status=VolunteerStatus.OFFLINE)
        except BaseException:
            self._cognito.admin_enable_user(UserPoolId=self._pool_id, Username=volunteer.username)
            raise
        self._cognito.admin_user_global_sign_out(UserPoolId=self._pool_id, Username=volunteer.username)
        access.changed(volunteer.volunteer_id, actor_id=actor_id, action=DEACTIVATE_ACTION)
        return updated

    def set_roles(self, username: str, roles: Iterable[str], *, actor_id: str = OPERATOR_ACTOR) -> VolunteerRecord:
        """Promote or demote: the volunteer's roles (``volunteer`` and/or ``supervisor``) in Cognito and the registry.

        The registry decides what the API and the socket allow from the next request; the job closes the
        volunteer's open sockets, so a demoted supervisor's dashboard reconnects as a volunteer's and no
        supervisor-wide update reaches it any more. Audited (``change_role``, the old and new roles as the reason).
        The same roles again change nothing and are not audited.
        """
        access = self._access_changes()
        names = [name.strip().lower() for name in roles if name.strip()]
        unknown = [name for name in names if name not in ROLE_NAMES]
        if unknown or not names:
            raise VolunteerAdminError(
                f"unknown role {', '.join(map(repr, unknown))} (known: {', '.join(ROLE_NAMES)})"
                if unknown
                else f"no role given (known: {', '.join(ROLE_NAMES)})"
            )
        wanted = [Role(name) for name in dict.fromkeys(names)]
        volunteer = self._existing(username)
        if set(wanted) == set(volunteer.roles):
            return volunteer
        added = [role for role in wanted if role not in volunteer.roles]
        removed = [role for role in volunteer.roles if role not in wanted]
        self._set_groups(volunteer.username, add=added, remove=removed)
        try:
            updated = self._update(volunteer.username, roles=wanted)
        except BaseException:
            self._set_groups(volunteer.username, add=removed, remove=added)
            raise
        reason = f"{','.join(volunteer.roles)} -> {','.join(wanted)}"
        access.changed(volunteer.volunteer_id, actor_id=actor_id, action=CHANGE_ROLE_ACTION, reason=reason)
        return updated

    def _set_groups(self, username: str, *, add: builtins.list[Role], remove: builtins.list[Role]) -> None:
        for role in add:
            self._cognito.admin_add_user_to_group(UserPoolId=self._pool_id, Username=username, GroupName=role.value)
        for role in remove:
            self._cognito.admin_remove_user_from_group(
                UserPoolId=self._pool_id, Username=username, GroupName=role.value
            )

    def _access_changes(self) -> AccessChanges:
        if self._access is None:
            raise VolunteerAdminError(
                "this line has no audit table or timer queue to apply the change (an older stack or local.json: "
                "deploy or restart it)"
            )
        return self._access

    # ------------------------------------------------------------------ internals

    def _checked(
        self,
        problems: builtins.list[str],
        *,
        username: str,
        email: str,
        display_name: str,
        languages: builtins.list[str],
        certified_until: date | str | None,
        roles: builtins.list[str],
        max_concurrent: int | str | None,
    ) -> NewVolunteer | None:
        """The volunteer if every field is valid; otherwise None, with a message per problem in ``problems``."""
        before = len(problems)
        username = username.strip().lower()
        if not _USERNAME.fullmatch(username):
            problems.append(
                f"username {username!r} is not valid (2-64 characters: letters, digits, '.', '_' or '-', "
                "starting with a letter or digit)"
            )
        email = email.strip().lower()
        if not _EMAIL.fullmatch(email):
            problems.append(f"email {email!r} is not an e-mail address")
        display_name = display_name.strip()
        if not display_name or len(display_name) > DISPLAY_NAME_MAX:
            problems.append(f"display name {display_name!r} must be 1 to {DISPLAY_NAME_MAX} characters")
        codes = [code.strip().lower() for code in languages if code.strip()]
        unknown_codes = [code for code in codes if code not in LANGUAGE_CODES]
        if unknown_codes:
            problems.append(
                f"unknown language code {', '.join(map(repr, unknown_codes))} (known: {', '.join(LANGUAGE_CODES)})"
            )
        elif not codes:
            problems.append(f"no language given (known: {', '.join(LANGUAGE_CODES)})")
        names = [name.strip().lower() for name in roles if name.strip()] or [Role.VOLUNTEER.value]
        unknown_roles = [name for name in names if name not in ROLE_NAMES]
        if unknown_roles:
            problems.append(f"unknown role {', '.join(map(repr, unknown_roles))} (known: {', '.join(ROLE_NAMES)})")
        expiry: date | None = None
        if isinstance(certified_until, date):
            expiry = certified_until
        elif certified_until is not None and str(certified_until).strip():
            try:
                expiry = parse_date(str(certified_until))
            except ValueError as error:
                problems.append(f"certified until: {error}")
        if expiry is not None and expiry < self.today:
            problems.append(f"certified until: {expiry.isoformat()} is in the past")
        cap = DEFAULT_MAX_CONCURRENT
        if max_concurrent is not None and str(max_concurrent).strip():
            try:
                cap = int(str(max_concurrent).strip())
            except ValueError:
                cap = 0
            low, high = MAX_CONCURRENT_RANGE
            if not low <= cap <= high:
                problems.append(f"max concurrent {str(max_concurrent).strip()!r} must be a whole number {low}-{high}")
        if len(problems) > before:
            return None
        return NewVolunteer(
            username=username,
            email=email,
            display_name=display_name,
            languages=[Language(code) for code in dict.fromkeys(codes)],
            certified_until=expiry,
            roles=[Role(name) for name in dict.fromkeys(names)],
            max_concurrent=cap,
        )

    def _registered_usernames(self) -> set[str]:
        return {volunteer.username for volunteer in self._registry.all()}

    def _conflicts(self, new: NewVolunteer, registered: set[str]) -> builtins.list[str]:
        """The username or e-mail address already taken in the pool or the registry."""
        problems: builtins.list[str] = []
        if new.username in registered or self._cognito_user(new.username) is not None:
            problems.append(f"username {new.username!r} already exists")
        taken = self._cognito.list_users(UserPoolId=self._pool_id, Filter=f'email = "{new.email}"')["Users"]
        if taken:
            problems.append(f"email {new.email!r} is already used by {taken[0]['Username']!r}")
        return problems

    def _cognito_user(self, username: str) -> dict[str, Any] | None:
        try:
            user: dict[str, Any] = self._cognito.admin_get_user(UserPoolId=self._pool_id, Username=username)
        except ClientError as error:
            if error.response["Error"]["Code"] == "UserNotFoundException":
                return None
            raise
        return user

    def _create(self, new: NewVolunteer, password: str | None) -> tuple[VolunteerRecord, str | None]:
        temporary = None if password is not None else temporary_password()
        request: dict[str, Any] = {
            "UserPoolId": self._pool_id,
            "Username": new.username,
            "UserAttributes": [
                {"Name": "email", "Value": new.email},
                {"Name": "email_verified", "Value": "true"},
            ],
            # The operator hands the temporary password over; Cognito must not e-mail it.
            "MessageAction": "SUPPRESS",
        }
        if temporary is not None:
            request["TemporaryPassword"] = temporary
        try:
            user = self._cognito.admin_create_user(**request)["User"]
        except ClientError as error:
            raise VolunteerAdminError(f"{new.username}: the user pool refused the user: {_reason(error)}") from None
        try:
            if password is not None:
                self._cognito.admin_set_user_password(
                    UserPoolId=self._pool_id, Username=new.username, Password=password, Permanent=True
                )
            for role in new.roles:
                self._cognito.admin_add_user_to_group(
                    UserPoolId=self._pool_id, Username=new.username, GroupName=role.value
                )
            sub = next(attribute["Value"] for attribute in user["Attributes"] if attribute["Name"] == "sub")
            record = VolunteerRecord(
                volunteer_id=sub,
                username=new.username,
                display_name=new.display_name,
                roles=new.roles,
                certified_until=new.certified_until,
                languages=new.languages,
                max_concurrent=new.max_concurrent,
            )
            self._registry.create(record)
        except BaseException as error:
            # No partial writes: a volunteer exists in both places or in neither.
            self._cognito.admin_delete_user(UserPoolId=self._pool_id, Username=new.username)
            if isinstance(error, ClientError):
                raise VolunteerAdminError(f"{new.username}: not created: {_reason(error)}") from None
            if isinstance(error, VolunteerExistsError):
                raise VolunteerAdminError(f"{new.username}: not created: already registered") from None
            raise
        return record, temporary

    def _remove(self, record: VolunteerRecord) -> None:
        self._registry.delete(record.volunteer_id)
        self._cognito.admin_delete_user(UserPoolId=self._pool_id, Username=record.username)

    def _existing(self, username: str) -> VolunteerRecord:
        volunteer = self.find(username)
        if volunteer is None:
            raise VolunteerAdminError(f"no volunteer named {username.strip().lower()!r}")
        return volunteer

    def _update(self, username: str, **changes: Any) -> VolunteerRecord:
        """Apply ``changes`` on the current record; a concurrent change (routing moves load and status) is retried."""
        for _ in range(_UPDATE_ATTEMPTS):
            current = self._existing(username)
            try:
                changed = VolunteerRecord.model_validate({**current.model_dump(), **changes})
            except ValidationError as error:
                raise VolunteerAdminError(str(error)) from None
            try:
                self._registry.replace(changed, expected_version=current.version)
            except UnknownVolunteerError:
                continue
            return changed.model_copy(update={"version": current.version + 1})
        raise VolunteerAdminError(f"{username}: the record kept changing; try again")

    @staticmethod
    def _read_csv(path: Path) -> tuple[builtins.list[tuple[int, dict[str, str]]], builtins.list[str]]:
        """The file's rows with their line numbers, and what is wrong with its shape (header, extra values)."""
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            raise VolunteerAdminError(f"{path}: cannot read the file: {error}") from None
        reader = csv.reader(text.splitlines())
        header = [name.strip().lower() for name in next(reader, [])]
        missing = [column for column in CSV_COLUMNS if column not in header]
        unknown = [column for column in header if column not in CSV_COLUMNS]
        if missing or unknown:
            problems = [f"line 1: missing column(s) {', '.join(missing)}"] if missing else []
            if unknown:
                problems.append(f"line 1: unknown column(s) {', '.join(unknown)}")
            problems.append(f"line 1: the header must be {','.join(CSV_COLUMNS)}")
            raise VolunteerAdminError(problems)
        rows: builtins.list[tuple[int, dict[str, str]]] = []
        problems = []
        for values in reader:
            if not any(value.strip() for value in values):
                continue  # a blank line
            if len(values) > len(header):
                problems.append(f"line {reader.line_num}: {len(values)} values for {len(header)} columns")
                continue
            rows.append((reader.line_num, dict(zip(header, values, strict=False))))
        return rows, problems


def password_problem(password: str) -> str | None:
    """What is wrong with a password under the pool's policy (12+ characters, upper, lower, digit), if anything."""
    if (
        len(password) < 12
        or not any(c.isupper() for c in password)
        or not any(c.islower() for c in password)
        or not any(c.isdigit() for c in password)
    ):
        return "password must have at least 12 characters, with upper- and lower-case letters and a digit"
    return None


def temporary_password() -> str:
    """A random password that meets the pool's policy."""
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(16))
        if password_problem(candidate) is None:
            return candidate


def _reason(error: ClientError) -> str:
    details = error.response.get("Error", {})
    return str(details.get("Message") or details.get("Code") or error)
