"""Resource building: create the template's tables, queues, keys, secrets, topics and user pools in moto."""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.model
from botocore import xform_name
from botocore.exceptions import ClientError

from peerline_local.stack.model import (
    DEFAULT_ACCOUNT_ID,
    LOGGER,
    PARTITION,
    SERVERLESS_FUNCTION,
    SERVERLESS_LAYER,
    SQS_QUEUE,
    URL_SUFFIX,
    ResolvedResource,
    TemplateError,
)
from peerline_local.stack.resolve import Resolver, as_text, referenced_ids, truthy

# ---------------------------------------------------------------------------------------------------- ordering


def creation_order(template: dict[str, Any], resolver: Resolver) -> list[str]:
    """Active resources ordered so that each comes after everything its properties refer to (DLQs before queues)."""
    declared: dict[str, Any] = template.get("Resources") or {}
    active = [logical_id for logical_id in declared if resolver.resource_is_active(logical_id)]
    active_set = set(active)
    dependencies: dict[str, set[str]] = {}
    for logical_id in active:
        definition = declared[logical_id]
        needed = _properties_needed(definition)
        depends_on = definition.get("DependsOn") or []
        named = set(referenced_ids(needed)) | set([depends_on] if isinstance(depends_on, str) else depends_on)
        dependencies[logical_id] = named & active_set

    ordered: list[str] = []
    placed: set[str] = set()
    while len(ordered) < len(active):
        # Template order among the ready ones keeps runs reproducible and readable in logs.
        ready = [lid for lid in active if lid not in placed and dependencies[lid] <= placed]
        if not ready:
            stuck = sorted(lid for lid in active if lid not in placed)
            raise TemplateError(f"Resources: dependency cycle among {', '.join(stuck)}")
        for logical_id in ready:
            ordered.append(logical_id)
            placed.add(logical_id)
    return ordered


def _properties_needed(definition: dict[str, Any]) -> Any:
    """What must be resolved to build a resource: all properties if created, only its name if merely named.

    Functions refer to nearly everything through their environment; counting only their name keeps valid templates
    (a queue policy naming a function, a log group named after one) free of false cycles.
    """
    resource_type = str(definition.get("Type", ""))
    properties = definition.get("Properties") or {}
    if resource_type in _BUILDERS:
        return properties
    name_property = _naming(resource_type).property_name
    return properties.get(name_property) if name_property else None


# ---------------------------------------------------------------------------------------------------- building


@dataclass(frozen=True)
class _Naming:
    property_name: str | None  # the property that names the resource explicitly
    max_length: int = 255


_NAMES: dict[str, _Naming] = {
    "AWS::DynamoDB::Table": _Naming("TableName", 255),
    SQS_QUEUE: _Naming("QueueName", 80),
    "AWS::SNS::Topic": _Naming("TopicName", 256),
    "AWS::SecretsManager::Secret": _Naming("Name", 512),
    "AWS::Cognito::UserPool": _Naming("UserPoolName", 128),
    "AWS::Cognito::UserPoolClient": _Naming("ClientName", 128),
    "AWS::Cognito::UserPoolGroup": _Naming("GroupName", 128),
    SERVERLESS_FUNCTION: _Naming("FunctionName", 64),
    "AWS::Lambda::Function": _Naming("FunctionName", 64),
    SERVERLESS_LAYER: _Naming("LayerName", 140),
    "AWS::Lambda::LayerVersion": _Naming("LayerName", 140),
    "AWS::IAM::Role": _Naming("RoleName", 64),
    "AWS::IAM::ManagedPolicy": _Naming("ManagedPolicyName", 128),
    "AWS::Logs::LogGroup": _Naming("LogGroupName", 512),
    "AWS::CloudWatch::Alarm": _Naming("AlarmName", 255),
    # `Ref` to a stage gives its name, which the template writes itself.
    "AWS::ApiGatewayV2::Stage": _Naming("StageName", 128),
}


def _naming(resource_type: str) -> _Naming:
    # Most types without an entry here (SSM parameters, event buses, schedule groups ...) are named by "Name".
    return _NAMES.get(resource_type, _Naming("Name"))


class AwsClients:
    """One boto3 client per service, all pointed at the emulator."""

    def __init__(self, session: boto3.session.Session, endpoint_url: str) -> None:
        self._session = session
        self._endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}

    def get(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service, endpoint_url=self._endpoint_url)  # type: ignore[call-overload]
        return self._clients[service]

    def call(self, service: str, operation: str, params: dict[str, Any], where: str) -> Any:
        """Call `operation` with `params` fitted to the API's input shape.

        CloudFormation properties mostly mirror the API but not exactly: values come as strings where the API wants
        numbers (a Number parameter) and carry properties the API (or moto) does not take; fitting coerces the one
        and drops the other, so the emulator sees a valid request.
        """
        client = self.get(service)
        input_shape = client.meta.service_model.operation_model(operation).input_shape
        fitted = _fit_to_shape(input_shape, params, where) if input_shape is not None else {}
        try:
            return getattr(client, xform_name(operation))(**fitted)
        except ClientError as error:
            raise TemplateError(f"{where}: {service} {operation} failed: {error}") from error


def _fit_to_shape(shape: botocore.model.Shape, value: Any, where: str) -> Any:
    if isinstance(shape, botocore.model.StructureShape):
        if not isinstance(value, dict):
            raise TemplateError(f"{where}: expected a mapping, got {value!r}")
        fitted: dict[str, Any] = {}
        for key, item in value.items():
            member = shape.members.get(key)
            if member is None:
                LOGGER.debug("skipping property the local emulator does not take: %s.%s", where, key)
                continue
            fitted[key] = _fit_to_shape(member, item, f"{where}.{key}")
        return fitted
    if isinstance(shape, botocore.model.ListShape):
        items = value if isinstance(value, list) else [value]
        return [_fit_to_shape(shape.member, item, f"{where}[{index}]") for index, item in enumerate(items)]
    if isinstance(shape, botocore.model.MapShape):
        if not isinstance(value, dict):
            raise TemplateError(f"{where}: expected a mapping, got {value!r}")
        return {str(key): _fit_to_shape(shape.value, item, f"{where}.{key}") for key, item in value.items()}
    try:
        if shape.type_name in {"integer", "long"}:
            return int(value)
        if shape.type_name in {"double", "float"}:
            return float(value)
    except (TypeError, ValueError):
        raise TemplateError(f"{where}: expected a number, got {value!r}") from None
    if shape.type_name == "boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if shape.type_name == "string":
        return json.dumps(value) if isinstance(value, dict | list) else as_text(value)
    return value


def _random_suffix(length: int = 12) -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


class ResourceBuilder:
    """Creates (or, for resources the local line does not need, only names) one resource at a time."""

    def __init__(
        self, clients: AwsClients, resolver: Resolver, *, stack_name: str, region: str, account_id: str
    ) -> None:
        self.clients = clients
        self.resolver = resolver
        self.stack_name = stack_name
        self.region = region
        self.account_id = account_id

    def build(self, logical_id: str, definition: dict[str, Any]) -> ResolvedResource:
        resource_type = str(definition.get("Type", ""))
        where = f"Resources.{logical_id}.Properties"
        builder = _BUILDERS.get(resource_type)
        if builder is None:
            return self._named_only(logical_id, resource_type, definition.get("Properties") or {})
        properties = self.resolver.resolve(definition.get("Properties") or {}, where)
        LOGGER.debug("creating %s %s", resource_type, logical_id)
        return builder(self, logical_id, properties, where)

    def physical_name(self, logical_id: str, resource_type: str, properties: dict[str, Any], suffix: str = "") -> str:
        """The explicit name, else CloudFormation's "{stack}-{LogicalId}-{RANDOM12}" within the type's length limit."""
        naming = _naming(resource_type)
        if naming.property_name and properties.get(naming.property_name):
            return str(properties[naming.property_name])
        room = naming.max_length - len(suffix) - 13
        return f"{f'{self.stack_name}-{logical_id}'[:room]}-{_random_suffix()}{suffix}"

    def arn(self, service: str, resource: str, *, region: bool = True) -> str:
        return f"arn:{PARTITION}:{service}:{self.region if region else ''}:{self.account_id}:{resource}"

    # -- resources the local line does not create, named so that references to them resolve

    def _named_only(self, logical_id: str, resource_type: str, raw_properties: dict[str, Any]) -> ResolvedResource:
        naming = _naming(resource_type)
        properties: dict[str, Any] = {}
        if naming.property_name and naming.property_name in raw_properties:
            where = f"Resources.{logical_id}.Properties.{naming.property_name}"
            properties[naming.property_name] = self.resolver.resolve_text(raw_properties[naming.property_name], where)
        name = self.physical_name(logical_id, resource_type, properties)
        physical_id, attributes = self._plausible_ids(resource_type, name)
        if resource_type not in _EMULATED_OR_UNNEEDED:
            LOGGER.debug("skipping resource type the local line does not provision: %s %s", resource_type, logical_id)
        return ResolvedResource(logical_id, resource_type, physical_id, attributes, provisioned=False)

    def _plausible_ids(self, resource_type: str, name: str) -> tuple[str, dict[str, str]]:
        if resource_type in {SERVERLESS_FUNCTION, "AWS::Lambda::Function"}:
            return name, {"Arn": self.arn("lambda", f"function:{name}")}
        if resource_type in {"AWS::Serverless::HttpApi", "AWS::ApiGatewayV2::Api", "AWS::Serverless::Api"}:
            api_id = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(10))
            endpoint = f"https://{api_id}.execute-api.{self.region}.{URL_SUFFIX}"
            return api_id, {"ApiEndpoint": endpoint, "ApiId": api_id, "RootResourceId": api_id}
        if resource_type in {SERVERLESS_LAYER, "AWS::Lambda::LayerVersion"}:
            layer_arn = self.arn("lambda", f"layer:{name}:1")
            return layer_arn, {"LayerVersionArn": layer_arn}
        if resource_type == "AWS::IAM::Role":
            return name, {"Arn": self.arn("iam", f"role/{name}", region=False), "RoleId": f"AROA{_random_suffix(17)}"}
        if resource_type == "AWS::IAM::ManagedPolicy":
            policy_arn = self.arn("iam", f"policy/{name}", region=False)
            return policy_arn, {"PolicyArn": policy_arn}
        if resource_type == "AWS::Logs::LogGroup":
            return name, {"Arn": self.arn("logs", f"log-group:{name}:*")}
        if resource_type == "AWS::CloudWatch::Alarm":
            return name, {"Arn": self.arn("cloudwatch", f"alarm:{name}")}
        # The dashboard's static hosting: the local line serves dashboard/ itself.
        if resource_type == "AWS::S3::Bucket":
            bucket = name.lower()[:63]
            return bucket, {
                "Arn": f"arn:aws:s3:::{bucket}",
                "DomainName": f"{bucket}.s3.amazonaws.com",
                "RegionalDomainName": f"{bucket}.s3.{self.region}.amazonaws.com",
            }
        if resource_type == "AWS::CloudFront::Distribution":
            distribution = "E" + _random_suffix(13)
            return distribution, {"Id": distribution, "DomainName": f"d{_random_suffix(13).lower()}.cloudfront.net"}
        if resource_type == "AWS::CloudFront::OriginAccessControl":
            return "E" + _random_suffix(13), {"Id": "E" + _random_suffix(13)}
        service = resource_type.split("::")[1].lower() if resource_type.count("::") == 2 else "unknown"
        return name, {"Arn": self.arn(service, name)}

    # -- DynamoDB

    def dynamodb_table(self, logical_id: str, properties: dict[str, Any], where: str) -> ResolvedResource:
        name = self.physical_name(logical_id, "AWS::DynamoDB::Table", properties)
        request = dict(properties, TableName=name)
        # The local line is disposable: deletion protection would only get in the way of cleaning up.
        for separate in ("TimeToLiveSpecification", "PointInTimeRecoverySpecification", "DeletionProtectionEnabled"):
            request.pop(separate, None)
        sse = properties.get("SSESpecification")
        if sse:
            request["SSESpecification"] = {
                key: value
                for key, value in {
                    "Enabled": sse.get("SSEEnabled"),
                    "SSEType": sse.get("SSEType"),
                    "KMSMasterKeyId": sse.get("KMSMasterKeyId"),
                }.items()
                if value is not None
            }
        stream = properties.get("StreamSpecification")
        if stream:
            request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
        self.clients.call("dynamodb", "CreateTable", request, where)

        ttl = properties.get("TimeToLiveSpecification") or {}
        if truthy(ttl.get("Enabled")):
            specification = {"Enabled": True, "AttributeName": ttl["AttributeName"]}
            self.clients.call(
                "dynamodb", "UpdateTimeToLive", {"TableName": name, "TimeToLiveSpecification": specification}, where
            )
        pitr = properties.get("PointInTimeRecoverySpecification") or {}
        if truthy(pitr.get("PointInTimeRecoveryEnabled")):
            self._optional(
                "dynamodb",
                "UpdateContinuousBackups",
                {"TableName": name, "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}},
                where,
            )
        table = self.clients.get("dynamodb").describe_table(TableName=name)["Table"]
        attributes = {"Arn": table["TableArn"]}
        if table.get("LatestStreamArn"):
            attributes["StreamArn"] = table["LatestStreamArn"]
        return ResolvedResource(logical_id, "AWS::DynamoDB::Table", name, attributes)

    # -- SQS

    _SQS_ATTRIBUTES = (
        "ContentBasedDeduplication",
        "DeduplicationScope",
        "DelaySeconds",
        "FifoQueue",
        "FifoThroughputLimit",
        "KmsDataKeyReusePeriodSeconds",
        "KmsMasterKeyId",
        "MaximumMessageSize",
        "MessageRetentionPeriod",
        "ReceiveMessageWaitTimeSeconds",
        "RedriveAllowPolicy",
        "RedrivePolicy",
        "SqsManagedSseEnabled",
        "VisibilityTimeout",
    )

    def sqs_queue(self, logical_id: str, properties: dict[str, Any], where: str) -> ResolvedResource:
        fifo = truthy(properties.get("FifoQueue"))
        name = self.physical_name(logical_id, SQS_QUEUE, properties, suffix=".fifo" if fifo else "")
        if fifo and not name.endswith(".fifo"):
            raise TemplateError(f"{where}.QueueName: a FIFO queue's name must end in .fifo, got {name!r}")
        # Queue attributes are all strings on the wire; policies are JSON documents.
        attributes = {
            key: json.dumps(properties[key]) if isinstance(properties[key], dict) else as_text(properties[key])
            for key in self._SQS_ATTRIBUTES
            if key in properties
        }
        request: dict[str, Any] = {"QueueName": name, "Attributes": attributes}
        if properties.get("Tags"):
            request["tags"] = {tag["Key"]: as_text(tag["Value"]) for tag in properties["Tags"]}
        queue_url = self.clients.call("sqs", "CreateQueue", request, where)["QueueUrl"]
        queue_arn = self.clients.get("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        arn = queue_arn["Attributes"]["QueueArn"]
        return ResolvedResource(
            logical_id, SQS_QUEUE, queue_url, {"Arn": arn, "QueueUrl": queue_url, "QueueName": name}
        )

    # -- KMS

    def kms_key(self, logical_id: str, properties: dict[str, Any], where: str) -> ResolvedResource:
        request: dict[str, Any] = {
            key: properties[key]
            for key in ("Description", "KeyUsage", "KeySpec", "MultiRegion", "Origin")
            if key in properties
        }
        if "KeyPolicy" in properties:
            policy = properties["KeyPolicy"]
            request["Policy"] = policy if isinstance(policy, str) else json.dumps(policy)
        if properties.get("Tags"):
            request["Tags"] = [{"TagKey": tag["Key"], "TagValue": tag["Value"]} for tag in properties["Tags"]]
        metadata = self.clients.call("kms", "CreateKey", request, where)["KeyMetadata"]
        key_id = metadata["KeyId"]
        if truthy(properties.get("EnableKeyRotation")):
            self._optional("kms", "EnableKeyRotation", {"KeyId": key_id}, where)
        if "Enabled" in properties and not truthy(properties["Enabled"]):
            self.clients.call("kms", "DisableKey", {"KeyId": key_id}, where)
        return ResolvedResource(logical_id, "AWS::KMS::Key", key_id, {"Arn": metadata["Arn"], "KeyId": key_id})

    def kms_alias(self, logical_id: str, properties: dict[str, Any], where: str) -> ResolvedResource:
        self.clients.call("kms", "CreateAlias", properties, where)
        alias_name = str(properties["AliasName"])
        return ResolvedResource(logical_id, "AWS::KMS::Alias", alias_name, {"Arn": self.arn("kms", alias_name)})

    # -- Secrets Manager

    def secret(self, logical_id: str, properties: dict[str, Any], where: str) -> ResolvedResource:
        name = self.physical_name(logical_id, "AWS::SecretsManager::Secret", properties)
        request: dict[str, Any] = {
            key: properties[key] for key in ("Description", "KmsKeyId", "Tags") if key in properties
        }
        request["Name"] = name
        if "SecretString" in properties:
            request["SecretString"] = properties["SecretString"]
        elif "GenerateSecretString" in properties:
            request["SecretString"] = self._generated_secret(properties["GenerateSecretString"], where)
        arn = self.clients.call("secretsmanager", "CreateSecret", request, where)["ARN"]
        return ResolvedResource(logical_id, "AWS::SecretsManager::Secret", arn, {"Id": arn})

    def _generated_secret(self, generation: dict[str, Any], where: str) -> str:
        """A random password made with the template's rules, placed in SecretStringTemplate if it has one."""
        password = self.clients.call("secretsmanager", "GetRandomPassword", generation, f"{where}.GenerateSecretString")
        value = str(password["RandomPassword"])
        if "SecretStringTemplate" not in generation:
            return value
        document = json.loads(generation["SecretStringTemplate"])
        document[generation["GenerateStringKey"]] = value
        return json.dumps(document)

    # -- SNS

    _SNS_ATTRIBUTES = (
        "ArchivePolicy",
        "ContentBasedDeduplication",
        "DisplayName",
        "FifoTopic",
        "KmsMasterKeyId",
        "SignatureVersion",
        "TracingConfig",
    )

    def sns_topic(self, logical_id: str, properties: dict[str, Any], where: str) -> ResolvedResource:
        fifo = truthy(properties.get("FifoTopic"))
        name = self.physical_name(logical_id, "AWS::SNS::Topic", properties, suffix=".fifo" if fifo else "")
        attributes = {
            key: json.dumps(properties[key]) if isinstance(properties[key], dict) else as_text(properties[key])
            for key in self._SNS_ATTRIBUTES
            if key in properties
        }
        request: dict[str, Any] = {"Name": name, "Attributes": attributes}
        if properties.get("Tags"):
            request["Tags"] = properties["Tags"]
        topic_arn = self.clients.call("sns", "CreateTopic", request, where)["TopicArn"]
        return ResolvedResource(logical_id, "AWS::SNS::Topic", topic_arn, {"TopicArn": topic_arn, "TopicName": name})

    # -- Cognito

    def user_pool(self, logical_id: str, properties: dict[str, Any], where: str) -> ResolvedResource:
        name = self.physical_name(logical_id, "AWS::Cognito::UserPool", properties)
        # EnabledMfas is CloudFormation's: the API sets it with SetUserPoolMfaConfig, once the pool exists.
        request = {key: value for key, value in properties.items() if key not in ("UserPoolName", "EnabledMfas")}
        request["PoolName"] = name
        pool = self.clients.call("cognito-idp", "CreateUserPool", request, where)["UserPool"]
        if "SOFTWARE_TOKEN_MFA" in properties.get("EnabledMfas", []):
            mfa = {"UserPoolId": pool["Id"], "MfaConfiguration": properties.get("MfaConfiguration", "OFF")}
            mfa["SoftwareTokenMfaConfiguration"] = {"Enabled": True}
            self.clients.call("cognito-idp", "SetUserPoolMfaConfig", mfa, where)
        provider_name = f"cognito-idp.{self.region}.{URL_SUFFIX}/{pool['Id']}"
        attributes = {
            "Arn": pool["Arn"],
            "UserPoolId": pool["Id"],
            "ProviderName": provider_name,
            "ProviderURL": f"https://{provider_name}",
        }
        return ResolvedResource(logical_id, "AWS::Cognito::UserPool", pool["Id"], attributes)

    def user_pool_client(self, logical_id: str, properties: dict[str, Any], where: str) -> ResolvedResource:
        name = self.physical_name(logical_id, "AWS::Cognito::UserPoolClient", properties)
        request = dict(properties, ClientName=name)
        created = self.clients.call("cognito-idp", "CreateUserPoolClient", request, where)["UserPoolClient"]
        attributes = {"ClientId": created["ClientId"], "Name": name}
        if created.get("ClientSecret"):
            attributes["ClientSecret"] = created["ClientSecret"]
        return ResolvedResource(logical_id, "AWS::Cognito::UserPoolClient", created["ClientId"], attributes)

    def user_pool_group(self, logical_id: str, properties: dict[str, Any], where: str) -> ResolvedResource:
        name = self.physical_name(logical_id, "AWS::Cognito::UserPoolGroup", properties)
        self.clients.call("cognito-idp", "CreateGroup", dict(properties, GroupName=name), where)
        return ResolvedResource(logical_id, "AWS::Cognito::UserPoolGroup", name, {})

    def user_pool_domain(self, logical_id: str, properties: dict[str, Any], where: str) -> ResolvedResource:
        self.clients.call("cognito-idp", "CreateUserPoolDomain", properties, where)
        domain = str(properties["Domain"])
        return ResolvedResource(logical_id, "AWS::Cognito::UserPoolDomain", domain, {})

    def _optional(self, service: str, operation: str, params: dict[str, Any], where: str) -> None:
        """Settings that matter in AWS but not locally: applied where the emulator accepts them."""
        try:
            self.clients.call(service, operation, params, where)
        except TemplateError as error:
            LOGGER.debug("emulator did not accept an optional setting: %s", error)


_BUILDERS: dict[str, Callable[[ResourceBuilder, str, dict[str, Any], str], ResolvedResource]] = {
    "AWS::DynamoDB::Table": ResourceBuilder.dynamodb_table,
    SQS_QUEUE: ResourceBuilder.sqs_queue,
    "AWS::KMS::Key": ResourceBuilder.kms_key,
    "AWS::KMS::Alias": ResourceBuilder.kms_alias,
    "AWS::SecretsManager::Secret": ResourceBuilder.secret,
    "AWS::SNS::Topic": ResourceBuilder.sns_topic,
    "AWS::Cognito::UserPool": ResourceBuilder.user_pool,
    "AWS::Cognito::UserPoolClient": ResourceBuilder.user_pool_client,
    "AWS::Cognito::UserPoolGroup": ResourceBuilder.user_pool_group,
    "AWS::Cognito::UserPoolDomain": ResourceBuilder.user_pool_domain,
}

# Named only, on purpose: the local line runs functions in-process, serves the HTTP API itself, polls the queues
# itself, and has no use for IAM, alarms or log groups. Anything else not in _BUILDERS is logged as skipped.
_EMULATED_OR_UNNEEDED = frozenset(
    {
        SERVERLESS_FUNCTION,
        SERVERLESS_LAYER,
        "AWS::Serverless::HttpApi",
        "AWS::Serverless::Api",
        "AWS::Lambda::Function",
        "AWS::Lambda::LayerVersion",
        "AWS::Lambda::Permission",
        "AWS::Lambda::EventSourceMapping",
        "AWS::ApiGatewayV2::Api",
        "AWS::ApiGatewayV2::Integration",
        "AWS::ApiGatewayV2::Route",
        "AWS::ApiGatewayV2::Stage",
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
        "AWS::CloudWatch::Alarm",
        "AWS::Logs::LogGroup",
        "AWS::SNS::Subscription",
        "AWS::SQS::QueuePolicy",
        "AWS::SNS::TopicPolicy",
        "AWS::S3::Bucket",
        "AWS::S3::BucketPolicy",
        "AWS::CloudFront::Distribution",
        "AWS::CloudFront::OriginAccessControl",
    }
)




def account_id_of(clients: AwsClients) -> str:
    """The emulator's account (moto's default unless its credentials select another)."""
    try:
        return str(clients.get("sts").get_caller_identity()["Account"])
    except ClientError:
        return DEFAULT_ACCOUNT_ID
