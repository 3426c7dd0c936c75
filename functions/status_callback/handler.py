"""Status callback: check Twilio's signature and record delivery status, ignoring out-of-order regressions."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from peerline import composition
from peerline.adapters.apigw import twiml_response, webhook_request_from
from peerline.delivery import StatusReport, record_delivery_status
from peerline.observability import make_logger

logger = make_logger()
tracer = Tracer()
composition.status_callback()  # at the cold start: a bad environment fails the init, not the first callback


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@event_source(data_class=APIGatewayProxyEventV2)
def lambda_handler(event: APIGatewayProxyEventV2, context: LambdaContext) -> dict[str, Any]:
    ports = composition.status_callback()
    request = webhook_request_from(event, ports.settings.public_base_url)
    if not ports.checker().is_valid(request.url, request.form or {}, request.signature):
        return twiml_response(403)
    report = StatusReport.from_form(request.form or {})
    if report is None:
        return twiml_response(400)
    recorded = record_delivery_status(report, log=ports.log)
    logger.info("delivery status", message_sid=report.message_sid, status=report.status, recorded=recorded)
    return twiml_response(200)
