"""``peerline``: the operator's and developer's command line.

peerline dev                 start the whole line locally (what ``make dev`` runs); Ctrl-C stops it
peerline text "hello"        text the running local line as a simulated texter, and print its replies
peerline volunteers …        add, list, import, certify or deactivate volunteers (local line or a deployed stack)
peerline triage "text" …     score texts (arguments, or one per line on stdin) with the crisis triage rules
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from peerline.observability import PhoneMaskingFilter


def _configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    handler.addFilter(PhoneMaskingFilter())
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], force=True)
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3", "twilio", "moto"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def demo_users_skip_totp(mfa_flag: bool, environment: Mapping[str, str]) -> bool:
    """Local only: demo supervisors skip two-step sign-in unless asked for (`--mfa` or PEERLINE_LOCAL_MFA=1)."""
    return not (mfa_flag or environment.get("PEERLINE_LOCAL_MFA", "").strip().lower() in ("1", "true", "yes"))


def _dev(args: argparse.Namespace) -> int:
    from peerline_local.local_line import LocalLine, LocalLineOptions
    from peerline_local.paths import project_root

    _configure_logging(args.verbose)
    parameters = {
        "StillWaitingSeconds": str(args.still_waiting_seconds),
        "ConsentTimeoutSeconds": str(args.consent_timeout_seconds),
    }
    options = LocalLineOptions(
        root=project_root(),
        api_port=args.api_port,
        aws_port=args.aws_port,
        twilio_port=args.twilio_port,
        socket_port=args.socket_port,
        dashboard_port=args.dashboard_port,
        line_number=args.line_number,
        parameters=parameters,
        demo_users_skip_totp=demo_users_skip_totp(args.mfa, os.environ),
    )
    line = LocalLine(options)
    stopped = threading.Event()
    # Both, explicitly: a shell may start a background job with SIGINT ignored.
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    print("Starting the local line (moto, functions, HTTP API, Twilio fake)…", flush=True)
    started = time.monotonic()
    try:
        info = line.start()
    except Exception as error:
        print(f"The local line could not start: {error}", file=sys.stderr)
        return 1
    print(
        f"\nPeerline is running locally ({time.monotonic() - started:.1f} s to start):\n"
        f"  dashboard         {info['dashboard_url']}   ← volunteers and supervisors sign in here\n"
        f"  phone simulator   {info['simulator_url']}   ← text the line from your browser\n"
        f"  inbound SMS URL   {info['inbound_sms_url']}\n"
        f"  HTTP API          {info['api_url']}\n"
        f"  dashboard socket  {info['socket_url']}   (live updates; connect with ?token=<access token>)\n"
        f"  AWS (moto)        {info['aws_endpoint_url']}  region {info['region']}\n"
        f"  Twilio fake API   {info['twilio_api_url']}/2010-04-01/Accounts/{info['twilio_account_sid']}/Messages.json\n"
        f"  line number       {info['line_number']}\n"
        f"  details           {line.state_dir / 'local.json'}\n"
        f"\nVolunteer sign-ins (Cognito user pool {info['user_pool_id']}, app client {info['user_pool_client_id']}):\n"
        + "".join(
            f"  {user['username']:<14} {user['password']:<24} {user['role']:<11} shown to texters as {user['display_name']}\n"
            for user in info["demo_users"]
        )
        + (
            "  (supervisors need two-step sign-in: the demo one skips it here; `--mfa` to set it up)\n"
            if options.demo_users_skip_totp
            else "  (--mfa: the demo supervisor sets up two-step sign-in (TOTP) at first sign-in)\n"
        )
        + '\nTry:  .venv/bin/peerline text "hi, I need to talk"      Ctrl-C stops everything.\n',
        flush=True,
    )
    while not stopped.wait(0.5):
        pass
    print("\nStopping the local line…", flush=True)
    line.stop()
    print("Stopped.", flush=True)
    return 0


def _load_local_info(state_dir: Path | None) -> dict[str, Any]:
    from peerline_local.paths import project_root

    path = (state_dir or project_root() / ".peerline") / "local.json"
    if not path.is_file():
        raise SystemExit(f"No local line found ({path} is missing): start it with `make dev` first.")
    info: dict[str, Any] = json.loads(path.read_text())
    return info


def fresh_test_number(taken: Iterable[str], rng: random.Random | None = None) -> str:
    """A fictional ``+1555555xxxx`` number that is not in ``taken``, picked at random (so two at once rarely clash)."""
    taken = set(taken)
    free = [number for number in (f"+1555555{suffix:04d}" for suffix in range(10_000)) if number not in taken]
    if not free:
        raise SystemExit("Every +1555555xxxx test number has been used on this local line: pass --from.")
    return (rng or random.SystemRandom()).choice(free)


def _numbers_in_use(client: Any, info: dict[str, Any]) -> set[str]:
    """Every number this local line has texted with, and the ones it keeps for itself and the phone simulator."""
    import requests

    from peerline_local.twilio_fake import DEFAULT_SIMULATED_TEXTER

    used = {DEFAULT_SIMULATED_TEXTER, info["line_number"], info.get("on_call_number", "")}
    # From the phones' side: the account forgets a closed conversation's messages, the line still knows the texter.
    numbers = requests.get(f"{info['simulator_url']}/api/numbers", timeout=10).json()["numbers"]
    return used | set(numbers)


def _text(args: argparse.Namespace) -> int:
    import requests
    from twilio.rest import Client

    info = _load_local_info(args.state_dir)
    body = " ".join(args.body)
    client = Client(info["twilio_account_sid"], info["twilio_auth_token"])
    client.api.base_url = info["twilio_api_url"]
    # By default a texter the line has never heard from (the simulator's own texter may be mid-conversation, and a
    # text from them gets no welcome), printed in full: a fictional test number, needed to text again as them.
    from_number = args.from_number or fresh_test_number(_numbers_in_use(client, info))
    print(f"texting the line as {from_number}   (again as this texter: --from {from_number})\n")

    def received() -> list[dict[str, Any]]:
        # The phone's view (the simulator's), oldest first: the Twilio account forgets a closed conversation's texts.
        thread = requests.get(f"{info['simulator_url']}/api/messages", params={"number": from_number}, timeout=10)
        return [message for message in thread.json() if message["direction"] == "outbound"]

    # Snapshot first: the line can answer before the POST below returns.
    before = {message["sid"] for message in received()}
    response = requests.post(f"{info['simulator_url']}/api/send", json={"from": from_number, "body": body}, timeout=10)
    if response.status_code >= 300:
        print(f"The line did not take the text: HTTP {response.status_code} {response.text[:200]}", file=sys.stderr)
        return 1
    seen: set[str] = set()
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        for message in received():
            if message["sid"] not in before and message["sid"] not in seen:
                seen.add(message["sid"])
                print(f"line › {message['body']}\n")
        time.sleep(0.25)
    if not seen:
        print(f"(no reply within {args.wait:.0f} s)")
    return 0


# ---------------------------------------------------------------------------------------------------- volunteers

_BAD_INPUT = 2  # the exit code for refused input (argparse uses it too)


def _volunteer_admin(args: argparse.Namespace) -> Any:
    """A VolunteerAdmin for the local line (``--local``, the default) or a deployed stack (``--stack``)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from peerline.adapters.volunteers import DynamoVolunteerRegistry
    from peerline_ops.volunteers import VolunteerAdmin

    if args.stack:
        try:
            session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
            stacks = session.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"]
        except (BotoCoreError, ClientError) as error:
            raise SystemExit(f"Cannot read stack {args.stack!r}: {error}") from None
        outputs = {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs") or []}
        missing = [name for name in ("VolunteersTableName", "UserPoolId") if name not in outputs]
        if missing:
            raise SystemExit(f"Stack {args.stack!r} has no output {', '.join(missing)}: is it a Peerline stack?")
        cognito = session.client("cognito-idp")
        dynamodb = session.client("dynamodb")
        table, pool_id = outputs["VolunteersTableName"], outputs["UserPoolId"]
    else:
        info = _load_local_info(args.state_dir)
        if "user_pool_id" not in info:
            raise SystemExit("The local line's local.json has no user_pool_id: restart it with `make dev`.")
        session = boto3.session.Session(
            aws_access_key_id=info.get("aws_access_key_id", "testing"),
            aws_secret_access_key=info.get("aws_secret_access_key", "testing"),
            region_name=info["region"],
        )
        cognito = session.client("cognito-idp", endpoint_url=info["aws_endpoint_url"])
        dynamodb = session.client("dynamodb", endpoint_url=info["aws_endpoint_url"])
        table, pool_id = info["resources"]["VolunteersTable"], info["user_pool_id"]
    return VolunteerAdmin(cognito, pool_id, DynamoVolunteerRegistry(table, dynamodb))


def _volunteers(args: argparse.Namespace) -> int:
    from peerline_ops.volunteers import VolunteerAdminError

    admin = _volunteer_admin(args)
    try:
        result: int = args.action(admin, args)
    except VolunteerAdminError as error:
        print(f"peerline volunteers {args.volunteers_command}: refused, nothing was written:", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return _BAD_INPUT
    return result


def _describe(volunteer: Any) -> str:
    certified = volunteer.certified_until.isoformat() if volunteer.certified_until else "not certified"
    return (
        f"{volunteer.username} ({volunteer.display_name}): roles {','.join(volunteer.roles)}, "
        f"languages {','.join(volunteer.languages)}, certified until {certified}, "
        f"max {volunteer.max_concurrent} concurrent"
    )


def _volunteers_add(admin: Any, args: argparse.Namespace) -> int:
    from peerline_ops.volunteers import parse_list

    volunteer, temporary = admin.add(
        args.username,
        args.email,
        args.display_name,
        parse_list(args.languages),
        args.certified_until,
        roles=parse_list(args.roles),
        max_concurrent=args.max_concurrent,
        password=args.password,
    )
    suffix = f"; temporary password {temporary} (to change at first sign-in)" if temporary else ""
    print(f"added {_describe(volunteer)}{suffix}")
    return 0


def _volunteers_import(admin: Any, args: argparse.Namespace) -> int:
    created = admin.import_csv(args.csv)
    for volunteer, temporary in created:
        print(f"added {_describe(volunteer)}; temporary password {temporary} (to change at first sign-in)")
    print(f"imported {len(created)} volunteer{'s' if len(created) != 1 else ''} from {args.csv}")
    return 0


def _volunteers_list(admin: Any, args: argparse.Namespace) -> int:
    volunteers = admin.list()
    rows = [("USERNAME", "DISPLAY NAME", "ROLES", "LANGUAGES", "CERTIFIED UNTIL", "STATUS", "ACTIVE")]
    for volunteer in volunteers:
        rows.append(
            (
                volunteer.username,
                volunteer.display_name,
                ",".join(volunteer.roles),
                ",".join(volunteer.languages),
                volunteer.certified_until.isoformat() if volunteer.certified_until else "-",
                str(volunteer.status),
                "yes" if volunteer.active else "no",
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    if not volunteers:
        print("(no volunteers yet: add one with `peerline volunteers add`)")
    return 0


def _volunteers_certify(admin: Any, args: argparse.Namespace) -> int:
    volunteer = admin.certify(args.username, args.until)
    print(f"certified {volunteer.username} until {volunteer.certified_until.isoformat()}")
    return 0


def _volunteers_deactivate(admin: Any, args: argparse.Namespace) -> int:
    volunteer = admin.deactivate(args.username)
    print(f"deactivated {volunteer.username}: Cognito sign-in disabled, marked inactive and offline")
    return 0


def _add_volunteer_commands(commands: Any) -> None:
    target = argparse.ArgumentParser(add_help=False)
    where = target.add_argument_group("which line (default: the running local line)")
    where.add_argument("--local", action="store_true", help="the local line started by `make dev` (the default)")
    where.add_argument("--stack", metavar="NAME", help="a deployed stack (its outputs name the table and user pool)")
    where.add_argument("--region", help="the deployed stack's region (default: your AWS configuration's)")
    where.add_argument("--profile", help="the AWS profile to use for a deployed stack")
    where.add_argument("--state-dir", type=Path, default=None, help="where the local line wrote local.json")

    volunteers = commands.add_parser("volunteers", help="manage volunteers: add, list, import, certify, deactivate")
    actions = volunteers.add_subparsers(dest="volunteers_command", required=True)

    add = actions.add_parser("add", parents=[target], help="create a volunteer (Cognito user + registry record)")
    add.add_argument("username", help="sign-in name: letters, digits, '.', '_' or '-'")
    add.add_argument("--email", required=True)
    add.add_argument("--display-name", "--name", dest="display_name", required=True, help="what texters may see")
    add.add_argument("--languages", default="en", help="language codes, e.g. en or en,es (known: en, es)")
    add.add_argument("--certified-until", default=None, metavar="YYYY-MM-DD", help="training certification expiry")
    add.add_argument("--roles", default="volunteer", help="volunteer and/or supervisor, e.g. volunteer,supervisor")
    add.add_argument("--max-concurrent", default="2", help="most conversations at once (1-10, default 2)")
    add.add_argument("--password", default=None, help="a permanent password (default: a temporary one is printed)")
    add.set_defaults(action=_volunteers_add)

    listing = actions.add_parser("list", parents=[target], help="every volunteer as a table")
    listing.set_defaults(action=_volunteers_list)

    csv_import = actions.add_parser("import", parents=[target], help="add every volunteer of a CSV file, or none")
    csv_import.add_argument(
        "csv", type=Path, help="header: username,email,display_name,languages,certified_until,roles,max_concurrent"
    )
    csv_import.set_defaults(action=_volunteers_import)

    certify = actions.add_parser("certify", parents=[target], help="set a volunteer's certification expiry")
    certify.add_argument("username")
    certify.add_argument("--until", required=True, metavar="YYYY-MM-DD")
    certify.set_defaults(action=_volunteers_certify)

    deactivate = actions.add_parser("deactivate", parents=[target], help="disable a volunteer's sign-in and routing")
    deactivate.add_argument("username")
    deactivate.set_defaults(action=_volunteers_deactivate)

    for parser in (add, listing, csv_import, certify, deactivate):
        parser.set_defaults(run=_volunteers)

    from peerline_ops import oncall

    oncall.add_commands(commands, target, _load_local_info)

    from peerline_ops import publish

    publish.add_commands(commands)


# ---------------------------------------------------------------------------------------------------- triage


def _triage(args: argparse.Namespace) -> int:
    """One JSON object per text; the text itself only with --echo (operators may pipe real texts)."""
    from peerline.triage import TriageRulesError, load_rules, triage
    from peerline.triage.frames import FRAMES_DIR, FramesError, load_frames
    from peerline.triage.ruleset import default_rule_folders

    extra = [*default_rule_folders()[1:], *(args.rules or [])]
    try:
        rules = load_rules([*default_rule_folders()[:1], *extra])
        # A folder may hold phrase rules and frames tables (lexicons, frames) alike.
        frames = load_frames([FRAMES_DIR, *extra])
    except (TriageRulesError, FramesError) as error:
        print(f"peerline triage: {error}", file=sys.stderr)
        return _BAD_INPUT
    if args.check:
        return _check_triage_examples(rules, frames)
    texts = args.texts or (line.rstrip("\r\n") for line in sys.stdin)
    # --conversation: the texts are one texter's, in order; each is scored with the earlier ones' frame signals,
    # as the engine does with a conversation.
    context: list[str] = []
    for text in texts:
        if not text.strip():
            continue
        result = triage(text, rules, frames=frames, context=context if args.conversation else ())
        context = list(dict.fromkeys([*context, *result.signals]))
        line: dict[str, Any] = result.model_dump(mode="json", exclude_none=True)
        if args.echo:
            line["text"] = text
        print(json.dumps(line, ensure_ascii=False), flush=True)
    return 0


def _check_triage_examples(rules: Any, frames: Any) -> int:
    """Run every frame's own examples (and every phrase rule's): 0 when all hold, 1 naming each that does not."""
    from peerline.triage import triage

    failures = []
    checked = 0
    for frame in frames.frames:
        key = f"frame.{frame.id}"
        for text in frame.positive:
            checked += 1
            result = triage(text, rules, frames=frames, use_model=False)
            if key not in result.rules or result.level.rank < frame.level.rank:
                failures.append(f"{key}: should reach {frame.level.value} on {text!r}, scored {result.level.value}")
        for text in frame.negative:
            checked += 1
            result = triage(text, rules, frames=frames, use_model=False)
            if key in result.rules and result.level.rank >= frame.level.rank:
                failures.append(f"{key}: should not reach {frame.level.value} on {text!r}")
    for rule in rules.rules:
        for text in rule.spec.positive:
            checked += 1
            if rule.id not in triage(text, rules, frames=frames, use_model=False).rules:
                failures.append(f"{rule.id}: should fire on {text!r}")
        for text in rule.spec.negative:
            checked += 1
            if rule.id in triage(text, rules, frames=frames, use_model=False).rules:
                failures.append(f"{rule.id}: should not fire on {text!r}")
    for failure in failures:
        print(failure)
    print(f"{checked} examples checked, {len(failures)} failed", file=sys.stderr)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="peerline", description="Peerline: the peer support text line.")
    commands = parser.add_subparsers(dest="command", required=True)

    dev = commands.add_parser("dev", help="start the whole line locally in the foreground (Ctrl-C stops it)")
    dev.add_argument("--api-port", type=int, default=3000, help="HTTP API port (taken → any free port)")
    dev.add_argument("--aws-port", type=int, default=4566, help="moto server port (taken → any free port)")
    dev.add_argument("--twilio-port", type=int, default=4010, help="Twilio fake port (taken → any free port)")
    dev.add_argument("--socket-port", type=int, default=3001, help="dashboard WebSocket port (taken → any free port)")
    dev.add_argument("--dashboard-port", type=int, default=8080, help="dashboard port (taken → any free port)")
    dev.add_argument("--line-number", default="+15555550000", help="the line's own number (E.164)")
    dev.add_argument("--still-waiting-seconds", type=int, default=120)
    dev.add_argument("--consent-timeout-seconds", type=int, default=60)
    dev.add_argument(
        "--mfa",
        action="store_true",
        help="demo supervisors set up two-step sign-in (TOTP) in the dashboard, as on AWS (or PEERLINE_LOCAL_MFA=1)",
    )
    dev.add_argument("-v", "--verbose", action="store_true")
    dev.set_defaults(run=_dev)

    text = commands.add_parser("text", help="text the running local line as a simulated texter")
    text.add_argument("body", nargs="+")
    text.add_argument(
        "--from",
        dest="from_number",
        default=None,
        help="the simulated texter's number (default: a +1555555xxxx number new to this local line)",
    )
    text.add_argument("--wait", type=float, default=3.0, help="seconds to wait for replies")
    text.add_argument("--state-dir", type=Path, default=None)
    text.set_defaults(run=_text)

    _add_volunteer_commands(commands)

    scorer = commands.add_parser(
        "triage",
        help="score texts with the crisis triage rules: one JSON object per text",
        description="Score texts (the arguments, or stdin one per line) and print one JSON object per line: "
        "level, categories, rules (the frames and phrase rules that set the level), modifiers, languages, signals "
        "(the frame slots the text filled — what a conversation remembers) and, when the learned stage raised the "
        "level, model (its score). The text is not printed unless --echo is given. "
        "Frames and rules: the built-in ones, plus $PEERLINE_TRIAGE_RULES_DIR's, plus every --rules given.",
    )
    scorer.add_argument("texts", nargs="*", help="texts to score (default: read stdin, one text per line)")
    scorer.add_argument("--echo", action="store_true", help="include the text in each JSON object")
    scorer.add_argument(
        "--check",
        action="store_true",
        help="run every frame's and phrase rule's own examples (with --rules: yours too); exit 1 if one fails",
    )
    scorer.add_argument(
        "--conversation",
        action="store_true",
        help="the texts are one texter's, in order: frames combine across them as in a conversation",
    )
    scorer.add_argument(
        "--rules",
        action="append",
        type=Path,
        metavar="DIR",
        help="a folder or file of phrase rules and/or frames tables (lexicons, frames) to add (repeatable)",
    )
    scorer.set_defaults(run=_triage)

    args = parser.parse_args(argv)
    if getattr(args, "stack", None) and getattr(args, "local", False):
        parser.error("--local and --stack are mutually exclusive")
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
