"""Conversation engine: each texter's texts, in order (one FIFO group per texter), through the state machine."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from peerline import composition
from peerline.models import InboundText
from peerline.observability import make_logger

logger = make_logger()
tracer = Tracer()
# A failing text holds back only its own texter's later texts (order), never another texter's.
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
composition.conversation_engine()  # at the cold start: a bad environment fails the init, not the first text


@tracer.capture_method
def handle_text(record: SQSRecord) -> None:
    text = InboundText.model_validate_json(record.body)
    outcome = composition.conversation_engine().engine.handle_text(text)
    # No texter id, not even a prefix: logs outlive an erasure (LogRetentionDays); the MessageSid is enough to trace.
    logger.info("text handled", message_sid=text.message_sid, outcome=str(outcome))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=handle_text, processor=processor, context=context)
