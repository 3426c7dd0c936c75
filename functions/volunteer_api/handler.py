"""Volunteer API: availability, offers, take next, transcript and replies, transfer, close (OpenAPI at /openapi.json)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.utilities.typing import LambdaContext

from peerline import composition
from peerline.api_models import (
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
    RevealedNumber,
    RevealRequest,
    SendMessageRequest,
    SettingsRequest,
    TexterBlock,
    TexterBlockRequest,
    TexterUnblockRequest,
    TransferRequest,
)
from peerline.library import Library
from peerline.models import VolunteerStatus
from peerline.observability import make_logger
from peerline.phone import texter_alias
from peerline.routing import ConflictError, NotEligibleError, NotFoundError
from peerline.volunteer_desk import AccessDeniedError, VolunteerDesk

logger = make_logger()
tracer = Tracer()
app = APIGatewayHttpResolver(enable_validation=True)
composition.volunteer_api()  # at the cold start: a bad environment fails the init, not the first request

ConversationId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
EscalationId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
# The four characters of an alias ("Texter 4F2A" → "4F2A"): supervisors act on a texter by alias, never by number.
AliasCode = Annotated[str, Path(min_length=4, max_length=4, pattern=r"^[0-9A-Fa-f]{4}$")]
_PROBLEM = {
    "content": {
        "application/json": {
            "schema": {"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]}
        }
    }
}
_SUPERVISOR_BY_ALIAS: dict[int, Any] = {
    403: {"description": "Not an active supervisor", **_PROBLEM},
    404: {"description": "No texter with this alias", **_PROBLEM},
    409: {"description": "The alias names several texters, or the texter kept changing", **_PROBLEM},
    422: {"description": "Invalid alias or body", **_PROBLEM},
}


def desk() -> VolunteerDesk:
    return composition.volunteer_api().desk


def subject() -> str | None:
    """The caller's Cognito ``sub`` (API Gateway verified the token; the desk decides what they may do)."""
    sub = app.current_event.request_context.authorizer.jwt_claim.get("sub")
    return str(sub) if sub else None


@app.get("/volunteer/me", operation_id="getMe")
def get_me() -> Me:
    return desk().me(subject())


@app.put("/volunteer/me/availability", operation_id="setAvailability")
def set_availability(request: AvailabilityRequest) -> Me:
    return desk().set_availability(subject(), VolunteerStatus(request.status))


@app.put("/volunteer/me/settings", operation_id="updateSettings")
def update_settings(request: SettingsRequest) -> Me:
    return desk().set_offers_during_crisis(subject(), request.offers_during_crisis)


@app.get("/volunteer/conversations", operation_id="listConversations")
def list_conversations() -> ConversationList:
    return ConversationList(conversations=desk().conversations(subject()))


@app.post("/volunteer/conversations/take-next", operation_id="takeNext")
def take_next() -> ConversationSummary:
    return desk().take_next(subject())


@app.post("/volunteer/conversations/<conversation_id>/accept", operation_id="acceptConversation")
def accept_conversation(conversation_id: ConversationId) -> ConversationSummary:
    return desk().accept(subject(), conversation_id)


@app.post("/volunteer/conversations/<conversation_id>/decline", operation_id="declineConversation")
def decline_conversation(conversation_id: ConversationId) -> Response[None]:
    desk().decline(subject(), conversation_id)
    return Response(204, content_types.APPLICATION_JSON, None)


@app.get("/volunteer/conversations/<conversation_id>/messages", operation_id="listMessages")
def list_messages(conversation_id: ConversationId) -> MessageList:
    return MessageList(messages=[MessageOut.of(message) for message in desk().messages(subject(), conversation_id)])


@app.post("/volunteer/conversations/<conversation_id>/messages", operation_id="sendMessage")
def send_message(conversation_id: ConversationId, request: SendMessageRequest) -> MessageOut:
    return MessageOut.of(desk().send_reply(subject(), conversation_id, request.body))


@app.post("/volunteer/conversations/<conversation_id>/transfer", operation_id="transferConversation")
def transfer_conversation(conversation_id: ConversationId, request: TransferRequest) -> ConversationSummary:
    return desk().transfer(subject(), conversation_id, request.to)


@app.get("/volunteer/conversations/<conversation_id>/transfer-candidates", operation_id="listTransferCandidates")
def list_transfer_candidates(conversation_id: ConversationId) -> ColleagueList:
    candidates = desk().transfer_candidates(subject(), conversation_id)
    return ColleagueList(volunteers=[Colleague.of(volunteer) for volunteer in candidates])


@app.post("/volunteer/conversations/<conversation_id>/assign", operation_id="assignConversation")
def assign_conversation(conversation_id: ConversationId, request: AssignRequest) -> ConversationSummary:
    return desk().assign(subject(), conversation_id, request.to)


@app.post("/volunteer/conversations/<conversation_id>/close", operation_id="closeConversation")
def close_conversation(conversation_id: ConversationId, request: CloseRequest) -> Response[None]:
    desk().close(subject(), conversation_id, outcome=request.outcome, tags=request.tags)
    return Response(204, content_types.APPLICATION_JSON, None)


@app.post("/volunteer/conversations/<conversation_id>/escalate", operation_id="escalateConversation")
def escalate_conversation(conversation_id: ConversationId) -> EscalationSummary:
    return desk().escalate(subject(), conversation_id)


@app.get("/volunteer/escalations", operation_id="listEscalations")
def list_escalations() -> EscalationList:
    return EscalationList(escalations=desk().escalations(subject()))


@app.post("/volunteer/escalations/<escalation_id>/acknowledge", operation_id="acknowledgeEscalation")
def acknowledge_escalation(escalation_id: EscalationId) -> EscalationSummary:
    return desk().acknowledge(subject(), escalation_id)


@app.post("/volunteer/escalations/<escalation_id>/reveal", operation_id="revealTexterNumber")
def reveal_texter_number(escalation_id: EscalationId, request: RevealRequest) -> RevealedNumber:
    return desk().reveal_number(subject(), escalation_id, reason=request.reason)


@app.post(
    "/volunteer/texters/<alias>/erase",
    operation_id="eraseTexter",
    responses={204: {"description": "Erased"}, **_SUPERVISOR_BY_ALIAS},
)
def erase_texter(alias: AliasCode) -> Response[None]:
    desk().erase_texter(subject(), texter_alias(alias))
    return Response(204, content_types.APPLICATION_JSON, None)


_BLOCK_STATE: dict[int, Any] = {
    200: {"description": "The texter's block now", "content": {"application/json": {"model": TexterBlock}}},
    **_SUPERVISOR_BY_ALIAS,
}


@app.post("/volunteer/texters/<alias>/block", operation_id="blockTexter", responses=_BLOCK_STATE)
def block_texter(alias: AliasCode, request: TexterBlockRequest) -> TexterBlock:
    block = desk().block_texter(subject(), texter_alias(alias), reason=request.reason, hours=request.hours)
    return TexterBlock(texter_alias=block.alias, blocked_until=block.blocked_until)


@app.post("/volunteer/texters/<alias>/unblock", operation_id="unblockTexter", responses=_BLOCK_STATE)
def unblock_texter(alias: AliasCode, request: TexterUnblockRequest) -> TexterBlock:
    block = desk().unblock_texter(subject(), texter_alias(alias), reason=request.reason)
    return TexterBlock(texter_alias=block.alias, blocked_until=block.blocked_until)


@app.get("/volunteer/line", operation_id="getLine")
def get_line() -> LineOverview:
    return desk().line(subject())


@app.get("/volunteer/library", operation_id="getLibrary")
def get_library() -> Library:
    return desk().library(subject())


@app.put("/volunteer/library", operation_id="updateLibrary")
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
    )


@app.get("/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    return Response(200, content_types.APPLICATION_JSON, app.get_openapi_json_schema(title="Peerline volunteer API"))


def _problem(status: int, message: str) -> Response[dict[str, str]]:
    return Response(status, content_types.APPLICATION_JSON, {"message": message})


# The one mapping from the domain's refusals to HTTP statuses (a subclass maps like its base).
_STATUS_OF: dict[type[Exception], int] = {
    AccessDeniedError: 403,  # not an active volunteer, or supervisors only
    NotEligibleError: 403,
    NotFoundError: 404,  # also what a volunteer sees for a conversation that isn't theirs
    ConflictError: 409,
}


@app.exception_handler(list(_STATUS_OF))
def refused(error: Exception) -> Response[dict[str, str]]:
    status = next(code for kind, code in _STATUS_OF.items() if isinstance(error, kind))
    return _problem(status, str(error))


@app.exception_handler(UnicodeDecodeError)
def undecodable_body(error: UnicodeDecodeError) -> Response[dict[str, str]]:
    return _problem(422, "invalid request — the body must be UTF-8 JSON")


@app.exception_handler(RequestValidationError)
def invalid_request(error: RequestValidationError) -> Response[dict[str, Any]]:
    # Readable: where and what, without echoing the submitted values (a reply may hold a texter's words).
    details = [
        {"where": ".".join(str(part) for part in issue.get("loc", [])), "problem": issue.get("msg", "invalid")}
        for issue in error.errors()
    ]
    summary = "; ".join(f"{detail['where']}: {detail['problem']}" for detail in details)
    return Response(
        422, content_types.APPLICATION_JSON, {"message": f"invalid request — {summary}", "details": details}
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
