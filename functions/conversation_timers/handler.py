"""Conversation timers: consent timeout, still waiting, offer expiry, inactivity; stale timers do nothing. Also a
volunteer's deactivation or role change (``peerline.access``): their sockets closed, their conversations moved on."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from peerline import composition
from peerline.conversation import utc_now
from peerline.models import ConversationTimer
from peerline.observability import make_logger
from peerline.timers import fire_timer

logger = make_logger()
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.SQS)
composition.conversation_timers()  # at the cold start: a bad environment fails the init, not the first timer


@tracer.capture_method
def handle_timer(record: SQSRecord) -> None:
    timer = ConversationTimer.model_validate_json(record.body)
    ports = composition.conversation_timers()
    outcome = fire_timer(
        timer,
        engine=ports.engine,
        router=ports.router,
        escalations=ports.escalations,
        timers=ports.timers,
        sessions=ports.sessions,
        now=utc_now(),
    )
    logger.info(
        "timer handled",
        timer_kind=str(timer.kind),
        conversation_id=timer.conversation_id,
        volunteer_id=timer.volunteer_id,  # whose access changed, for an access job
        outcome=str(outcome),
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=handle_timer, processor=processor, context=context)
