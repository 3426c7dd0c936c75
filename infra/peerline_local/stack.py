"""Provision the resources of a SAM template on a local AWS emulator (moto in server mode).

`template.yaml` is the single source of truth: the local line creates its tables, queues, keys, secrets, topics and
user pools by reading the template, never from a second list that could drift from what `sam deploy` creates.
Resources the local line emulates itself (functions, HTTP APIs, layers, IAM, alarms, log groups) are not created, but
they still get plausible physical ids so that every `Ref`, `Fn::GetAtt` and `Fn::Sub` in the template resolves.
"""

import base64
import json
import logging
import re
import secrets
import string
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.model
from botocore import xform_name
from botocore.exceptions import ClientError

LOGGER = logging.getLogger(__name__)

DEFAULT_ACCOUNT_ID = "123456789012"
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"

SERVERLESS_FUNCTION = "AWS::Serverless::Function"
SERVERLESS_LAYER = "AWS::Serverless::LayerVersion"
SQS_QUEUE = "AWS::SQS::Queue"
# SAM creates this API when a function has an HttpApi event without an ApiId.
IMPLICIT_HTTP_API = "ServerlessHttpApi"

# SAM's defaults for what a function leaves unset (and Globals don't set).
DEFAULT_FUNCTION_TIMEOUT = 3
DEFAULT_FUNCTION_MEMORY = 128
# Lambda's defaults for an SQS event source.
DEFAULT_SQS_BATCH_SIZE = 10


class TemplateError(ValueError):
    """The template cannot be provisioned as written (bad parameter, unresolvable intrinsic, dependency cycle)."""


@dataclass(frozen=True)
class ResolvedResource:
    """A template resource with the values `Ref` and `Fn::GetAtt` give for it."""

    logical_id: str
    resource_type: str
    physical_id: str  # what `Ref` returns: a table name, a queue URL, a key id, a secret ARN ...
    attributes: dict[str, str] = field(default_factory=dict)  # what `Fn::GetAtt` returns, by attribute name
    provisioned: bool = True  # False when only named (the local line emulates it or does not need it)


@dataclass(frozen=True)
class SqsEventSource:
    """An SQS event source of a function, as the local line must poll and deliver it."""

    queue_logical_id: str
    queue_url: str
    queue_arn: str
    fifo: bool
    batch_size: int
    maximum_batching_window_seconds: int
    report_batch_item_failures: bool
    maximum_concurrency: int | None


@dataclass(frozen=True)
class HttpRoute:
    """An HTTP API route: method upper-case (or "ANY"), path as written in the template ("/sms/inbound",
    "/volunteer/{proxy+}"), and the authorizer that guards it: its own ``Auth.Authorizer``, else its API's
    ``DefaultAuthorizer``; None for an open route (``Authorizer: NONE``, or no authorizer at all)."""

    method: str
    path: str
    function_logical_id: str
    authorizer: str | None = None
    api_logical_id: str = ""
    authorization_scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class JwtAuthorizer:
    """A JWT authorizer of an HTTP API with its ``JwtConfiguration`` resolved (issuer and audience are physical)."""

    name: str
    api_logical_id: str
    issuer: str
    audience: tuple[str, ...]
    identity_source: str = "$request.header.Authorization"


@dataclass(frozen=True)
class CorsConfiguration:
    """An HTTP API's ``CorsConfiguration``, as API Gateway answers preflights and decorates responses with it."""

    allow_origins: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False


@dataclass(frozen=True)
class WebSocketRoute:
    """A route of a WebSocket API ("$connect", "$disconnect", "$default" or an action) and the function behind it."""

    route_key: str
    function_logical_id: str


@dataclass(frozen=True)
class WebSocketApi:
    """An ``AWS::ApiGatewayV2::Api`` with ``ProtocolType: WEBSOCKET``, its stage and routes (Lambda proxy only).

    ``url`` (wss://…/stage) and ``callback_url`` (https://…/stage, the management API functions post to) are what
    the template's own ``!Sub`` expressions give on AWS; the local line swaps them for its loopback emulator's.
    """

    logical_id: str
    api_id: str
    stage: str
    route_selection_expression: str
    routes: tuple[WebSocketRoute, ...]
    url: str
    callback_url: str


@dataclass(frozen=True)
class FunctionSpec:
    """A function as the local line runs it in-process: code, handler, resolved environment and triggers."""

    logical_id: str
    code_uri: Path
    handler: str
    environment: dict[str, str]
    timeout: int
    memory_size: int
    layer_content_dirs: list[Path]
    sqs_sources: list[SqsEventSource]
    http_routes: list[HttpRoute]


@dataclass(frozen=True)
class LocalStack:
    """Everything a provisioned template gives the local line."""

    stack_name: str
    region: str
    account_id: str
    resources: dict[str, ResolvedResource]
    functions: dict[str, FunctionSpec]
    http_routes: list[HttpRoute]
    outputs: dict[str, str]
    endpoint_url: str = ""
    # JWT authorizers of the template's HTTP APIs, by name (the name `HttpRoute.authorizer` holds).
    http_authorizers: dict[str, JwtAuthorizer] = field(default_factory=dict)
    # The HTTP API's CorsConfiguration (the first API that has one; a template normally has one HTTP API).
    http_cors: CorsConfiguration | None = None
    # WebSocket APIs of the template, by logical id.
    websocket_apis: dict[str, WebSocketApi] = field(default_factory=dict)

    def physical_id(self, logical_id: str) -> str:
        """What `Ref` gives for a resource of the template (a table name, a queue URL ...)."""
        return self.resources[logical_id].physical_id


def load_template(path: Path) -> dict[str, Any]:
    """Read a CloudFormation/SAM template (YAML short tags or JSON) into plain data.

    Intrinsics come back in their long form: `!Ref X` as {"Ref": "X"}, `!GetAtt X.Arn` as
    {"Fn::GetAtt": ["X", "Arn"]}, `!Sub ...` as {"Fn::Sub": ...}.
    """
    # cfn-lint's decoder is the one `cfn-lint` itself lints with, so both read the template identically.
    from cfnlint.decode import decode

    template, problems = decode(str(path))
    if problems or template is None:
        details = "; ".join(str(problem) for problem in problems) or "empty template"
        raise TemplateError(f"{path}: cannot read the template: {details}")
    plain = _plain_data(template)
    if not isinstance(plain, dict):
        raise TemplateError(f"{path}: a template is a mapping at the top level")
    return plain


def provision(
    template_path: Path,
    *,
    parameters: dict[str, str],
    stack_name: str,
    session: boto3.session.Session,
    endpoint_url: str,
) -> LocalStack:
    """Create every resource of the template the local line needs, in dependency order, on `endpoint_url`.

    Physical names follow CloudFormation ("{stack_name}-{LogicalId}-{RANDOM12}", ".fifo" for FIFO queues and topics)
    unless the template names a resource, so provisioning twice with different stack names gives fresh resources.
    Parameters not passed take their Default. Returns the physical ids, the functions with their environment
    resolved, their SQS sources and HTTP routes, and the outputs.
    """
    template_path = Path(template_path).resolve()
    template = load_template(template_path)
    region = session.region_name
    if not region:
        raise TemplateError("the boto3 session has no region; pass region_name= or set AWS_DEFAULT_REGION")
    clients = _Clients(session, endpoint_url)
    account_id = _account_id(clients)
    resolver = _Resolver(
        template,
        parameter_values=_parameter_values(template, parameters),
        pseudo_parameters=_pseudo_parameters(stack_name, region, account_id),
    )
    builder = _ResourceBuilder(clients, resolver, stack_name=stack_name, region=region, account_id=account_id)
    for logical_id in _creation_order(template, resolver):
        resolver.resources[logical_id] = builder.build(logical_id, template["Resources"][logical_id])

    functions = _function_specs(template, resolver, template_path.parent)
    http_apis = _http_apis(template, resolver)
    return LocalStack(
        stack_name=stack_name,
        region=region,
        account_id=account_id,
        resources=dict(resolver.resources),
        functions=functions,
        http_routes=[route for spec in functions.values() for route in spec.http_routes],
        outputs=_outputs(template, resolver),
        endpoint_url=endpoint_url,
        http_authorizers={
            name: authorizer for api in http_apis.values() for name, authorizer in api.authorizers.items()
        },
        http_cors=next((api.cors for api in http_apis.values() if api.cors is not None), None),
        websocket_apis=_websocket_apis(template, resolver, region),
    )


# ---------------------------------------------------------------------------------------------------- reading


def _plain_data(node: Any) -> Any:
    """cfn-lint's nodes carry line marks; the rest of the code (and json) wants plain dicts, lists and scalars."""
    if isinstance(node, Mapping):
        return {str(key): _plain_data(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain_data(item) for item in node]
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


def _is_intrinsic(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _INTRINSIC_NAMES


_INTRINSIC_NAMES = frozenset(
    {
        "Ref",
        "Fn::GetAtt",
        "Fn::Sub",
        "Fn::If",
        "Fn::Join",
        "Fn::Select",
        "Fn::Split",
        "Fn::FindInMap",
        "Fn::GetAZs",
        "Fn::Base64",
        "Fn::ImportValue",
        "Fn::ToJsonString",
        "Fn::Length",
        "Fn::Equals",
        "Fn::Not",
        "Fn::And",
        "Fn::Or",
    }
)
_SUB_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


def _get_att_target(argument: Any) -> tuple[Any, Any]:
    """`Fn::GetAtt` comes as ["X", "Attr"] (YAML) or "X.Attr" (JSON); attribute names may hold dots themselves."""
    if isinstance(argument, str):
        logical_id, _, attribute = argument.partition(".")
        return logical_id, attribute
    if isinstance(argument, list) and len(argument) == 2:
        return argument[0], argument[1]
    return None, None


def _referenced_ids(value: Any) -> Iterator[str]:
    """Every logical id a value refers to through Ref, Fn::GetAtt or Fn::Sub (before resolution)."""
    if isinstance(value, list):
        for item in value:
            yield from _referenced_ids(item)
        return
    if not isinstance(value, dict):
        return
    if _is_intrinsic(value):
        name, argument = next(iter(value.items()))
        if name == "Ref" and isinstance(argument, str):
            yield argument
            return
        if name == "Fn::GetAtt":
            logical_id, _ = _get_att_target(argument)
            if isinstance(logical_id, str):
                yield logical_id
            return
        if name == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
            for placeholder in _SUB_PLACEHOLDER.findall(text if isinstance(text, str) else ""):
                if not placeholder.startswith("!") and placeholder not in variables:
                    yield placeholder.split(".", 1)[0]
            yield from _referenced_ids(variables)
            return
    for item in value.values():
        yield from _referenced_ids(item)


# ---------------------------------------------------------------------------------------------------- parameters


def _pseudo_parameters(stack_name: str, region: str, account_id: str) -> dict[str, Any]:
    return {
        "AWS::Region": region,
        "AWS::AccountId": account_id,
        "AWS::StackName": stack_name,
        "AWS::StackId": f"arn:{PARTITION}:cloudformation:{region}:{account_id}:stack/{stack_name}/{uuid.uuid4()}",
        "AWS::Partition": PARTITION,
        "AWS::URLSuffix": URL_SUFFIX,
        "AWS::NotificationARNs": [],
    }


def _parameter_values(template: dict[str, Any], given: Mapping[str, str]) -> dict[str, Any]:
    """Each declared parameter's value: the one given, else its Default; checked as CloudFormation would."""
    declared: dict[str, Any] = template.get("Parameters") or {}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise TemplateError(f"parameters not declared in the template: {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, declaration in declared.items():
        if name in given:
            raw = str(given[name])
        elif "Default" in declaration:
            default = declaration["Default"]
            raw = ",".join(str(item) for item in default) if isinstance(default, list) else _as_text(default)
        else:
            raise TemplateError(f"parameter {name} has no Default and no value was passed for it")
        values[name] = _checked_parameter(name, declaration, raw)
    return values


def _checked_parameter(name: str, declaration: dict[str, Any], raw: str) -> Any:
    parameter_type = str(declaration.get("Type", "String"))
    if parameter_type.startswith("AWS::SSM::Parameter"):
        raise TemplateError(f"parameter {name}: SSM parameter types are not supported by the local line")
    allowed = declaration.get("AllowedValues")
    if allowed is not None and raw not in {_as_text(value) for value in allowed}:
        raise TemplateError(f"parameter {name}: {raw!r} is not one of its AllowedValues {allowed}")
    pattern = declaration.get("AllowedPattern")
    if pattern is not None and parameter_type == "String" and not re.fullmatch(str(pattern), raw):
        raise TemplateError(f"parameter {name}: {raw!r} does not match its AllowedPattern {pattern}")
    if parameter_type == "Number":
        try:
            number = float(raw)
        except ValueError:
            raise TemplateError(f"parameter {name}: {raw!r} is not a number") from None
        if "MinValue" in declaration and number < float(declaration["MinValue"]):
            raise TemplateError(f"parameter {name}: {raw} is below its MinValue {declaration['MinValue']}")
        if "MaxValue" in declaration and number > float(declaration["MaxValue"]):
            raise TemplateError(f"parameter {name}: {raw} is above its MaxValue {declaration['MaxValue']}")
    if parameter_type == "CommaDelimitedList" or parameter_type.startswith("List<"):
        return [item.strip() for item in raw.split(",")] if raw else []
    return raw


def _as_text(value: Any) -> str:
    """How CloudFormation turns a scalar into a string (booleans lower-case, as YAML wrote them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ---------------------------------------------------------------------------------------------------- intrinsics


class _NoValue:
    """`Ref: AWS::NoValue`: the property (or list item) that holds it disappears."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


class _Resolver:
    """Turns intrinsics into physical values, using the resources provisioned so far."""

    def __init__(
        self, template: dict[str, Any], *, parameter_values: dict[str, Any], pseudo_parameters: dict[str, Any]
    ) -> None:
        self.template = template
        self.parameter_values = parameter_values
        self.pseudo_parameters = pseudo_parameters
        self.resources: dict[str, ResolvedResource] = {}
        self._conditions: dict[str, bool] = {}
        self._conditions_in_progress: set[str] = set()

    # -- conditions

    def condition(self, name: str, where: str) -> bool:
        """The truth of a named condition of the template's Conditions section."""
        if name in self._conditions:
            return self._conditions[name]
        declared = self.template.get("Conditions") or {}
        if name not in declared:
            raise TemplateError(f"{where}: condition {name} is not declared in Conditions")
        if name in self._conditions_in_progress:
            raise TemplateError(f"{where}: condition {name} refers to itself")
        self._conditions_in_progress.add(name)
        truth = self._condition_expression(declared[name], f"Conditions.{name}")
        self._conditions_in_progress.discard(name)
        self._conditions[name] = truth
        return truth

    def resource_is_active(self, logical_id: str) -> bool:
        """False for a resource whose Condition is false: CloudFormation does not create it."""
        condition = self.template["Resources"][logical_id].get("Condition")
        return condition is None or self.condition(str(condition), f"Resources.{logical_id}.Condition")

    def _condition_expression(self, expression: Any, where: str) -> bool:
        if not isinstance(expression, dict) or len(expression) != 1:
            raise TemplateError(f"{where}: not a condition expression: {expression!r}")
        name, argument = next(iter(expression.items()))
        if name == "Condition":
            return self.condition(str(argument), where)
        if name == "Fn::Equals":
            left, right = (self.resolve(item, where) for item in argument)
            return _as_text(left) == _as_text(right)
        if name == "Fn::Not":
            return not self._condition_expression(argument[0], where)
        if name == "Fn::And":
            return all(self._condition_expression(item, where) for item in argument)
        if name == "Fn::Or":
            return any(self._condition_expression(item, where) for item in argument)
        raise TemplateError(f"{where}: {name} is not a condition function")

    # -- values

    def resolve(self, value: Any, where: str) -> Any:
        """The value with every intrinsic replaced; `where` names the logical id and property for errors."""
        if isinstance(value, list):
            items = [self.resolve(item, f"{where}[{index}]") for index, item in enumerate(value)]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if _is_intrinsic(value):
            name, argument = next(iter(value.items()))
            return self._intrinsic(name, argument, where)
        resolved = {key: self.resolve(item, f"{where}.{key}") for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def resolve_text(self, value: Any, where: str) -> str:
        """Resolve a value that must end up a string (environment variables, outputs, names)."""
        return _text(self.resolve(value, where), where)

    def _intrinsic(self, name: str, argument: Any, where: str) -> Any:
        handler = self._HANDLERS.get(name)
        if handler is None:
            raise TemplateError(f"{where}: {name} cannot be resolved locally")
        return handler(self, argument, where)

    def _ref(self, argument: Any, where: str) -> Any:
        if not isinstance(argument, str):
            raise TemplateError(f"{where}: Ref needs a name, got {argument!r}")
        if argument == "AWS::NoValue":
            return NO_VALUE
        if argument in self.pseudo_parameters:
            return self.pseudo_parameters[argument]
        if argument in self.parameter_values:
            return self.parameter_values[argument]
        return self._resource(argument, where, "Ref").physical_id

    def _get_att(self, argument: Any, where: str) -> str:
        logical_id, attribute = _get_att_target(argument)
        if isinstance(attribute, dict):
            attribute = self.resolve_text(attribute, where)
        if not isinstance(logical_id, str) or not isinstance(attribute, str) or not attribute:
            raise TemplateError(f"{where}: Fn::GetAtt needs [LogicalId, Attribute], got {argument!r}")
        resource = self._resource(logical_id, where, f"Fn::GetAtt {logical_id}.{attribute}")
        if attribute not in resource.attributes:
            known = ", ".join(sorted(resource.attributes)) or "none"
            raise TemplateError(
                f"{where}: Fn::GetAtt {logical_id}.{attribute}: {resource.resource_type} {logical_id} has no "
                f"attribute {attribute} locally (known: {known})"
            )
        return resource.attributes[attribute]

    def _resource(self, logical_id: str, where: str, what: str) -> ResolvedResource:
        if logical_id in self.resources:
            return self.resources[logical_id]
        declared = self.template.get("Resources") or {}
        if logical_id not in declared:
            raise TemplateError(f"{where}: {what}: {logical_id} is not a parameter or resource of the template")
        if not self.resource_is_active(logical_id):
            raise TemplateError(f"{where}: {what}: {logical_id} is not created (its Condition is false)")
        raise TemplateError(f"{where}: {what}: {logical_id} is not provisioned yet (missing dependency)")

    def _sub(self, argument: Any, where: str) -> str:
        if isinstance(argument, str):
            text, variables = argument, {}
        elif isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str):
            text, variables = argument[0], argument[1]
        else:
            raise TemplateError(f"{where}: Fn::Sub needs a string or [string, variables], got {argument!r}")
        values = {key: self.resolve_text(value, f"{where}.{key}") for key, value in variables.items()}

        def substitute(match: re.Match[str]) -> str:
            placeholder = match.group(1)
            if placeholder.startswith("!"):  # ${!Literal} is written out as ${Literal}
                return "${" + placeholder[1:] + "}"
            if placeholder in values:
                return values[placeholder]
            if "." in placeholder and placeholder not in self.pseudo_parameters:
                return self._get_att(placeholder, where)
            return self.resolve_text({"Ref": placeholder}, where)

        return _SUB_PLACEHOLDER.sub(substitute, text)

    def _if(self, argument: Any, where: str) -> Any:
        if not isinstance(argument, list) or len(argument) != 3:
            raise TemplateError(f"{where}: Fn::If needs [Condition, ValueIfTrue, ValueIfFalse]")
        chosen = argument[1] if self.condition(str(argument[0]), where) else argument[2]
        return self.resolve(chosen, where)

    def _join(self, argument: Any, where: str) -> str:
        delimiter, items = argument
        resolved = self.resolve(items, where)
        if not isinstance(resolved, list):
            raise TemplateError(f"{where}: Fn::Join needs a list, got {resolved!r}")
        return str(delimiter).join(_as_text(item) for item in resolved)

    def _select(self, argument: Any, where: str) -> Any:
        index, items = self.resolve(argument[0], where), self.resolve(argument[1], where)
        try:
            return items[int(index)]
        except (IndexError, TypeError, ValueError):
            raise TemplateError(f"{where}: Fn::Select index {index!r} is not in {items!r}") from None

    def _split(self, argument: Any, where: str) -> list[str]:
        delimiter, text = argument
        return self.resolve_text(text, where).split(str(delimiter))

    def _find_in_map(self, argument: Any, where: str) -> Any:
        map_name, top_key, second_key = (self.resolve_text(item, where) for item in argument[:3])
        try:
            return self.template["Mappings"][map_name][top_key][second_key]
        except KeyError:
            raise TemplateError(f"{where}: Fn::FindInMap: no {map_name}.{top_key}.{second_key} in Mappings") from None

    def _get_azs(self, argument: Any, where: str) -> list[str]:
        region = self.resolve(argument, where) or self.pseudo_parameters["AWS::Region"]
        return [f"{region}{zone}" for zone in "abc"]

    def _base64(self, argument: Any, where: str) -> str:
        return base64.b64encode(self.resolve_text(argument, where).encode()).decode()

    def _to_json_string(self, argument: Any, where: str) -> str:
        return json.dumps(self.resolve(argument, where), separators=(",", ":"))

    def _length(self, argument: Any, where: str) -> int:
        return len(self.resolve(argument, where))

    def _import_value(self, argument: Any, where: str) -> Any:
        raise TemplateError(f"{where}: Fn::ImportValue needs another stack's exports, which the local line lacks")

    _HANDLERS: Mapping[str, Callable[["_Resolver", Any, str], Any]] = {
        "Ref": _ref,
        "Fn::GetAtt": _get_att,
        "Fn::Sub": _sub,
        "Fn::If": _if,
        "Fn::Join": _join,
        "Fn::Select": _select,
        "Fn::Split": _split,
        "Fn::FindInMap": _find_in_map,
        "Fn::GetAZs": _get_azs,
        "Fn::Base64": _base64,
        "Fn::ToJsonString": _to_json_string,
        "Fn::Length": _length,
        "Fn::ImportValue": _import_value,
    }


def _text(resolved: Any, where: str) -> str:
    """A resolved value as the string CloudFormation would make of it (lists of strings join with commas)."""
    if isinstance(resolved, list) and all(isinstance(item, str) for item in resolved):
        return ",".join(resolved)
    if isinstance(resolved, dict | list) or resolved is NO_VALUE or resolved is None:
        raise TemplateError(f"{where}: expected a string, got {resolved!r}")
    return _as_text(resolved)


# ---------------------------------------------------------------------------------------------------- ordering


def _creation_order(template: dict[str, Any], resolver: _Resolver) -> list[str]:
    """Active resources ordered so that each comes after everything its properties refer to (DLQs before queues)."""
    declared: dict[str, Any] = template.get("Resources") or {}
    active = [logical_id for logical_id in declared if resolver.resource_is_active(logical_id)]
    active_set = set(active)
    dependencies: dict[str, set[str]] = {}
    for logical_id in active:
        definition = declared[logical_id]
        needed = _properties_needed(definition)
        depends_on = definition.get("DependsOn") or []
        named = set(_referenced_ids(needed)) | set([depends_on] if isinstance(depends_on, str) else depends_on)
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


class _Clients:
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
        return json.dumps(value) if isinstance(value, dict | list) else _as_text(value)
    return value


def _random_suffix(length: int = 12) -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


class _ResourceBuilder:
    """Creates (or, for resources the local line does not need, only names) one resource at a time."""

    def __init__(
        self, clients: _Clients, resolver: _Resolver, *, stack_name: str, region: str, account_id: str
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
        if _truthy(ttl.get("Enabled")):
            specification = {"Enabled": True, "AttributeName": ttl["AttributeName"]}
            self.clients.call(
                "dynamodb", "UpdateTimeToLive", {"TableName": name, "TimeToLiveSpecification": specification}, where
            )
        pitr = properties.get("PointInTimeRecoverySpecification") or {}
        if _truthy(pitr.get("PointInTimeRecoveryEnabled")):
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
        fifo = _truthy(properties.get("FifoQueue"))
        name = self.physical_name(logical_id, SQS_QUEUE, properties, suffix=".fifo" if fifo else "")
        if fifo and not name.endswith(".fifo"):
            raise TemplateError(f"{where}.QueueName: a FIFO queue's name must end in .fifo, got {name!r}")
        # Queue attributes are all strings on the wire; policies are JSON documents.
        attributes = {
            key: json.dumps(properties[key]) if isinstance(properties[key], dict) else _as_text(properties[key])
            for key in self._SQS_ATTRIBUTES
            if key in properties
        }
        request: dict[str, Any] = {"QueueName": name, "Attributes": attributes}
        if properties.get("Tags"):
            request["tags"] = {tag["Key"]: _as_text(tag["Value"]) for tag in properties["Tags"]}
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
        if _truthy(properties.get("EnableKeyRotation")):
            self._optional("kms", "EnableKeyRotation", {"KeyId": key_id}, where)
        if "Enabled" in properties and not _truthy(properties["Enabled"]):
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
        fifo = _truthy(properties.get("FifoTopic"))
        name = self.physical_name(logical_id, "AWS::SNS::Topic", properties, suffix=".fifo" if fifo else "")
        attributes = {
            key: json.dumps(properties[key]) if isinstance(properties[key], dict) else _as_text(properties[key])
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
        request = {key: value for key, value in properties.items() if key != "UserPoolName"}
        request["PoolName"] = name
        pool = self.clients.call("cognito-idp", "CreateUserPool", request, where)["UserPool"]
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


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


_BUILDERS: dict[str, Callable[[_ResourceBuilder, str, dict[str, Any], str], ResolvedResource]] = {
    "AWS::DynamoDB::Table": _ResourceBuilder.dynamodb_table,
    SQS_QUEUE: _ResourceBuilder.sqs_queue,
    "AWS::KMS::Key": _ResourceBuilder.kms_key,
    "AWS::KMS::Alias": _ResourceBuilder.kms_alias,
    "AWS::SecretsManager::Secret": _ResourceBuilder.secret,
    "AWS::SNS::Topic": _ResourceBuilder.sns_topic,
    "AWS::Cognito::UserPool": _ResourceBuilder.user_pool,
    "AWS::Cognito::UserPoolClient": _ResourceBuilder.user_pool_client,
    "AWS::Cognito::UserPoolGroup": _ResourceBuilder.user_pool_group,
    "AWS::Cognito::UserPoolDomain": _ResourceBuilder.user_pool_domain,
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


# ---------------------------------------------------------------------------------------------------- functions


def _function_specs(template: dict[str, Any], resolver: _Resolver, template_dir: Path) -> dict[str, FunctionSpec]:
    globals_function = (template.get("Globals") or {}).get("Function") or {}
    declared: dict[str, Any] = template.get("Resources") or {}
    if _uses_implicit_http_api(declared) and IMPLICIT_HTTP_API not in resolver.resources:
        api_id = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(10))
        resolver.resources[IMPLICIT_HTTP_API] = ResolvedResource(
            IMPLICIT_HTTP_API, "AWS::Serverless::HttpApi", api_id, {"ApiId": api_id}, provisioned=False
        )
    specs: dict[str, FunctionSpec] = {}
    for logical_id, definition in declared.items():
        if definition.get("Type") != SERVERLESS_FUNCTION or not resolver.resource_is_active(logical_id):
            continue
        properties = _merge_globals(globals_function, definition.get("Properties") or {})
        specs[logical_id] = _function_spec(logical_id, properties, template, resolver, template_dir)
    return specs


def _uses_implicit_http_api(declared: dict[str, Any]) -> bool:
    return any(
        event.get("Type") == "HttpApi" and "ApiId" not in (event.get("Properties") or {})
        for definition in declared.values()
        if definition.get("Type") == SERVERLESS_FUNCTION
        for event in ((definition.get("Properties") or {}).get("Events") or {}).values()
    )


def _merge_globals(globals_section: Any, properties: dict[str, Any]) -> Any:
    """SAM's merge: mappings merge key by key, lists append the function's to the Globals', scalars override."""
    if isinstance(globals_section, dict) and isinstance(properties, dict):
        merged = dict(globals_section)
        for key, value in properties.items():
            merged[key] = _merge_globals(globals_section[key], value) if key in globals_section else value
        return merged
    if isinstance(globals_section, list) and isinstance(properties, list):
        return globals_section + properties
    return properties


def _function_spec(
    logical_id: str, properties: dict[str, Any], template: dict[str, Any], resolver: _Resolver, template_dir: Path
) -> FunctionSpec:
    where = f"Resources.{logical_id}.Properties"
    code_uri = properties.get("CodeUri")
    if not isinstance(code_uri, str):
        raise TemplateError(f"{where}.CodeUri: the local line runs local code, so CodeUri must be a folder")
    variables = ((properties.get("Environment") or {}).get("Variables")) or {}
    environment: dict[str, str] = {}
    for name, value in variables.items():
        variable_where = f"{where}.Environment.Variables.{name}"
        resolved = resolver.resolve(value, variable_where)
        if resolved is not NO_VALUE:  # `!If [Cond, x, !Ref AWS::NoValue]` leaves the variable out
            environment[name] = _text(resolved, variable_where)
    sqs_sources: list[SqsEventSource] = []
    http_routes: list[HttpRoute] = []
    for event_name, event in (properties.get("Events") or {}).items():
        event_where = f"{where}.Events.{event_name}"
        event_properties = event.get("Properties") or {}
        if event.get("Type") == "SQS":
            sqs_sources.append(_sqs_source(event_properties, resolver, event_where))
        elif event.get("Type") == "HttpApi":
            http_routes.append(_http_route(logical_id, event_properties, template, resolver, event_where))
        else:
            LOGGER.debug("skipping event type the local line does not deliver: %s %s", event.get("Type"), event_where)
    return FunctionSpec(
        logical_id=logical_id,
        code_uri=(template_dir / code_uri).resolve(),
        handler=resolver.resolve_text(properties.get("Handler"), f"{where}.Handler"),
        environment=environment,
        timeout=int(resolver.resolve_text(properties.get("Timeout", DEFAULT_FUNCTION_TIMEOUT), f"{where}.Timeout")),
        memory_size=int(
            resolver.resolve_text(properties.get("MemorySize", DEFAULT_FUNCTION_MEMORY), f"{where}.MemorySize")
        ),
        layer_content_dirs=_layer_content_dirs(properties.get("Layers") or [], template, template_dir),
        sqs_sources=sqs_sources,
        http_routes=http_routes,
    )


def _http_route(
    logical_id: str, properties: dict[str, Any], template: dict[str, Any], resolver: _Resolver, where: str
) -> HttpRoute:
    method = resolver.resolve_text(properties.get("Method", "ANY"), f"{where}.Method")
    path = resolver.resolve_text(properties.get("Path", "$default"), f"{where}.Path")
    api_id = _http_api_logical_id(properties.get("ApiId"), where)
    api_auth = _http_api_properties(template, api_id).get("Auth") or {}
    route_auth = properties.get("Auth") or {}
    # SAM: the route's own authorizer wins; "NONE" opens the route even when the API has a default.
    chosen = route_auth.get("Authorizer", api_auth.get("DefaultAuthorizer"))
    authorizer = None if chosen is None else resolver.resolve_text(chosen, f"{where}.Auth.Authorizer")
    if authorizer == "NONE":
        authorizer = None
    if authorizer is not None and authorizer not in (api_auth.get("Authorizers") or {}):
        raise TemplateError(f"{where}.Auth.Authorizer: {authorizer} is not an authorizer of {api_id}")
    scopes = resolver.resolve(route_auth.get("AuthorizationScopes") or [], f"{where}.Auth.AuthorizationScopes")
    return HttpRoute(
        method=method.upper(),
        path=path,
        function_logical_id=logical_id,
        authorizer=authorizer,
        api_logical_id=api_id,
        authorization_scopes=tuple(str(scope) for scope in scopes),
    )


def _http_api_logical_id(api_id: Any, where: str) -> str:
    """The HttpApi a route belongs to: `ApiId: !Ref X`, or SAM's implicit API when it names none."""
    if api_id is None:
        return IMPLICIT_HTTP_API
    if isinstance(api_id, dict) and isinstance(api_id.get("Ref"), str):
        return str(api_id["Ref"])
    raise TemplateError(f"{where}.ApiId: the local line needs `!Ref` to an HttpApi of the template, got {api_id!r}")


def _http_api_properties(template: dict[str, Any], api_logical_id: str) -> dict[str, Any]:
    """An HttpApi's properties with the template's `Globals.HttpApi` merged in (the implicit API has only those)."""
    globals_api = (template.get("Globals") or {}).get("HttpApi") or {}
    definition = (template.get("Resources") or {}).get(api_logical_id) or {}
    if api_logical_id != IMPLICIT_HTTP_API and definition.get("Type") != "AWS::Serverless::HttpApi":
        return {}
    merged: dict[str, Any] = _merge_globals(globals_api, definition.get("Properties") or {})
    return merged


@dataclass(frozen=True)
class _HttpApi:
    authorizers: dict[str, JwtAuthorizer]
    cors: CorsConfiguration | None


def _http_apis(template: dict[str, Any], resolver: _Resolver) -> dict[str, _HttpApi]:
    """Authorizers and CORS of every HTTP API the local line serves (explicit ones and SAM's implicit one)."""
    declared: dict[str, Any] = template.get("Resources") or {}
    api_ids = [
        logical_id
        for logical_id, definition in declared.items()
        if definition.get("Type") == "AWS::Serverless::HttpApi" and resolver.resource_is_active(logical_id)
    ]
    if IMPLICIT_HTTP_API in resolver.resources:
        api_ids.append(IMPLICIT_HTTP_API)
    apis: dict[str, _HttpApi] = {}
    for api_id in api_ids:
        where = f"Resources.{api_id}.Properties"
        properties = _http_api_properties(template, api_id)
        authorizers: dict[str, JwtAuthorizer] = {}
        for name, definition in ((properties.get("Auth") or {}).get("Authorizers") or {}).items():
            authorizer_where = f"{where}.Auth.Authorizers.{name}"
            if "JwtConfiguration" not in definition:
                # Lambda authorizers are not emulated; failing here beats serving their routes unprotected.
                raise TemplateError(f"{authorizer_where}: only JWT authorizers are emulated by the local line")
            configuration = resolver.resolve(definition["JwtConfiguration"], f"{authorizer_where}.JwtConfiguration")
            audience = configuration.get("audience") or []
            authorizers[name] = JwtAuthorizer(
                name=name,
                api_logical_id=api_id,
                issuer=_text(configuration.get("issuer"), f"{authorizer_where}.JwtConfiguration.issuer"),
                audience=tuple(str(item) for item in (audience if isinstance(audience, list) else [audience])),
                identity_source=resolver.resolve_text(
                    definition.get("IdentitySource", "$request.header.Authorization"),
                    f"{authorizer_where}.IdentitySource",
                ),
            )
        apis[api_id] = _HttpApi(authorizers, _cors(properties.get("CorsConfiguration"), resolver, where))
    return apis


def _cors(configuration: Any, resolver: _Resolver, where: str) -> CorsConfiguration | None:
    if configuration is None or configuration is False:
        return None
    if configuration is True:  # SAM's shorthand: every origin
        return CorsConfiguration(allow_origins=("*",), allow_headers=("*",), allow_methods=("*",))
    if isinstance(configuration, str) or _is_intrinsic(configuration):  # a single allowed origin
        origin = resolver.resolve_text(configuration, f"{where}.CorsConfiguration")
        return CorsConfiguration(allow_origins=(origin,), allow_headers=("*",), allow_methods=("*",))
    resolved = resolver.resolve(configuration, f"{where}.CorsConfiguration")

    def strings(key: str) -> tuple[str, ...]:
        value = resolved.get(key) or []
        return tuple(str(item) for item in (value if isinstance(value, list) else [value]))

    max_age = resolved.get("MaxAge")
    return CorsConfiguration(
        allow_origins=strings("AllowOrigins"),
        allow_headers=strings("AllowHeaders"),
        allow_methods=strings("AllowMethods"),
        expose_headers=strings("ExposeHeaders"),
        max_age=int(max_age) if max_age is not None else None,
        allow_credentials=_truthy(resolved.get("AllowCredentials")),
    )


def _sqs_source(properties: dict[str, Any], resolver: _Resolver, where: str) -> SqsEventSource:
    queue = _queue_resource(properties.get("Queue"), resolver, f"{where}.Queue")
    scaling = resolver.resolve(properties.get("ScalingConfig") or {}, f"{where}.ScalingConfig")
    response_types = resolver.resolve(properties.get("FunctionResponseTypes") or [], f"{where}.FunctionResponseTypes")
    batch_size = resolver.resolve(properties.get("BatchSize", DEFAULT_SQS_BATCH_SIZE), f"{where}.BatchSize")
    window = resolver.resolve(properties.get("MaximumBatchingWindowInSeconds", 0), f"{where}.MaximumBatchingWindow")
    concurrency = scaling.get("MaximumConcurrency")
    return SqsEventSource(
        queue_logical_id=queue.logical_id,
        queue_url=queue.attributes["QueueUrl"],
        queue_arn=queue.attributes["Arn"],
        fifo=queue.attributes["QueueName"].endswith(".fifo"),
        batch_size=int(batch_size),
        maximum_batching_window_seconds=int(window),
        report_batch_item_failures="ReportBatchItemFailures" in response_types,
        maximum_concurrency=int(concurrency) if concurrency is not None else None,
    )


def _queue_resource(queue: Any, resolver: _Resolver, where: str) -> ResolvedResource:
    """The template queue an event source reads: named by GetAtt X.Arn, or found by the ARN it resolves to."""
    if isinstance(queue, dict) and "Fn::GetAtt" in queue:
        logical_id, _ = _get_att_target(queue["Fn::GetAtt"])
        if isinstance(logical_id, str) and logical_id in resolver.resources:
            candidate = resolver.resources[logical_id]
            if candidate.resource_type == SQS_QUEUE:
                return candidate
    queue_arn = resolver.resolve_text(queue, where)
    for resource in resolver.resources.values():
        if resource.resource_type == SQS_QUEUE and resource.attributes.get("Arn") == queue_arn:
            return resource
    raise TemplateError(f"{where}: {queue_arn!r} is not a queue of this template, so the local line cannot poll it")


def _layer_content_dirs(layers: list[Any], template: dict[str, Any], template_dir: Path) -> list[Path]:
    """Folders of the template's own SAM layers; layers published elsewhere (plain ARNs) have nothing local."""
    declared = template.get("Resources") or {}
    folders: list[Path] = []
    for layer in layers:
        logical_id = layer.get("Ref") if isinstance(layer, dict) else None
        definition = declared.get(logical_id) if isinstance(logical_id, str) else None
        if not definition or definition.get("Type") != SERVERLESS_LAYER:
            continue
        content_uri = (definition.get("Properties") or {}).get("ContentUri")
        if isinstance(content_uri, str):
            folders.append((template_dir / content_uri).resolve())
    return folders


# ---------------------------------------------------------------------------------------------------- WebSocket APIs


def _websocket_apis(template: dict[str, Any], resolver: _Resolver, region: str) -> dict[str, WebSocketApi]:
    """WebSocket APIs with the function behind each route (found through the route's integration's URI)."""
    declared: dict[str, Any] = template.get("Resources") or {}

    def active_of_type(resource_type: str) -> list[tuple[str, dict[str, Any]]]:
        return [
            (logical_id, definition.get("Properties") or {})
            for logical_id, definition in declared.items()
            if definition.get("Type") == resource_type and resolver.resource_is_active(logical_id)
        ]

    def of_type(value: Any, *types: str) -> list[str]:
        return [ref for ref in _referenced_ids(value) if (declared.get(ref) or {}).get("Type") in types]

    apis: dict[str, WebSocketApi] = {}
    for logical_id, properties in active_of_type("AWS::ApiGatewayV2::Api"):
        where = f"Resources.{logical_id}.Properties"
        if resolver.resolve_text(properties.get("ProtocolType", ""), f"{where}.ProtocolType") != "WEBSOCKET":
            continue
        routes: list[WebSocketRoute] = []
        for route_id, route in active_of_type("AWS::ApiGatewayV2::Route"):
            if logical_id not in _referenced_ids(route.get("ApiId")):
                continue
            route_where = f"Resources.{route_id}.Properties"
            for integration_id in of_type(route.get("Target"), "AWS::ApiGatewayV2::Integration"):
                integration = declared[integration_id].get("Properties") or {}
                functions = of_type(integration.get("IntegrationUri"), SERVERLESS_FUNCTION, "AWS::Lambda::Function")
                if not functions:
                    raise TemplateError(f"{route_where}.Target: only Lambda proxy integrations are emulated")
                route_key = resolver.resolve_text(route.get("RouteKey"), f"{route_where}.RouteKey")
                routes.append(WebSocketRoute(route_key, functions[0]))
        stages = [
            resolver.resolve_text(stage.get("StageName"), f"Resources.{stage_id}.Properties.StageName")
            for stage_id, stage in active_of_type("AWS::ApiGatewayV2::Stage")
            if logical_id in _referenced_ids(stage.get("ApiId"))
        ]
        api_id = resolver.resources[logical_id].physical_id
        stage = stages[0] if stages else "$default"
        host = f"{api_id}.execute-api.{region}.{URL_SUFFIX}"
        apis[logical_id] = WebSocketApi(
            logical_id=logical_id,
            api_id=api_id,
            stage=stage,
            route_selection_expression=resolver.resolve_text(
                properties.get("RouteSelectionExpression", "$request.body.action"),
                f"{where}.RouteSelectionExpression",
            ),
            routes=tuple(routes),
            url=f"wss://{host}/{stage}",
            callback_url=f"https://{host}/{stage}",
        )
    return apis


# ---------------------------------------------------------------------------------------------------- outputs


def _outputs(template: dict[str, Any], resolver: _Resolver) -> dict[str, str]:
    outputs: dict[str, str] = {}
    for name, output in (template.get("Outputs") or {}).items():
        condition = output.get("Condition")
        if condition is not None and not resolver.condition(str(condition), f"Outputs.{name}.Condition"):
            continue
        outputs[name] = resolver.resolve_text(output.get("Value"), f"Outputs.{name}.Value")
    return outputs


def _account_id(clients: _Clients) -> str:
    """The emulator's account (moto's default unless its credentials select another)."""
    try:
        return str(clients.get("sts").get_caller_identity()["Account"])
    except ClientError:
        return DEFAULT_ACCOUNT_ID
