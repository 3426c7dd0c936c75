"""Twilio's fallback URL: whatever failed at the inbound webhook, the texter is texted the emergency fallback reply."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from peerline.adapters.apigw import refuse_oversized_webhook, twiml_response
from peerline.inbound import unavailable_reply
from peerline.observability import make_logger
from peerline.settings import FallbackReplySettings
from peerline.webhook_limits import WebhookTooLargeError

logger = make_logger()
tracer = Tracer()
# At the cold start, and nothing else: no secret, no key, no table, so that this still answers when those failed.
settings = FallbackReplySettings.from_env()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@event_source(data_class=APIGatewayProxyEventV2)
def lambda_handler(event: APIGatewayProxyEventV2, context: LambdaContext) -> dict[str, Any]:
    # No signature check: the reply is the same public text for anyone, and checking would need the Twilio secret,
    # which may be what failed. The size limit still holds, so a forgery costs no more here than at the webhook.
    try:
        refuse_oversized_webhook(event)
    except WebhookTooLargeError as refusal:
        logger.warning("fallback webhook refused before parsing", reason=str(refusal))
        return twiml_response(413)
    # Twilio calls this only when the inbound webhook failed or timed out: worth an operator's attention.
    logger.warning("twilio called the fallback url: the inbound webhook failed")
    return twiml_response(200, reply=unavailable_reply(settings.emergency_resources_text))
