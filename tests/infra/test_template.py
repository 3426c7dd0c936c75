"""template.yaml lints clean, transforms offline, and keeps the invariants the design relies on.

Each invariant is a checker that returns the offenders, named; the real template must have none, and a fixture
that breaks every invariant once shows that each checker catches what it guards against.
"""

import copy
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint_file
from samtranslator.internal.managed_policies import get_bundled_managed_policy_map
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform

from peerline_local.stack import load_template

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "template.yaml"
VIOLATIONS = Path(__file__).resolve().parent / "fixtures" / "invariant_violations.yaml"

Template = dict[str, Any]


# ---------------------------------------------------------------------------------------------------- offline SAM transform


class _BundledManagedPolicies(ManagedPolicyLoader):
    """The managed policy map shipped with aws-sam-translator, so transforming never calls IAM."""

    def __init__(self) -> None:
        super().__init__(iam_client=None)

    def load(self) -> dict[str, str]:
        return get_bundled_managed_policy_map("aws") or {}


def sam_transform(template: Template) -> Template:
    """The CloudFormation `sam deploy` would submit, made offline from a SAM template."""
    packaged = copy.deepcopy(template)
    # `sam package` replaces local folders with S3 locations; the translator only accepts the latter.
    for resource in packaged.get("Resources", {}).values():
        properties = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str) and not properties[key].startswith("s3://"):
                properties[key] = f"s3://offline-bucket/{properties[key].strip('/')}"
    return transform(packaged, {}, _BundledManagedPolicies())


@pytest.fixture(scope="module")
def offline_region() -> Iterator[None]:
    # The translator asks boto3 for a region to build ARNs; no credentials are needed or used.
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("AWS_DEFAULT_REGION", "us-east-1")
        yield


@pytest.fixture(scope="module")
def template() -> Template:
    if not TEMPLATE.exists():
        pytest.skip(f"{TEMPLATE} does not exist yet")
    return load_template(TEMPLATE)


@pytest.fixture(scope="module")
def transformed(template: Template, offline_region: None) -> Template:
    return sam_transform(template)


@pytest.fixture(scope="module")
def violations_template() -> Template:
    return load_template(VIOLATIONS)


@pytest.fixture(scope="module")
def violations_transformed(violations_template: Template, offline_region: None) -> Template:
    return sam_transform(violations_template)


# ---------------------------------------------------------------------------------------------------- helpers


def _resources_of_type(template: Template, resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") == resource_type:
            yield logical_id, resource.get("Properties") or {}


def _get_att_id(value: Any, attribute: str) -> str | None:
    """X for `!GetAtt X.<attribute>` (either spelling), else None."""
    if not isinstance(value, dict) or "Fn::GetAtt" not in value:
        return None
    target = value["Fn::GetAtt"]
    logical_id, found = target.split(".", 1) if isinstance(target, str) else (target[0], target[1])
    return logical_id if found == attribute else None


def _mentions(value: Any, logical_id: str) -> bool:
    """Whether an (unresolved) value refers to `logical_id` through Ref, GetAtt or Sub."""
    if isinstance(value, dict):
        if value.get("Ref") == logical_id:
            return True
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return (target.split(".", 1)[0] if isinstance(target, str) else target[0]) == logical_id
        if "Fn::Sub" in value:
            text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
            if re.search(r"\$\{" + re.escape(logical_id) + r"[.}]", text):
                return True
        return any(_mentions(item, logical_id) for item in value.values())
    if isinstance(value, list):
        return any(_mentions(item, logical_id) for item in value)
    return False


def _functions(template: Template) -> Iterator[tuple[str, dict[str, Any]]]:
    return _resources_of_type(template, "AWS::Serverless::Function")


def _sqs_events(properties: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for event_name, event in (properties.get("Events") or {}).items():
        if event.get("Type") == "SQS":
            yield event_name, event.get("Properties") or {}


def _dead_letter_targets(template: Template) -> dict[str, str | None]:
    """Queue logical id → logical id of the queue its RedrivePolicy sends to (None without one in the template)."""
    queues = dict(_resources_of_type(template, "AWS::SQS::Queue"))
    targets: dict[str, str | None] = {}
    for logical_id, properties in queues.items():
        redrive = properties.get("RedrivePolicy")
        target = _get_att_id(redrive.get("deadLetterTargetArn"), "Arn") if isinstance(redrive, dict) else None
        targets[logical_id] = target if target in queues else None
    return targets


def _policy_statements(value: Any) -> Iterator[dict[str, Any]]:
    """Every statement of every policy document inside a value, however deeply nested."""
    if isinstance(value, dict):
        statements = value.get("Statement")
        if isinstance(statements, list):
            yield from (statement for statement in statements if isinstance(statement, dict))
        elif isinstance(statements, dict):
            yield statements
        for item in value.values():
            yield from _policy_statements(item)
    elif isinstance(value, list):
        for item in value:
            yield from _policy_statements(item)


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement.get("Action", [])
    return [actions] if isinstance(actions, str) else [action for action in actions if isinstance(action, str)]


# ---------------------------------------------------------------------------------------------------- invariants


def sqs_sources_without_batch_item_failures(template: Template, transformed: Template) -> list[str]:
    """An SQS consumer that can't report partial failures retries (and eventually dead-letters) the whole batch."""
    return [
        f"{function_id}.Events.{event_name}: FunctionResponseTypes lacks ReportBatchItemFailures"
        for function_id, properties in _functions(template)
        for event_name, event in _sqs_events(properties)
        if "ReportBatchItemFailures" not in (event.get("FunctionResponseTypes") or [])
    ]


def queues_without_dead_letter_queue(template: Template, transformed: Template) -> list[str]:
    """Every queue that is not itself a DLQ must redrive to a queue of this template."""
    targets = _dead_letter_targets(template)
    dead_letter_queues = {target for target in targets.values() if target}
    return [
        f"{queue_id}: no RedrivePolicy to a dead-letter queue of this template"
        for queue_id, target in targets.items()
        if queue_id not in dead_letter_queues and target is None
    ]


def dead_letter_queues_without_alarm(template: Template, transformed: Template) -> list[str]:
    """A message in a DLQ is a texter or a reply that got stuck: someone must be told."""
    alarms = [properties for _, properties in _resources_of_type(template, "AWS::CloudWatch::Alarm")]

    def watched(dead_letter_id: str) -> bool:
        for alarm in alarms:
            metrics = [alarm] + [
                (metric.get("MetricStat") or {}).get("Metric") or {} for metric in alarm.get("Metrics") or []
            ]
            for metric in metrics:
                if (
                    metric.get("MetricName") == "ApproximateNumberOfMessagesVisible"
                    and metric.get("Namespace") == "AWS/SQS"
                    and _mentions(metric.get("Dimensions"), dead_letter_id)
                ):
                    return True
        return False

    return [
        f"{queue_id}: its dead-letter queue {target} has no alarm on ApproximateNumberOfMessagesVisible"
        for queue_id, target in _dead_letter_targets(template).items()
        if target is not None and not watched(target)
    ]


# Dead-letter queues hold texts' bodies: kept long enough to react to their alarm over a long weekend, not longer.
DEAD_LETTER_RETENTION_SECONDS = range(3 * 24 * 3600, 4 * 24 * 3600 + 1)


def dead_letter_queues_kept_too_long(template: Template, transformed: Template) -> list[str]:
    """Every dead-letter queue says how long it keeps what it holds: 3 to 4 days (SQS allows up to 14)."""
    queues = dict(_resources_of_type(template, "AWS::SQS::Queue"))
    offenders: list[str] = []
    for target in sorted({target for target in _dead_letter_targets(template).values() if target}):
        retention = queues[target].get("MessageRetentionPeriod")
        if retention is None:
            offenders.append(f"{target}: MessageRetentionPeriod is not set")
        elif int(retention) not in DEAD_LETTER_RETENTION_SECONDS:
            offenders.append(f"{target}: MessageRetentionPeriod {retention} s is outside 3 to 4 days")
    return offenders


def wildcard_actions(template: Template, transformed: Template) -> list[str]:
    """Least privilege: no statement may allow an action pattern ("*", "dynamodb:*", "sqs:SendMessage*" ...)."""
    offenders: list[str] = []
    functions = dict(_functions(template))
    for function_id, properties in functions.items():
        for statement in _policy_statements(properties.get("Policies")):
            offenders += [f"{function_id}.Policies: Action {action}" for action in _actions(statement) if "*" in action]
    for logical_id, resource in (transformed.get("Resources") or {}).items():
        properties = resource.get("Properties") or {}
        documents = [(str(logical_id), properties)]
        if resource.get("Type") == "AWS::IAM::Role":
            documents = [(str(logical_id), properties.get("AssumeRolePolicyDocument"))] + [
                (f"{logical_id} {policy.get('PolicyName')}{_sam_policy_origin(functions, logical_id, index)}", policy)
                for index, policy in enumerate(properties.get("Policies") or [])
            ]
        for where, document in documents:
            for statement in _policy_statements(document):
                offenders += [f"{where}: Action {action}" for action in _actions(statement) if "*" in action]
    return offenders


def _sam_policy_origin(functions: dict[str, dict[str, Any]], role_id: str, index: int) -> str:
    """SAM names a function's role "<Function>Role" and its inline policies in the order of the function's Policies."""
    policies = functions.get(role_id.removesuffix("Role"), {}).get("Policies")
    if not isinstance(policies, list) or index >= len(policies):
        return ""
    entry = policies[index]
    what = next(iter(entry)) if isinstance(entry, dict) and len(entry) == 1 else "inline statement"
    return f" (from {role_id.removesuffix('Role')}.Policies[{index}] {what})"


def full_access_managed_policies(template: Template, transformed: Template) -> list[str]:
    """AWS managed *FullAccess policies grant a whole service; functions get exactly what they use."""
    offenders: list[str] = []
    for function_id, properties in _functions(template):
        policies = properties.get("Policies") or []
        for policy in [policies] if isinstance(policies, str) else policies:
            if isinstance(policy, str) and policy.endswith("FullAccess"):
                offenders.append(f"{function_id}.Policies: {policy}")
    for role_id, properties in _resources_of_type(transformed, "AWS::IAM::Role"):
        for policy_arn in properties.get("ManagedPolicyArns") or []:
            if "FullAccess" in str(policy_arn):
                offenders.append(f"{role_id}.ManagedPolicyArns: {policy_arn}")
    return offenders


# Tables that hold message bodies: what is deleted at close must not be restorable for 35 days (issue 12).
BODY_TABLES = frozenset({"MessagesTable"})


def tables_not_on_demand_encrypted_recoverable_and_expiring(template: Template, transformed: Template) -> list[str]:
    """Tables are on-demand, encrypted, point-in-time recoverable (never the ones holding bodies), and expire what
    they keep."""
    offenders: list[str] = []
    for table_id, properties in _resources_of_type(template, "AWS::DynamoDB::Table"):
        if properties.get("BillingMode") != "PAY_PER_REQUEST":
            offenders.append(f"{table_id}: BillingMode is {properties.get('BillingMode')!r}, not PAY_PER_REQUEST")
        if (properties.get("SSESpecification") or {}).get("SSEEnabled") is not True:
            offenders.append(f"{table_id}: SSESpecification.SSEEnabled is not true")
        pitr = (properties.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled") is True
        if table_id in BODY_TABLES and pitr:
            offenders.append(f"{table_id}: PointInTimeRecovery is on for message bodies (deleted bodies restorable)")
        elif table_id not in BODY_TABLES and not pitr:
            offenders.append(f"{table_id}: PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled is not true")
        if not properties.get("TimeToLiveSpecification"):
            offenders.append(f"{table_id}: no TimeToLiveSpecification")
    return offenders


def globals_not_python313_on_arm64(template: Template, transformed: Template) -> list[str]:
    function_globals = (template.get("Globals") or {}).get("Function") or {}
    offenders: list[str] = []
    if function_globals.get("Runtime") != "python3.13":
        offenders.append(f"Globals.Function.Runtime is {function_globals.get('Runtime')!r}, not python3.13")
    if function_globals.get("Architectures") != ["arm64"]:
        offenders.append(f"Globals.Function.Architectures is {function_globals.get('Architectures')!r}, not [arm64]")
    return offenders


def functions_overriding_runtime_or_architecture(template: Template, transformed: Template) -> list[str]:
    return [
        f"{function_id}.{key}: {properties[key]!r} overrides Globals"
        for function_id, properties in _functions(template)
        for key in ("Runtime", "Architectures")
        if key in properties and properties[key] not in ("python3.13", ["arm64"])
    ]


def sqs_consumers_with_function_dead_letter_queue(template: Template, transformed: Template) -> list[str]:
    """A function's DeadLetterQueue only catches async invokes; an SQS consumer's DLQ is its queue's redrive policy."""
    globals_dead_letter = ((template.get("Globals") or {}).get("Function") or {}).get("DeadLetterQueue")
    return [
        f"{function_id}: DeadLetterQueue on an SQS consumer (put the DLQ in the queue's RedrivePolicy)"
        for function_id, properties in _functions(template)
        if any(True for _ in _sqs_events(properties)) and (properties.get("DeadLetterQueue") or globals_dead_letter)
    ]


def tracing_that_records_payloads(template: Template, transformed: Template) -> list[str]:
    """X-Ray keeps what it records for 30 days: a response (a revealed number, message bodies) or an error payload
    must never be recorded — for every function, from Globals, and no function turns it back on."""
    wanted = {"POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false", "POWERTOOLS_TRACER_CAPTURE_ERROR": "false"}
    function_globals = (template.get("Globals") or {}).get("Function") or {}
    global_variables = (function_globals.get("Environment") or {}).get("Variables") or {}
    offenders = [
        f"Globals: {name} is {global_variables.get(name)!r}, not 'false'"
        for name, value in wanted.items()
        if str(global_variables.get(name)).lower() != value
    ]
    for function_id, properties in _functions(template):
        variables = (properties.get("Environment") or {}).get("Variables") or {}
        offenders += [
            f"{function_id}: {name} overrides Globals with {variables[name]!r}"
            for name, value in wanted.items()
            if name in variables and str(variables[name]).lower() != value
        ]
    return offenders


# The audit log is append-only: a writer may add an entry (keys carry a random part it never reads back), nothing else.
APPEND_ONLY_TABLES = frozenset({"AuditTable"})
APPEND_ACTIONS = frozenset({"dynamodb:PutItem"})


def append_only_tables_writable_otherwise(template: Template, transformed: Template) -> list[str]:
    """No role may update, delete, batch-write or read back an append-only table: PutItem only."""
    offenders: list[str] = []
    for role_id, properties in _resources_of_type(transformed, "AWS::IAM::Role"):
        for policy in properties.get("Policies") or []:
            for statement in _policy_statements(policy):
                for table_id in APPEND_ONLY_TABLES:
                    if not _mentions(statement.get("Resource"), table_id):
                        continue
                    offenders += [
                        f"{role_id}: {action} on {table_id} (append-only: PutItem only)"
                        for action in _actions(statement)
                        if action not in APPEND_ACTIONS
                    ]
    return offenders


Check = Callable[[Template, Template], list[str]]

# Each check, with the offenders the violations fixture must make it report.
CHECKS: dict[str, tuple[Check, list[str]]] = {
    "sqs sources report batch item failures": (
        sqs_sources_without_batch_item_failures,
        ["ConsumerWithoutBatchFailures.Events.Work"],
    ),
    "queues have a dead-letter queue": (
        queues_without_dead_letter_queue,
        ["QueueWithoutRedrive", "AsyncDeadLetterQueue"],
    ),
    "dead-letter queues have an alarm": (
        dead_letter_queues_without_alarm,
        ["QueueWithUnwatchedDeadLetters: its dead-letter queue UnwatchedDeadLetterQueue"],
    ),
    "dead-letter queues keep 3 to 4 days": (
        dead_letter_queues_kept_too_long,
        ["HoardingDeadLetterQueue: MessageRetentionPeriod 1209600", "UnwatchedDeadLetterQueue: MessageRetentionPeriod"],
    ),
    "no wildcard actions": (
        wildcard_actions,
        ["ConsumerWithoutBatchFailures.Policies: Action dynamodb:*", "ConsumerWithoutBatchFailuresRole"],
    ),
    "no FullAccess managed policies": (
        full_access_managed_policies,
        ["ConsumerWithoutBatchFailures.Policies: AmazonDynamoDBFullAccess", "ConsumerWithoutBatchFailuresRole"],
    ),
    "tables are on-demand, encrypted, recoverable, expiring": (
        tables_not_on_demand_encrypted_recoverable_and_expiring,
        [
            "LooseTable: BillingMode",
            "LooseTable: SSE",
            "LooseTable: PointInTime",
            "LooseTable: no TimeToLive",
            "MessagesTable: PointInTimeRecovery is on",
        ],
    ),
    "tracing never records payloads": (
        tracing_that_records_payloads,
        ["Globals: POWERTOOLS_TRACER_CAPTURE_RESPONSE", "Globals: POWERTOOLS_TRACER_CAPTURE_ERROR"],
    ),
    "append-only tables get PutItem only": (
        append_only_tables_writable_otherwise,
        ["AuditWriterRole: dynamodb:DeleteItem on AuditTable", "AuditWriterRole: dynamodb:UpdateItem on AuditTable"],
    ),
    "globals are python3.13 on arm64": (
        globals_not_python313_on_arm64,
        ["Globals.Function.Runtime", "Globals.Function.Architectures"],
    ),
    "functions keep the globals' runtime": (
        functions_overriding_runtime_or_architecture,
        ["ConsumerWithoutBatchFailures.Runtime"],
    ),
    "no function-level DLQ on SQS consumers": (
        sqs_consumers_with_function_dead_letter_queue,
        ["ConsumerWithoutBatchFailures: DeadLetterQueue"],
    ),
}


def _offenders_message(rule: str, offenders: list[str]) -> str:
    return f"template.yaml breaks '{rule}':\n  " + "\n  ".join(offenders)


# ---------------------------------------------------------------------------------------------------- lint and transform


def test_cfn_lint_reports_no_errors(template: Template) -> None:
    # when
    matches = lint_file(TEMPLATE)

    # then
    for match in matches:
        if not match.rule.id.startswith("E"):
            print(f"cfn-lint {match.rule.id}: {match}")
    errors = [f"{match.rule.id}: {match}" for match in matches if match.rule.id.startswith("E")]
    assert not errors, "cfn-lint errors:\n  " + "\n  ".join(errors)


def test_sam_transforms_offline_with_an_event_source_mapping_per_sqs_event(
    template: Template, transformed: Template
) -> None:
    # given
    sqs_events = [
        (function_id, event) for function_id, properties in _functions(template) for event in _sqs_events(properties)
    ]

    # when
    mappings = dict(_resources_of_type(transformed, "AWS::Lambda::EventSourceMapping"))

    # then
    assert mappings, "the transformed template has no AWS::Lambda::EventSourceMapping"
    assert len(mappings) == len(sqs_events)
    assert not list(_resources_of_type(transformed, "AWS::Serverless::Function"))


# ---------------------------------------------------------------------------------------------------- the real template's invariants


def test_every_sqs_event_source_reports_batch_item_failures(template: Template, transformed: Template) -> None:
    rule = "sqs sources report batch item failures"
    offenders = CHECKS[rule][0](template, transformed)
    assert not offenders, _offenders_message(rule, offenders)


def test_every_queue_that_is_not_a_dead_letter_queue_redrives_to_one(template: Template, transformed: Template) -> None:
    rule = "queues have a dead-letter queue"
    offenders = CHECKS[rule][0](template, transformed)
    assert not offenders, _offenders_message(rule, offenders)


def test_every_dead_letter_queue_has_a_visible_messages_alarm(template: Template, transformed: Template) -> None:
    rule = "dead-letter queues have an alarm"
    offenders = CHECKS[rule][0](template, transformed)
    assert not offenders, _offenders_message(rule, offenders)


def test_every_dead_letter_queue_keeps_bodies_3_to_4_days(template: Template, transformed: Template) -> None:
    rule = "dead-letter queues keep 3 to 4 days"
    offenders = CHECKS[rule][0](template, transformed)
    assert not offenders, _offenders_message(rule, offenders)


def test_the_status_callback_cannot_reach_the_texters_table(template: Template) -> None:
    # given the status callback, which records statuses by Twilio SID only (deliveries name no texter)
    callback = dict(_functions(template))["StatusCallbackFunction"]

    # then it is neither told of the texters table nor allowed to touch it
    assert "TEXTERS_TABLE" not in callback["Environment"]["Variables"]
    assert not _mentions(callback.get("Policies"), "TextersTable")


def test_the_eraser_reads_only_whether_a_conversation_is_open_and_never_a_number(template: Template) -> None:
    # given the function that deletes messages from Twilio
    eraser = dict(_functions(template))["EraseMessagesFunction"]
    statements = list(_policy_statements(eraser["Policies"]))

    # then its only table access is GetItem on the conversations, and it can't decrypt a number
    table_actions = {
        action for statement in statements for action in _actions(statement) if action.startswith("dynamodb:")
    }
    assert table_actions == {"dynamodb:GetItem"}
    assert all(
        _mentions(statement["Resource"], "ConversationsTable")
        for statement in statements
        if any(action.startswith("dynamodb:") for action in _actions(statement))
    )
    assert not any("KMS" in str(policy) for policy in eraser["Policies"])


def test_no_policy_statement_allows_a_wildcard_action(template: Template, transformed: Template) -> None:
    rule = "no wildcard actions"
    offenders = CHECKS[rule][0](template, transformed)
    assert not offenders, _offenders_message(rule, offenders)


def test_no_function_gets_an_aws_managed_full_access_policy(template: Template, transformed: Template) -> None:
    rule = "no FullAccess managed policies"
    offenders = CHECKS[rule][0](template, transformed)
    assert not offenders, _offenders_message(rule, offenders)


def test_every_table_is_on_demand_encrypted_recoverable_and_expiring(template: Template, transformed: Template) -> None:
    rule = "tables are on-demand, encrypted, recoverable, expiring"
    offenders = CHECKS[rule][0](template, transformed)
    assert not offenders, _offenders_message(rule, offenders)


def test_the_audit_log_is_append_only_for_every_function(template: Template, transformed: Template) -> None:
    rule = "append-only tables get PutItem only"
    offenders = CHECKS[rule][0](template, transformed)
    assert not offenders, _offenders_message(rule, offenders)


def test_tracing_never_records_a_response_or_an_error_payload(template: Template, transformed: Template) -> None:
    rule = "tracing never records payloads"
    offenders = CHECKS[rule][0](template, transformed)
    assert not offenders, _offenders_message(rule, offenders)


def test_functions_run_python313_on_arm64_from_globals(template: Template, transformed: Template) -> None:
    rule = "globals are python3.13 on arm64"
    offenders = CHECKS[rule][0](template, transformed)
    assert not offenders, _offenders_message(rule, offenders)


def test_no_function_overrides_the_globals_runtime(template: Template, transformed: Template) -> None:
    rule = "functions keep the globals' runtime"
    offenders = CHECKS[rule][0](template, transformed)
    assert not offenders, _offenders_message(rule, offenders)


def test_no_sqs_consumer_has_a_function_level_dead_letter_queue(template: Template, transformed: Template) -> None:
    rule = "no function-level DLQ on SQS consumers"
    offenders = CHECKS[rule][0](template, transformed)
    assert not offenders, _offenders_message(rule, offenders)


# ---------------------------------------------------------------------------------------------------- the checks themselves


@pytest.mark.parametrize("rule", list(CHECKS))
def test_each_check_names_the_offenders_of_a_template_that_breaks_it(
    rule: str, violations_template: Template, violations_transformed: Template
) -> None:
    # given
    check, expected_offenders = CHECKS[rule]

    # when
    offenders = check(violations_template, violations_transformed)

    # then
    for expected in expected_offenders:
        assert any(offender.startswith(expected) for offender in offenders), (expected, offenders)


# ---------------------------------------------------------------------------------------------------- dashboard headers
def _directives(policy: str) -> dict[str, list[str]]:
    return {part.split()[0]: sorted(part.split()[1:]) for part in (p.strip() for p in policy.split(";")) if part}


def test_cloudfront_sends_the_local_dashboard_servers_content_security_policy(template: Template) -> None:
    # given the policy the local dashboard server sends, for a line with an API, a socket and Cognito on AWS
    from peerline_local.dashboard_server import DashboardServer

    local = DashboardServer(
        Path(__file__).resolve().parents[2] / "dashboard",
        {
            "apiUrl": "https://API.execute-api.REGION.amazonaws.com",
            "socketUrl": "wss://SOCKET.execute-api.REGION.amazonaws.com/live",
            "region": "REGION",
        },
    ).content_security_policy()

    # when the deployed dashboard's headers are read from the template
    behavior = template["Resources"]["DashboardDistribution"]["Properties"]["DistributionConfig"][
        "DefaultCacheBehavior"
    ]
    policy_ref = behavior["ResponseHeadersPolicyId"]
    assert policy_ref == {"Ref": "DashboardHeadersPolicy"}, "the dashboard is served without Peerline's own CSP"
    config = template["Resources"]["DashboardHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
    deployed = config["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]
    deployed = (
        deployed.replace("${HttpApi}", "API")
        .replace("${DashboardSocketApi}", "SOCKET")
        .replace("${AWS::Region}", "REGION")
        .replace("${AWS::URLSuffix}", "amazonaws.com")
    )

    # then CloudFront sends the same directives, with the same sources (connections: the API, socket and Cognito)
    assert _directives(deployed) == _directives(local)
