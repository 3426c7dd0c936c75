"""Eraser: deletes each message (and its media) from Twilio once its conversation has closed; re-queues the rest."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from peerline import composition
from peerline.observability import make_logger
from peerline.twilio_erasure import MessageErasure

logger = make_logger()
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.SQS)
composition.eraser()  # at the cold start: a bad environment fails the init, not the first job


@tracer.capture_method
def handle_erasure(record: SQSRecord) -> None:
    job = MessageErasure.model_validate_json(record.body)
    outcome = composition.eraser().erase(job)
    logger.info("erasure handled", message_sid=job.message_sid, outcome=outcome)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=handle_erasure, processor=processor, context=context)
