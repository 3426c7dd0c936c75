"""Provision the resources of a SAM template on a local AWS emulator (moto in server mode).

`template.yaml` is the single source of truth: the local line creates its tables, queues, keys, secrets, topics and
user pools by reading the template, never from a second list that could drift from what `sam deploy` creates.
Resources the local line emulates itself (functions, HTTP APIs, layers, IAM, alarms, log groups) are not created, but
they still get plausible physical ids so that every `Ref`, `Fn::GetAtt` and `Fn::Sub` in the template resolves.
"""

from __future__ import annotations

from pathlib import Path

import boto3

from peerline_local.stack.build import AwsClients, ResourceBuilder, account_id_of, creation_order
from peerline_local.stack.model import (
    CorsConfiguration,
    FunctionSpec,
    HttpRoute,
    JwtAuthorizer,
    LocalStack,
    ResolvedResource,
    SqsEventSource,
    TemplateError,
    WebSocketApi,
    WebSocketRoute,
)
from peerline_local.stack.resolve import Resolver, load_template, parameter_values, pseudo_parameters
from peerline_local.stack.serverless import function_specs, outputs_of, resolve_http_apis, resolve_websocket_apis

__all__ = [
    "CorsConfiguration",
    "FunctionSpec",
    "HttpRoute",
    "JwtAuthorizer",
    "LocalStack",
    "ResolvedResource",
    "SqsEventSource",
    "TemplateError",
    "WebSocketApi",
    "WebSocketRoute",
    "load_template",
    "provision",
]


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
    clients = AwsClients(session, endpoint_url)
    account_id = account_id_of(clients)
    resolver = Resolver(
        template,
        parameter_values=parameter_values(template, parameters),
        pseudo_parameters=pseudo_parameters(stack_name, region, account_id),
    )
    builder = ResourceBuilder(clients, resolver, stack_name=stack_name, region=region, account_id=account_id)
    resolver.resources.update(builder.sam_function_roles(template))
    for logical_id in creation_order(template, resolver):
        resolver.resources[logical_id] = builder.build(logical_id, template["Resources"][logical_id])

    functions = function_specs(template, resolver, template_path.parent)
    http_apis = resolve_http_apis(template, resolver)
    return LocalStack(
        stack_name=stack_name,
        region=region,
        account_id=account_id,
        resources=dict(resolver.resources),
        functions=functions,
        http_routes=[route for spec in functions.values() for route in spec.http_routes],
        outputs=outputs_of(template, resolver),
        endpoint_url=endpoint_url,
        http_authorizers={
            name: authorizer for api in http_apis.values() for name, authorizer in api.authorizers.items()
        },
        http_cors=next((api.cors for api in http_apis.values() if api.cors is not None), None),
        websocket_apis=resolve_websocket_apis(template, resolver, region),
    )
