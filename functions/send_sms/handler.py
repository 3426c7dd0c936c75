"""Sender: texts from the outbound queue through Twilio, once per outbound id, in order per recipient."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from peerline import composition
from peerline.models import OutboundText
from peerline.observability import make_logger

logger = make_logger()
tracer = Tracer()
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
composition.sender()  # at the cold start: a bad environment fails the init, not the first text


@tracer.capture_method
def handle_outbound(record: SQSRecord) -> None:
    text = OutboundText.model_validate_json(record.body)
    outcome = composition.sender().send_once(text)
    logger.info("outbound handled", outbound_id=text.outbound_id, purpose=text.purpose, result=str(outcome.result))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    composition.sender().once.config.register_lambda_context(context)
    return process_partial_response(event=event, record_handler=handle_outbound, processor=processor, context=context)
