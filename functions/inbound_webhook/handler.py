"""Inbound SMS webhook: refuse what is too large, check Twilio's signature, queue the text once, answer empty TwiML."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from peerline import composition
from peerline.adapters.apigw import twiml_response, webhook_request_from
from peerline.conversation import utc_now
from peerline.inbound import WebhookVerdict, accept_inbound_text, unavailable_reply
from peerline.observability import make_logger
from peerline.webhook_limits import WebhookTooLargeError

logger = make_logger()
tracer = Tracer()
composition.inbound_webhook()  # at the cold start: a bad environment fails the init, not the first text

_STATUS = {
    WebhookVerdict.ACCEPTED: 200,
    WebhookVerdict.FORBIDDEN: 403,
    WebhookVerdict.MALFORMED: 400,
    WebhookVerdict.UNAVAILABLE: 200,  # 200 so that Twilio texts the fallback reply
}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@event_source(data_class=APIGatewayProxyEventV2)
def lambda_handler(event: APIGatewayProxyEventV2, context: LambdaContext) -> dict[str, Any]:
    webhook = composition.inbound_webhook()
    webhook.once.config.register_lambda_context(context)
    try:
        request = webhook_request_from(event, webhook.settings.public_base_url)
    except WebhookTooLargeError as refusal:
        # Lengths only were read: no decoding, parsing or signature check was paid for a body this size.
        logger.warning("inbound webhook refused before parsing", reason=str(refusal))
        return twiml_response(413)
    verdict = accept_inbound_text(
        request,
        checker=webhook.checker(),
        texter_id_for=webhook.texter_id_for,
        vault=webhook.vault,
        queue=webhook.queue,
        now=utc_now(),
    )
    logger.info("inbound webhook answered", verdict=str(verdict))
    if verdict is WebhookVerdict.UNAVAILABLE:
        return twiml_response(_STATUS[verdict], reply=unavailable_reply(webhook.settings.emergency_resources_text))
    return twiml_response(_STATUS[verdict])
