"""What provisioning a template gives the local line: resources with physical ids, functions, routes, APIs."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

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
