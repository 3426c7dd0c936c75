"""Dashboard socket: $connect admits an active volunteer's token, $disconnect forgets the connection, $default pings."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.utilities.data_classes import APIGatewayWebSocketEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from peerline import composition
from peerline.observability import make_logger
from peerline.ports import utc_now
from peerline.push import SocketRefusedError

logger = make_logger()
tracer = Tracer()
composition.dashboard_socket()  # at the cold start: a bad environment fails the init, not the first connection


def connect(event: APIGatewayWebSocketEvent) -> dict[str, Any]:
    token = (event.query_string_parameters or {}).get("token")
    connection_id = event.request_context.connection_id
    try:
        connection = composition.dashboard_socket().connect(connection_id, token, utc_now())
    except SocketRefusedError as refused:
        logger.info("dashboard connection refused", status=refused.status, reason=refused.reason)
        return {"statusCode": refused.status, "body": "Unauthorized" if refused.status == 401 else "Forbidden"}
    logger.info("dashboard connected", volunteer_id=connection.volunteer_id, supervisor=connection.is_supervisor)
    return {"statusCode": 200}


def disconnect(event: APIGatewayWebSocketEvent) -> dict[str, Any]:
    composition.dashboard_socket().disconnect(event.request_context.connection_id)
    return {"statusCode": 200}


def message(event: APIGatewayWebSocketEvent) -> dict[str, Any]:
    # {"action": "ping"} keeps an idle connection open (API Gateway drops it after 10 idle minutes); the
    # dashboard sends nothing else, and events only flow from the line to the dashboard.
    return {"statusCode": 200}


ROUTES = {"$connect": connect, "$disconnect": disconnect}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@event_source(data_class=APIGatewayWebSocketEvent)
def lambda_handler(event: APIGatewayWebSocketEvent, context: LambdaContext) -> dict[str, Any]:
    return ROUTES.get(event.request_context.route_key, message)(event)
