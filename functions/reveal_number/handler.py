"""Reveal a texter's number: a supervisor, a rescue under way, audited before decryption (revealTexterNumber)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.utilities.typing import LambdaContext

from peerline import composition
from peerline.observability import make_logger
from peerline.reveal_api import reveal_router

logger = make_logger()
tracer = Tracer()
app = APIGatewayHttpResolver(enable_validation=True)
app.include_router(reveal_router())
composition.reveal_number()  # at the cold start: a bad environment fails the init, not the first request


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
