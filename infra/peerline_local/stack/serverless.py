"""The serverless parts the local line emulates rather than creates: functions with their environment, HTTP
routes, authorizers and CORS, SQS sources, WebSocket APIs, and the outputs."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peerline_local.stack.model import (
    DEFAULT_FUNCTION_MEMORY,
    DEFAULT_FUNCTION_TIMEOUT,
    DEFAULT_SQS_BATCH_SIZE,
    IMPLICIT_HTTP_API,
    LOGGER,
    SERVERLESS_FUNCTION,
    SERVERLESS_LAYER,
    SQS_QUEUE,
    URL_SUFFIX,
    CorsConfiguration,
    FunctionSpec,
    HttpRoute,
    JwtAuthorizer,
    ResolvedResource,
    SqsEventSource,
    TemplateError,
    WebSocketApi,
    WebSocketRoute,
)
from peerline_local.stack.resolve import (
    NO_VALUE,
    Resolver,
    get_att_target,
    is_intrinsic,
    referenced_ids,
    resolved_text,
    truthy,
)

# ---------------------------------------------------------------------------------------------------- functions


def function_specs(template: dict[str, Any], resolver: Resolver, template_dir: Path) -> dict[str, FunctionSpec]:
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
    logical_id: str, properties: dict[str, Any], template: dict[str, Any], resolver: Resolver, template_dir: Path
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
            environment[name] = resolved_text(resolved, variable_where)
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
    logical_id: str, properties: dict[str, Any], template: dict[str, Any], resolver: Resolver, where: str
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


def resolve_http_apis(template: dict[str, Any], resolver: Resolver) -> dict[str, _HttpApi]:
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
                issuer=resolved_text(configuration.get("issuer"), f"{authorizer_where}.JwtConfiguration.issuer"),
                audience=tuple(str(item) for item in (audience if isinstance(audience, list) else [audience])),
                identity_source=resolver.resolve_text(
                    definition.get("IdentitySource", "$request.header.Authorization"),
                    f"{authorizer_where}.IdentitySource",
                ),
            )
        apis[api_id] = _HttpApi(authorizers, _cors(properties.get("CorsConfiguration"), resolver, where))
    return apis


def _cors(configuration: Any, resolver: Resolver, where: str) -> CorsConfiguration | None:
    if configuration is None or configuration is False:
        return None
    if configuration is True:  # SAM's shorthand: every origin
        return CorsConfiguration(allow_origins=("*",), allow_headers=("*",), allow_methods=("*",))
    if isinstance(configuration, str) or is_intrinsic(configuration):  # a single allowed origin
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
        allow_credentials=truthy(resolved.get("AllowCredentials")),
    )


def _sqs_source(properties: dict[str, Any], resolver: Resolver, where: str) -> SqsEventSource:
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


def _queue_resource(queue: Any, resolver: Resolver, where: str) -> ResolvedResource:
    """The template queue an event source reads: named by GetAtt X.Arn, or found by the ARN it resolves to."""
    if isinstance(queue, dict) and "Fn::GetAtt" in queue:
        logical_id, _ = get_att_target(queue["Fn::GetAtt"])
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


def resolve_websocket_apis(template: dict[str, Any], resolver: Resolver, region: str) -> dict[str, WebSocketApi]:
    """WebSocket APIs with the function behind each route (found through the route's integration's URI)."""
    declared: dict[str, Any] = template.get("Resources") or {}

    def active_of_type(resource_type: str) -> list[tuple[str, dict[str, Any]]]:
        return [
            (logical_id, definition.get("Properties") or {})
            for logical_id, definition in declared.items()
            if definition.get("Type") == resource_type and resolver.resource_is_active(logical_id)
        ]

    def of_type(value: Any, *types: str) -> list[str]:
        return [ref for ref in referenced_ids(value) if (declared.get(ref) or {}).get("Type") in types]

    apis: dict[str, WebSocketApi] = {}
    for logical_id, properties in active_of_type("AWS::ApiGatewayV2::Api"):
        where = f"Resources.{logical_id}.Properties"
        if resolver.resolve_text(properties.get("ProtocolType", ""), f"{where}.ProtocolType") != "WEBSOCKET":
            continue
        routes: list[WebSocketRoute] = []
        for route_id, route in active_of_type("AWS::ApiGatewayV2::Route"):
            if logical_id not in referenced_ids(route.get("ApiId")):
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
            if logical_id in referenced_ids(stage.get("ApiId"))
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


def outputs_of(template: dict[str, Any], resolver: Resolver) -> dict[str, str]:
    outputs: dict[str, str] = {}
    for name, output in (template.get("Outputs") or {}).items():
        condition = output.get("Condition")
        if condition is not None and not resolver.condition(str(condition), f"Outputs.{name}.Condition"):
            continue
        outputs[name] = resolver.resolve_text(output.get("Value"), f"Outputs.{name}.Value")
    return outputs
