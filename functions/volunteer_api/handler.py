"""Volunteer API: availability, offers, take next, transcript and replies, transfer, close (OpenAPI at /openapi.json)."""

from __future__ import annotations

import functools
import json
import re
from typing import Annotated, Any

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from peerline import composition
from peerline.api_errors import answers
from peerline.api_models import (
    CURSOR_PATTERN,
    DEFAULT_MESSAGE_PAGE,
    MAX_MESSAGE_PAGE,
    AssignRequest,
    AvailabilityRequest,
    CloseRequest,
    Colleague,
    ColleagueList,
    ConversationList,
    ConversationSummary,
    DashboardConfig,
    EscalationList,
    EscalationSummary,
    LineOverview,
    Me,
    MessageList,
    MessageOut,
    SendMessageRequest,
    SettingsRequest,
    TexterBlock,
    TexterBlockRequest,
    TexterEraseRequest,
    TexterUnblockRequest,
    TransferRequest,
    message_key_of,
)
from peerline.api_refusals import answer_refusals, problem
from peerline.library import Library
from peerline.models import VolunteerStatus
from peerline.observability import make_logger
from peerline.phone import texter_alias
from peerline.reveal_api import with_reveal_operation
from peerline.routing import ConflictError, NotEligibleError, NotFoundError
from peerline.volunteer_desk import AccessDeniedError, VolunteerDesk
from peerline.wrap_up import UnknownChoiceError

logger = make_logger()
tracer = Tracer()
app = APIGatewayHttpResolver(enable_validation=True)
composition.volunteer_api()  # at the cold start: a bad environment fails the init, not the first request

ConversationId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
EscalationId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
# The four characters of an alias ("Texter 4F2A" → "4F2A"): supervisors act on a texter by alias, never by number.
AliasCode = Annotated[str, Path(min_length=4, max_length=4, pattern=r"^[0-9A-Fa-f]{4}$")]


def desk() -> VolunteerDesk:
    return composition.volunteer_api().desk


def subject() -> str | None:
    """The caller's Cognito ``sub`` (API Gateway verified the token; the desk decides what they may do)."""
    sub = app.current_event.request_context.authorizer.jwt_claim.get("sub")
    return str(sub) if sub else None


@app.get("/volunteer/me", operation_id="getMe", responses=answers(403))
def get_me() -> Me:
    return desk().me(subject())


@app.put("/volunteer/me/availability", operation_id="setAvailability", responses=answers(403, 415))
def set_availability(request: AvailabilityRequest) -> Me:
    return desk().set_availability(subject(), VolunteerStatus(request.status))


@app.put("/volunteer/me/settings", operation_id="updateSettings", responses=answers(403, 415))
def update_settings(request: SettingsRequest) -> Me:
    return desk().set_offers_during_crisis(subject(), request.offers_during_crisis)


@app.get("/volunteer/conversations", operation_id="listConversations", responses=answers(403))
def list_conversations() -> ConversationList:
    return ConversationList(conversations=desk().conversations(subject()))


@app.post("/volunteer/conversations/take-next", operation_id="takeNext", responses=answers(403, 404, 409))
def take_next() -> ConversationSummary:
    return desk().take_next(subject())


@app.post(
    "/volunteer/conversations/<conversation_id>/accept",
    operation_id="acceptConversation",
    responses=answers(403, 404, 409),
)
def accept_conversation(conversation_id: ConversationId) -> ConversationSummary:
    return desk().accept(subject(), conversation_id)


@app.post(
    "/volunteer/conversations/<conversation_id>/decline",
    operation_id="declineConversation",
    responses=answers(403, 404, 409, success=204, description="Declined: offered to the next volunteer"),
)
def decline_conversation(conversation_id: ConversationId) -> Response[None]:
    desk().decline(subject(), conversation_id)
    return Response(204, content_types.APPLICATION_JSON, None)


@app.get(
    "/volunteer/conversations/<conversation_id>/messages", operation_id="listMessages", responses=answers(403, 404)
)
def list_messages(
    conversation_id: ConversationId,
    limit: Annotated[int, Query(ge=1, le=MAX_MESSAGE_PAGE, description="How many messages at most")] = (
        DEFAULT_MESSAGE_PAGE
    ),
    cursor: Annotated[
        str | None, Query(pattern=CURSOR_PATTERN, description="A `next_cursor`: the messages before that page")
    ] = None,
) -> MessageList:
    before = message_key_of(cursor) if cursor else None
    if cursor and before is None:
        raise RequestValidationError(
            [{"loc": ("query", "cursor"), "msg": "not a cursor this API gave", "type": "value_error"}]
        )
    return MessageList.of(desk().messages(subject(), conversation_id, limit=limit, before=before))


@app.post(
    "/volunteer/conversations/<conversation_id>/messages",
    operation_id="sendMessage",
    responses=answers(403, 404, 409, 415),
)
def send_message(conversation_id: ConversationId, request: SendMessageRequest) -> MessageOut:
    return MessageOut.of(desk().send_reply(subject(), conversation_id, request.body))


@app.post(
    "/volunteer/conversations/<conversation_id>/transfer",
    operation_id="transferConversation",
    responses=answers(403, 404, 409, 415),
)
def transfer_conversation(conversation_id: ConversationId, request: TransferRequest) -> ConversationSummary:
    return desk().transfer(subject(), conversation_id, request.to)


@app.get(
    "/volunteer/conversations/<conversation_id>/transfer-candidates",
    operation_id="listTransferCandidates",
    responses=answers(403, 404),
)
def list_transfer_candidates(conversation_id: ConversationId) -> ColleagueList:
    candidates = desk().transfer_candidates(subject(), conversation_id)
    return ColleagueList(volunteers=[Colleague.of(volunteer) for volunteer in candidates])


@app.post(
    "/volunteer/conversations/<conversation_id>/assign",
    operation_id="assignConversation",
    responses=answers(403, 404, 409, 415),
)
def assign_conversation(conversation_id: ConversationId, request: AssignRequest) -> ConversationSummary:
    return desk().assign(subject(), conversation_id, request.to)


@app.post(
    "/volunteer/conversations/<conversation_id>/close",
    operation_id="closeConversation",
    responses=answers(403, 404, 409, 415, success=204, description="Closed: the closing text is on its way"),
)
def close_conversation(conversation_id: ConversationId, request: CloseRequest) -> Response[None]:
    desk().close(subject(), conversation_id, outcome=request.outcome, tags=request.tags)
    return Response(204, content_types.APPLICATION_JSON, None)


@app.post(
    "/volunteer/conversations/<conversation_id>/escalate",
    operation_id="escalateConversation",
    responses=answers(403, 404, 409),
)
def escalate_conversation(conversation_id: ConversationId) -> EscalationSummary:
    return desk().escalate(subject(), conversation_id)


@app.get("/volunteer/escalations", operation_id="listEscalations", responses=answers(403))
def list_escalations() -> EscalationList:
    return EscalationList(escalations=desk().escalations(subject()))


@app.post(
    "/volunteer/escalations/<escalation_id>/acknowledge",
    operation_id="acknowledgeEscalation",
    responses=answers(403, 404),
)
def acknowledge_escalation(escalation_id: EscalationId) -> EscalationSummary:
    return desk().acknowledge(subject(), escalation_id)


@app.post(
    "/volunteer/texters/<alias>/erase",
    operation_id="eraseTexter",
    responses=answers(403, 404, 409, 415, success=204, description="Erased"),
)
def erase_texter(alias: AliasCode, request: TexterEraseRequest) -> Response[None]:
    desk().erase_texter(subject(), texter_alias(alias), reason=request.reason)
    return Response(204, content_types.APPLICATION_JSON, None)


@app.post("/volunteer/texters/<alias>/block", operation_id="blockTexter", responses=answers(403, 404, 409, 415))
def block_texter(alias: AliasCode, request: TexterBlockRequest) -> TexterBlock:
    block = desk().block_texter(subject(), texter_alias(alias), reason=request.reason, hours=request.hours)
    return TexterBlock(texter_alias=block.alias, blocked_until=block.blocked_until)


@app.post("/volunteer/texters/<alias>/unblock", operation_id="unblockTexter", responses=answers(403, 404, 409, 415))
def unblock_texter(alias: AliasCode, request: TexterUnblockRequest) -> TexterBlock:
    block = desk().unblock_texter(subject(), texter_alias(alias), reason=request.reason)
    return TexterBlock(texter_alias=block.alias, blocked_until=block.blocked_until)


@app.get("/volunteer/line", operation_id="getLine", responses=answers(403))
def get_line() -> LineOverview:
    return desk().line(subject())


@app.get("/volunteer/library", operation_id="getLibrary", responses=answers(403))
def get_library() -> Library:
    return desk().library(subject())


@app.put("/volunteer/library", operation_id="updateLibrary", responses=answers(403, 415))
def update_library(library: Library) -> Library:
    return desk().update_library(subject(), library)


@app.get("/config.json", include_in_schema=False)
def dashboard_config() -> DashboardConfig:
    settings = composition.volunteer_api().settings
    base = settings.public_base_url.rstrip("/") or f"https://{app.current_event.request_context.domain_name}"
    return DashboardConfig(
        apiUrl=base,
        socketUrl=settings.dashboard_socket_url,
        region=settings.aws_region,
        userPoolId=settings.user_pool_id,
        userPoolClientId=settings.user_pool_client_id,
        cognitoEndpoint=settings.aws_endpoint_url or f"https://cognito-idp.{settings.aws_region}.amazonaws.com/",
        sessionOutcomes=list(desk().wrap_up.outcomes),
        sessionTags=list(desk().wrap_up.tags),
    )


@app.get("/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    return Response(200, content_types.APPLICATION_JSON, openapi_json())


@functools.cache
def openapi_json() -> str:
    # Every operation needs a volunteer's Cognito access token (API Gateway's JWT authorizer checks it).
    # revealTexterNumber is served by RevealNumberFunction (the only one of the API that may decrypt), yet documented
    # here with the rest, as one API.
    return with_reveal_operation(
        app.get_openapi_json_schema(
            title="Peerline volunteer API",
            security_schemes={"volunteerToken": HTTPBearer(bearerFormat="JWT")},
            security=[{"volunteerToken": []}],
        )
    )


@functools.cache
def _operation_paths() -> list[tuple[re.Pattern[str], frozenset[str]]]:
    """Each documented path as a pattern (``{conversation_id}`` is one segment), with its methods."""
    paths: dict[str, dict[str, Any]] = json.loads(openapi_json())["paths"]
    return [
        (
            re.compile("/".join("[^/]+" if part.startswith("{") else re.escape(part) for part in path.split("/"))),
            frozenset(method.upper() for method in operations),
        )
        for path, operations in paths.items()
    ]


@app.not_found
def no_route(error: Exception) -> Response[dict[str, Any]]:
    """405 with ``Allow`` for a path the API has under other methods (RFC 9110), else 404."""
    path = app.current_event.path
    allowed = sorted(set().union(*(methods for pattern, methods in _operation_paths() if pattern.fullmatch(path))))
    if allowed:
        return problem(405, "method not allowed", headers={"Allow": ", ".join(allowed)})
    return problem(404, "not found")


# The one mapping from the domain's refusals to HTTP statuses (a subclass maps like its base).
_STATUS_OF: dict[type[Exception], int] = {
    AccessDeniedError: 403,  # not an active volunteer, or supervisors only
    NotEligibleError: 403,
    NotFoundError: 404,  # also what a volunteer sees for a conversation that isn't theirs
    ConflictError: 409,
    UnknownChoiceError: 422,  # a wrap-up outcome or tag that isn't on the line's lists
}


answer_refusals(app, _STATUS_OF)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
