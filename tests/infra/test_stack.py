"""The provisioner builds the local line's AWS resources from a template, against a real moto server."""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from peerline_local.local_aws import LocalAwsServer
from peerline_local.stack import CorsConfiguration, LocalStack, TemplateError, load_template, provision

REPO_ROOT = Path(__file__).resolve().parents[2]
REAL_TEMPLATE = REPO_ROOT / "template.yaml"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
FULL_STACK = FIXTURES / "full_stack.yaml"
REGION = "eu-west-1"
FIXTURE_PARAMETERS = {"ApiToken": "token-123"}

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


@pytest.fixture(scope="module")
def endpoint_url() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as environment:
        for name, value in FAKE_CREDENTIALS.items():
            environment.setenv(name, value)
        # A stray AWS_ENDPOINT_URL or profile would point boto3 somewhere else than the server under test.
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
            environment.delenv(name, raising=False)
        server = LocalAwsServer().start()  # port 0: bound by the server, reported by .url
        try:
            yield server.url
        finally:
            server.stop()


@pytest.fixture(scope="module")
def session(endpoint_url: str) -> boto3.session.Session:
    return boto3.session.Session(region_name=REGION)


@pytest.fixture(scope="module")
def fixture_stack(session: boto3.session.Session, endpoint_url: str) -> LocalStack:
    return provision(
        FULL_STACK, parameters=FIXTURE_PARAMETERS, stack_name="fixture", session=session, endpoint_url=endpoint_url
    )


def _client(session: boto3.session.Session, endpoint_url: str, service: str) -> Any:
    return session.client(service, endpoint_url=endpoint_url)  # type: ignore[call-overload]


def _queue_attributes(session: boto3.session.Session, endpoint_url: str, queue_url: str) -> dict[str, str]:
    sqs = _client(session, endpoint_url, "sqs")
    return dict(sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"])


# ---------------------------------------------------------------------------------------------------- reading


def test_fixture_template_is_valid_cloudformation() -> None:
    # A fixture that CloudFormation would refuse could make the provisioner look right for the wrong reasons.
    from cfnlint.api import lint_file

    errors = [str(match) for match in lint_file(FULL_STACK) if match.rule.id.startswith("E")]
    assert not errors


def test_load_template_gives_intrinsics_in_long_form() -> None:
    # when
    template = load_template(FULL_STACK)

    # then
    work_queue = template["Resources"]["WorkQueue"]["Properties"]
    assert work_queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["WorkDeadLetterQueue", "Arn"]}
    assert work_queue["VisibilityTimeout"] == {"Ref": "VisibilitySeconds"}
    assert type(template["Resources"]) is dict


# ---------------------------------------------------------------------------------------------------- tables


def test_tables_are_created_with_keys_and_indexes(
    fixture_stack: LocalStack, session: boto3.session.Session, endpoint_url: str
) -> None:
    # given
    dynamodb = _client(session, endpoint_url, "dynamodb")

    # when
    table = dynamodb.describe_table(TableName=fixture_stack.physical_id("ItemsTable"))["Table"]

    # then
    assert table["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "ByStatus"
    assert index["KeySchema"] == [
        {"AttributeName": "status", "KeyType": "HASH"},
        {"AttributeName": "rank", "KeyType": "RANGE"},
    ]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSEDescription"]["Status"] == "ENABLED"


def test_tables_get_their_time_to_live_and_point_in_time_recovery(
    fixture_stack: LocalStack, session: boto3.session.Session, endpoint_url: str
) -> None:
    # given
    dynamodb = _client(session, endpoint_url, "dynamodb")
    table_name = fixture_stack.physical_id("ItemsTable")

    # when
    ttl = dynamodb.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
    backups = dynamodb.describe_continuous_backups(TableName=table_name)["ContinuousBackupsDescription"]

    # then
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_generated_names_follow_cloudformation_and_explicit_names_are_kept(fixture_stack: LocalStack) -> None:
    # when
    generated = fixture_stack.physical_id("ItemsTable")
    explicit = fixture_stack.physical_id("NamedTable")

    # then
    assert re.fullmatch(r"fixture-ItemsTable-[A-Z0-9]{12}", generated)
    assert explicit == "fixture-named"


def test_table_stream_arn_resolves_from_the_created_table(
    fixture_stack: LocalStack, session: boto3.session.Session, endpoint_url: str
) -> None:
    # given
    dynamodb = _client(session, endpoint_url, "dynamodb")

    # when
    table = dynamodb.describe_table(TableName=fixture_stack.physical_id("ItemsTable"))["Table"]

    # then
    assert fixture_stack.functions["WebhookFunction"].environment["ITEMS_STREAM_ARN"] == table["LatestStreamArn"]


# ---------------------------------------------------------------------------------------------------- queues


def test_fifo_queues_are_fifo_and_redrive_to_their_dead_letter_queue(
    fixture_stack: LocalStack, session: boto3.session.Session, endpoint_url: str
) -> None:
    # given
    work_queue = fixture_stack.resources["WorkQueue"]
    dead_letter_queue = fixture_stack.resources["WorkDeadLetterQueue"]

    # when
    attributes = _queue_attributes(session, endpoint_url, work_queue.physical_id)

    # then
    assert work_queue.attributes["QueueName"].endswith(".fifo")
    assert attributes["FifoQueue"] == "true"
    assert attributes["ContentBasedDeduplication"] == "true"
    assert attributes["DeduplicationScope"] == "messageGroup"
    assert attributes["FifoThroughputLimit"] == "perMessageGroupId"
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": dead_letter_queue.attributes["Arn"],
        "maxReceiveCount": 3,
    }


def test_queue_attributes_take_number_parameters(
    fixture_stack: LocalStack, session: boto3.session.Session, endpoint_url: str
) -> None:
    # when
    work = _queue_attributes(session, endpoint_url, fixture_stack.physical_id("WorkQueue"))
    timers = _queue_attributes(session, endpoint_url, fixture_stack.physical_id("TimerQueue"))

    # then
    assert work["VisibilityTimeout"] == "45"
    assert timers["DelaySeconds"] == "7"
    assert "FifoQueue" not in timers or timers["FifoQueue"] == "false"
    assert (
        json.loads(timers["RedrivePolicy"])["deadLetterTargetArn"]
        == (fixture_stack.resources["TimerDeadLetterQueue"].attributes["Arn"])
    )


# ---------------------------------------------------------------------------------------------------- keys, secrets, topics, users


def test_kms_key_has_rotation_and_its_alias(
    fixture_stack: LocalStack, session: boto3.session.Session, endpoint_url: str
) -> None:
    # given
    kms = _client(session, endpoint_url, "kms")
    key_id = fixture_stack.physical_id("DataKey")

    # when
    rotation = kms.get_key_rotation_status(KeyId=key_id)
    aliases = kms.list_aliases(KeyId=key_id)["Aliases"]

    # then
    assert rotation["KeyRotationEnabled"] is True
    assert [alias["AliasName"] for alias in aliases] == ["alias/fixture-data"]
    assert fixture_stack.physical_id("DataKeyAlias") == "alias/fixture-data"


def test_generated_secret_holds_a_random_password_in_its_template(
    fixture_stack: LocalStack, session: boto3.session.Session, endpoint_url: str
) -> None:
    # given
    secretsmanager = _client(session, endpoint_url, "secretsmanager")

    # when
    value = secretsmanager.get_secret_value(SecretId=fixture_stack.physical_id("GeneratedSecret"))["SecretString"]

    # then
    document = json.loads(value)
    assert document["username"] == "peer"
    assert len(document["password"]) == 40
    assert document["password"].isalnum()


def test_given_secret_string_is_stored_with_parameters_substituted(
    fixture_stack: LocalStack, session: boto3.session.Session, endpoint_url: str
) -> None:
    # given
    secretsmanager = _client(session, endpoint_url, "secretsmanager")

    # when
    value = secretsmanager.get_secret_value(SecretId=fixture_stack.physical_id("GivenSecret"))["SecretString"]

    # then
    assert json.loads(value) == {"token": "token-123"}


def test_topics_are_created_and_fifo_topics_end_in_fifo(
    fixture_stack: LocalStack, session: boto3.session.Session, endpoint_url: str
) -> None:
    # given
    sns = _client(session, endpoint_url, "sns")

    # when
    topic_arns = {topic["TopicArn"] for topic in sns.list_topics()["Topics"]}

    # then
    assert fixture_stack.physical_id("AlertTopic") in topic_arns
    assert fixture_stack.physical_id("OrderedTopic") in topic_arns
    assert fixture_stack.resources["OrderedTopic"].attributes["TopicName"].endswith(".fifo")


def test_cognito_user_pool_client_and_group_are_created(
    fixture_stack: LocalStack, session: boto3.session.Session, endpoint_url: str
) -> None:
    # given
    cognito = _client(session, endpoint_url, "cognito-idp")
    pool_id = fixture_stack.physical_id("UserPool")

    # when
    client = cognito.describe_user_pool_client(
        UserPoolId=pool_id, ClientId=fixture_stack.physical_id("UserPoolClient")
    )["UserPoolClient"]
    group = cognito.get_group(UserPoolId=pool_id, GroupName="supervisors")["Group"]

    # then
    assert "ALLOW_USER_PASSWORD_AUTH" in client["ExplicitAuthFlows"]
    assert group["Precedence"] == 1
    assert fixture_stack.physical_id("SupervisorsGroup") == "supervisors"


def test_resources_whose_condition_is_false_are_not_created(fixture_stack: LocalStack) -> None:
    # then
    assert "ProdOnlyTopic" not in fixture_stack.resources
    assert "ProdOrEmailTopic" not in fixture_stack.resources
    assert "ProdTopicArn" not in fixture_stack.outputs


def test_emulated_and_unknown_resources_are_only_named(fixture_stack: LocalStack) -> None:
    # then
    for logical_id in (
        "WebhookFunction",
        "WorkerFunction",
        "Api",
        "SharedLayer",
        "WorkDeadLetterAlarm",
        "ScheduleGroup",
    ):
        assert fixture_stack.resources[logical_id].provisioned is False, logical_id
    assert fixture_stack.physical_id("ScheduleGroup") == "fixture-schedules"


# ---------------------------------------------------------------------------------------------------- functions


def test_function_environment_is_resolved_to_physical_values(fixture_stack: LocalStack) -> None:
    # given
    resources = fixture_stack.resources

    # when
    environment = fixture_stack.functions["WebhookFunction"].environment

    # then
    assert environment["WORK_QUEUE_URL"] == resources["WorkQueue"].physical_id
    assert environment["WORK_QUEUE_URL"].startswith("http://127.0.0.1:")
    assert environment["WORK_QUEUE_URL_ATTRIBUTE"] == environment["WORK_QUEUE_URL"]
    assert environment["WORK_QUEUE_NAME"] == resources["WorkQueue"].attributes["QueueName"]
    assert environment["ITEMS_TABLE"] == resources["ItemsTable"].physical_id
    assert environment["NAMED_TABLE"] == "fixture-named"
    assert environment["DATA_KEY_ID"] == resources["DataKey"].physical_id
    assert environment["DATA_KEY_ARN"].endswith(f":key/{resources['DataKey'].physical_id}")
    assert environment["DATA_KEY_ALIAS"] == "alias/fixture-data"
    assert environment["GENERATED_SECRET_ARN"].startswith(f"arn:aws:secretsmanager:{REGION}:123456789012:secret:")
    assert environment["ALERT_TOPIC_ARN"] == resources["AlertTopic"].physical_id
    assert environment["ALERT_TOPIC_NAME"] == resources["AlertTopic"].attributes["TopicName"]
    assert environment["USER_POOL_ID"] == resources["UserPool"].physical_id
    assert environment["USER_POOL_CLIENT_ID"] == resources["UserPoolClient"].physical_id
    assert environment["USER_POOL_ISSUER"] == (
        f"https://cognito-idp.{REGION}.amazonaws.com/{resources['UserPool'].physical_id}"
    )
    assert environment["SUPERVISORS_GROUP"] == "supervisors"
    assert environment["SCHEDULE_GROUP"] == "fixture-schedules"


def test_function_environment_resolves_references_to_emulated_resources(fixture_stack: LocalStack) -> None:
    # given
    worker_name = fixture_stack.physical_id("WorkerFunction")
    api_id = fixture_stack.physical_id("Api")

    # when
    environment = fixture_stack.functions["WebhookFunction"].environment

    # then
    assert environment["WORKER_FUNCTION_NAME"] == worker_name
    assert environment["WORKER_FUNCTION_ARN"] == f"arn:aws:lambda:{REGION}:123456789012:function:{worker_name}"
    assert environment["API_ID"] == api_id
    assert environment["CALLBACK_URL"] == f"https://{api_id}.execute-api.{REGION}.amazonaws.com/callback"
    assert fixture_stack.outputs["WorkerLogGroupName"] == f"/aws/lambda/{worker_name}"


def test_function_environment_resolves_every_intrinsic(fixture_stack: LocalStack) -> None:
    # given
    timer_queue_name = fixture_stack.resources["TimerQueue"].attributes["QueueName"]

    # when
    environment = fixture_stack.functions["WebhookFunction"].environment

    # then
    assert environment["DLQ_ARN_SUB"] == fixture_stack.resources["WorkDeadLetterQueue"].attributes["Arn"]
    assert environment["SUB_WITH_VARIABLES"] == f"{timer_queue_name}:fixture:${{Literal}}"
    assert environment["ACCOUNT"] == "123456789012"
    assert environment["PARTITION"] == "aws"
    assert environment["VISIBILITY"] == "45"
    assert environment["FLAG"] == "true"
    assert environment["JOINED"] == f"local|{REGION}"
    assert environment["SECOND_ZONE"] == "zone-b"
    assert environment["SPLIT_LAST"] == "z"
    assert environment["PROD_TOPIC"] == "none"
    assert environment["NOT_PROD"] == "yes"
    assert environment["PROD_WITH_EMAIL"] == "no"
    assert "ONLY_IN_PROD" not in environment


def test_no_function_environment_keeps_an_unresolved_value(fixture_stack: LocalStack) -> None:
    for spec in fixture_stack.functions.values():
        for name, value in spec.environment.items():
            assert isinstance(value, str), f"{spec.logical_id}.{name} = {value!r}"
            assert "${" not in value.replace("${Literal}", ""), f"{spec.logical_id}.{name} = {value!r}"
            assert "Fn::" not in value and "'Ref'" not in value, f"{spec.logical_id}.{name} = {value!r}"


def test_globals_merge_into_each_function(fixture_stack: LocalStack) -> None:
    # when
    webhook = fixture_stack.functions["WebhookFunction"]
    worker = fixture_stack.functions["WorkerFunction"]

    # then
    assert webhook.environment["STAGE"] == "local"
    assert webhook.environment["LOG_LEVEL"] == "DEBUG"
    assert webhook.environment["OVERRIDDEN"] == "from-function"
    assert worker.environment == {"STAGE": "local", "LOG_LEVEL": "DEBUG", "OVERRIDDEN": "from-globals"}
    assert (webhook.timeout, webhook.memory_size) == (5, 256)
    assert (worker.timeout, worker.memory_size) == (20, 1024)


def test_function_code_and_layers_are_folders_next_to_the_template(fixture_stack: LocalStack) -> None:
    # when
    webhook = fixture_stack.functions["WebhookFunction"]
    worker = fixture_stack.functions["WorkerFunction"]

    # then
    assert webhook.code_uri == FIXTURES / "functions" / "webhook"
    assert webhook.handler == "handler.lambda_handler"
    assert webhook.layer_content_dirs == [FIXTURES / "layer"]
    # The worker adds a published layer (an ARN) after the Globals' one; only the template's own has a folder.
    assert worker.code_uri == FIXTURES / "functions" / "worker"
    assert worker.handler == "app.handle"
    assert worker.layer_content_dirs == [FIXTURES / "layer"]


def test_sqs_event_sources_are_read_with_their_settings(fixture_stack: LocalStack) -> None:
    # when
    work, timers = fixture_stack.functions["WorkerFunction"].sqs_sources

    # then
    assert work.queue_logical_id == "WorkQueue"
    assert work.queue_url == fixture_stack.physical_id("WorkQueue")
    assert work.queue_arn == fixture_stack.resources["WorkQueue"].attributes["Arn"]
    assert work.fifo is True
    assert work.batch_size == 5
    assert work.maximum_batching_window_seconds == 2
    assert work.report_batch_item_failures is True
    assert work.maximum_concurrency == 3
    assert timers.queue_logical_id == "TimerQueue"
    assert timers.fifo is False
    assert (timers.batch_size, timers.maximum_batching_window_seconds) == (10, 0)
    assert timers.report_batch_item_failures is False
    assert timers.maximum_concurrency is None


def test_http_routes_are_read_from_http_api_events(fixture_stack: LocalStack) -> None:
    # then
    routes = {(route.method, route.path, route.function_logical_id) for route in fixture_stack.http_routes}
    assert routes == {
        ("POST", "/hooks/inbound", "WebhookFunction"),
        ("GET", "/hooks/{id}/status", "WebhookFunction"),
    }
    assert fixture_stack.functions["WorkerFunction"].http_routes == []


def test_routes_carry_their_effective_authorizer(fixture_stack: LocalStack) -> None:
    # then a route with `Authorizer: NONE` is open, and one without Auth falls back to the API's default
    routes = {route.path: route for route in fixture_stack.http_routes}
    assert routes["/hooks/inbound"].authorizer is None
    assert routes["/hooks/{id}/status"].authorizer == "UsersJwt"
    assert routes["/hooks/{id}/status"].authorization_scopes == ("hooks/read",)
    assert {route.api_logical_id for route in fixture_stack.http_routes} == {"Api"}


def test_jwt_authorizers_are_resolved_to_the_pool_and_client(fixture_stack: LocalStack) -> None:
    # when
    authorizer = fixture_stack.http_authorizers["UsersJwt"]

    # then issuer and audience are the physical pool and client, as API Gateway would get them
    assert authorizer.issuer == fixture_stack.resources["UserPool"].attributes["ProviderURL"]
    assert authorizer.issuer == f"https://cognito-idp.{REGION}.amazonaws.com/{fixture_stack.physical_id('UserPool')}"
    assert authorizer.audience == (fixture_stack.physical_id("UserPoolClient"),)
    assert authorizer.identity_source == "$request.header.Authorization"
    assert authorizer.api_logical_id == "Api"


def test_cors_configuration_is_read_from_the_http_api(fixture_stack: LocalStack) -> None:
    assert fixture_stack.http_cors == CorsConfiguration(
        allow_origins=("https://app.example.org",),
        allow_headers=("Authorization", "Content-Type"),
        allow_methods=("GET", "POST"),
        expose_headers=("X-Request-Id",),
        max_age=600,
        allow_credentials=True,
    )


def test_a_route_naming_an_undeclared_authorizer_is_refused(
    tmp_path: Path, session: boto3.session.Session, endpoint_url: str
) -> None:
    # given
    (tmp_path / "fn").mkdir()
    template = tmp_path / "template.yaml"
    template.write_text(
        """
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      Runtime: python3.13
      Events:
        Get:
          Type: HttpApi
          Properties:
            ApiId: !Ref Api
            Path: /x
            Method: GET
            Auth:
              Authorizer: Missing
"""
    )

    # when / then
    with pytest.raises(TemplateError, match=r"Fn\.Properties\.Events\.Get\.Auth\.Authorizer: Missing"):
        provision(template, parameters={}, stack_name="noauth", session=session, endpoint_url=endpoint_url)


def test_outputs_are_resolved(fixture_stack: LocalStack) -> None:
    # then
    assert fixture_stack.outputs["WorkQueueUrl"] == fixture_stack.physical_id("WorkQueue")
    assert fixture_stack.outputs["ApiUrl"] == (
        f"https://{fixture_stack.physical_id('Api')}.execute-api.{REGION}.amazonaws.com"
    )
    assert (fixture_stack.region, fixture_stack.account_id, fixture_stack.stack_name) == (
        REGION,
        "123456789012",
        "fixture",
    )


# ---------------------------------------------------------------------------------------------------- running it again, and failing clearly


def test_provisioning_again_with_another_stack_name_creates_fresh_resources(
    fixture_stack: LocalStack, session: boto3.session.Session, endpoint_url: str
) -> None:
    # when
    second = provision(
        FULL_STACK, parameters=FIXTURE_PARAMETERS, stack_name="second", session=session, endpoint_url=endpoint_url
    )

    # then
    for logical_id, resource in second.resources.items():
        if resource.provisioned and resource.resource_type != "AWS::Cognito::UserPoolGroup":
            assert resource.physical_id != fixture_stack.physical_id(logical_id), logical_id
    dynamodb = _client(session, endpoint_url, "dynamodb")
    tables = set(dynamodb.list_tables()["TableNames"])
    assert {fixture_stack.physical_id("ItemsTable"), second.physical_id("ItemsTable")} <= tables


def test_a_parameter_without_default_or_value_is_named_in_the_error(
    session: boto3.session.Session, endpoint_url: str
) -> None:
    with pytest.raises(ValueError, match="ApiToken"):
        provision(FULL_STACK, parameters={}, stack_name="nothing", session=session, endpoint_url=endpoint_url)


def test_a_parameter_not_in_its_allowed_values_is_refused(session: boto3.session.Session, endpoint_url: str) -> None:
    with pytest.raises(ValueError, match="Stage"):
        provision(
            FULL_STACK,
            parameters={**FIXTURE_PARAMETERS, "Stage": "staging"},
            stack_name="nothing",
            session=session,
            endpoint_url=endpoint_url,
        )


BROKEN_REFERENCE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Queue:
    Type: AWS::SQS::Queue
  Handler:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/handler/
      Handler: handler.lambda_handler
      Runtime: python3.13
      Environment:
        Variables:
          QUEUE_URL: {reference}
"""


@pytest.mark.parametrize(
    ("reference", "complaint"),
    [
        ("!Ref MissingTable", "MissingTable"),
        ("!GetAtt Queue.NoSuchAttribute", "NoSuchAttribute"),
        ("!Sub '${Missing.Arn}'", "Missing"),
    ],
)
def test_an_unresolvable_intrinsic_names_the_resource_and_property(
    reference: str, complaint: str, tmp_path: Path, session: boto3.session.Session, endpoint_url: str
) -> None:
    # given
    template = tmp_path / "template.yaml"
    template.write_text(BROKEN_REFERENCE.format(reference=reference))

    # when
    with pytest.raises(TemplateError) as raised:
        provision(template, parameters={}, stack_name="broken", session=session, endpoint_url=endpoint_url)

    # then
    message = str(raised.value)
    assert "Handler.Properties.Environment.Variables.QUEUE_URL" in message
    assert complaint in message


def test_a_dependency_cycle_is_refused(tmp_path: Path, session: boto3.session.Session, endpoint_url: str) -> None:
    # given
    template = tmp_path / "template.yaml"
    template.write_text(
        "Resources:\n"
        "  First:\n    Type: AWS::SQS::Queue\n"
        "    Properties: {RedrivePolicy: {deadLetterTargetArn: !GetAtt Second.Arn, maxReceiveCount: 1}}\n"
        "  Second:\n    Type: AWS::SQS::Queue\n"
        "    Properties: {RedrivePolicy: {deadLetterTargetArn: !GetAtt First.Arn, maxReceiveCount: 1}}\n"
    )

    # when / then
    with pytest.raises(TemplateError, match=r"cycle.*First.*Second"):
        provision(template, parameters={}, stack_name="cycle", session=session, endpoint_url=endpoint_url)


# ---------------------------------------------------------------------------------------------------- the real template


@pytest.fixture(scope="module")
def real_stack(session: boto3.session.Session, endpoint_url: str) -> LocalStack:
    if not REAL_TEMPLATE.exists():
        pytest.skip(f"{REAL_TEMPLATE} does not exist yet, so there is no real template to provision")
    return provision(
        REAL_TEMPLATE, parameters={}, stack_name="peerline-test", session=session, endpoint_url=endpoint_url
    )


def _declared(logical_type: str) -> dict[str, dict[str, Any]]:
    resources = load_template(REAL_TEMPLATE)["Resources"]
    return {logical_id: resource for logical_id, resource in resources.items() if resource["Type"] == logical_type}


def test_real_template_tables_exist_with_their_keys_indexes_and_ttl(
    real_stack: LocalStack, session: boto3.session.Session, endpoint_url: str
) -> None:
    # given
    dynamodb = _client(session, endpoint_url, "dynamodb")
    declared = _declared("AWS::DynamoDB::Table")
    assert declared, "the template declares no table"

    for logical_id, definition in declared.items():
        # when
        table_name = real_stack.physical_id(logical_id)
        table = dynamodb.describe_table(TableName=table_name)["Table"]
        ttl = dynamodb.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]

        # then
        properties = definition["Properties"]
        assert table["KeySchema"] == properties["KeySchema"], logical_id
        expected_indexes = {index["IndexName"] for index in properties.get("GlobalSecondaryIndexes", [])}
        assert {index["IndexName"] for index in table.get("GlobalSecondaryIndexes", [])} == expected_indexes
        ttl_attribute = properties.get("TimeToLiveSpecification", {}).get("AttributeName")
        if ttl_attribute:
            assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": ttl_attribute}, logical_id


def test_real_template_queues_exist_and_redrive_to_their_dead_letter_queues(
    real_stack: LocalStack, session: boto3.session.Session, endpoint_url: str
) -> None:
    declared = _declared("AWS::SQS::Queue")
    assert declared, "the template declares no queue"
    for logical_id, definition in declared.items():
        # when
        properties = definition.get("Properties", {})
        attributes = _queue_attributes(session, endpoint_url, real_stack.physical_id(logical_id))

        # then
        assert (attributes.get("FifoQueue") == "true") == bool(properties.get("FifoQueue")), logical_id
        if "DelaySeconds" in properties:
            assert attributes["DelaySeconds"] == str(properties["DelaySeconds"]), logical_id
        if "RedrivePolicy" in properties:
            dead_letter_id = properties["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
            redrive = json.loads(attributes["RedrivePolicy"])
            assert redrive["deadLetterTargetArn"] == real_stack.resources[dead_letter_id].attributes["Arn"], logical_id


def test_real_template_keys_and_secrets_exist(
    real_stack: LocalStack, session: boto3.session.Session, endpoint_url: str
) -> None:
    # given
    kms = _client(session, endpoint_url, "kms")
    secretsmanager = _client(session, endpoint_url, "secretsmanager")

    # then
    for logical_id in _declared("AWS::KMS::Key"):
        assert kms.describe_key(KeyId=real_stack.physical_id(logical_id))["KeyMetadata"]["Enabled"], logical_id
    for logical_id in _declared("AWS::SecretsManager::Secret"):
        value = secretsmanager.get_secret_value(SecretId=real_stack.physical_id(logical_id))
        assert value["SecretString"], logical_id


def test_real_template_function_environments_are_fully_resolved(real_stack: LocalStack) -> None:
    assert real_stack.functions, "the template declares no function"
    physical_values = {resource.physical_id for resource in real_stack.resources.values() if resource.provisioned}
    referenced = set()
    for spec in real_stack.functions.values():
        for name, value in spec.environment.items():
            assert isinstance(value, str), f"{spec.logical_id}.{name} = {value!r}"
            assert "${" not in value, f"{spec.logical_id}.{name} = {value!r}"
            assert "Fn::" not in value and "{'Ref'" not in value, f"{spec.logical_id}.{name} = {value!r}"
            if value in physical_values:
                referenced.add(value)
        assert spec.code_uri.is_relative_to(REPO_ROOT), spec.logical_id
    # Functions find their tables and queues through the environment, so at least some physical ids are there.
    assert referenced


def test_real_template_sqs_sources_and_routes_match_its_events(real_stack: LocalStack) -> None:
    for logical_id, definition in _declared("AWS::Serverless::Function").items():
        events = definition["Properties"].get("Events", {}).values()
        spec = real_stack.functions[logical_id]

        expected_queues = [event["Properties"]["Queue"]["Fn::GetAtt"][0] for event in events if event["Type"] == "SQS"]
        expected_routes = {
            (event["Properties"]["Method"].upper(), event["Properties"]["Path"])
            for event in events
            if event["Type"] == "HttpApi"
        }

        assert [source.queue_logical_id for source in spec.sqs_sources] == expected_queues, logical_id
        for source in spec.sqs_sources:
            assert source.queue_url == real_stack.physical_id(source.queue_logical_id)
        assert {(route.method, route.path) for route in spec.http_routes} == expected_routes, logical_id


def test_real_template_volunteer_routes_sit_behind_the_cognito_authorizer(real_stack: LocalStack) -> None:
    # then the Twilio webhooks and the OpenAPI document are open, the volunteer API needs a volunteer's token
    authorizers = {(route.method, route.path): route.authorizer for route in real_stack.http_routes}
    assert authorizers[("POST", "/sms/inbound")] is None
    assert authorizers[("POST", "/sms/status")] is None
    assert authorizers[("GET", "/openapi.json")] is None
    jwt_name = authorizers[("ANY", "/volunteer/{proxy+}")]
    assert jwt_name is not None
    # and the authorizer trusts exactly the template's user pool and dashboard client
    authorizer = real_stack.http_authorizers[jwt_name]
    pool_id = real_stack.physical_id("VolunteerUserPool")
    assert authorizer.issuer == f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}"
    assert authorizer.audience == (real_stack.physical_id("DashboardUserPoolClient"),)
    assert real_stack.http_cors is not None and "Authorization" in real_stack.http_cors.allow_headers
