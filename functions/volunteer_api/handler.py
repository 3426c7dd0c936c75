"""Volunteer API: availability, offers, take next, transcript and replies, transfer, close (OpenAPI at /openapi.json)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import ForbiddenError
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
    TransferRequest,
)
from peerline.conversation import utc_now
from peerline.library import Library
from peerline.models import VolunteerRecord, VolunteerStatus
from peerline.observability import make_logger
from peerline.overview import line_overview
from peerline.routing import ConflictError, NotEligibleError, NotFoundError
from peerline.settings import DashboardSettings

logger = make_logger()
tracer = Tracer()
app = APIGatewayHttpResolver(enable_validation=True)

ConversationId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
EscalationId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def caller() -> VolunteerRecord:
    """The signed-in volunteer (API Gateway verified the token; the registry decides what they may do)."""
    subject = app.current_event.request_context.authorizer.jwt_claim.get("sub")
    volunteer = composition.conversation_repository().get_volunteer(str(subject)) if subject else None
    if volunteer is None or not volunteer.active:
        raise ForbiddenError("not an active volunteer")
    return volunteer


def supervisor() -> VolunteerRecord:
    """The caller, who must be a supervisor (on-call professionals are supervisors)."""
    volunteer = caller()
    if not volunteer.is_supervisor:
        raise ForbiddenError("supervisors only")
    return volunteer


@app.get("/volunteer/me", operation_id="getMe")
def get_me() -> Me:
    volunteer = caller()
    return Me.of(volunteer, holding_crisis=composition.router().holds_crisis(volunteer))


@app.put("/volunteer/me/availability", operation_id="setAvailability")
def set_availability(request: AvailabilityRequest) -> Me:
    router = composition.router()
    volunteer = router.set_availability(caller().volunteer_id, VolunteerStatus(request.status))
    return Me.of(volunteer, holding_crisis=router.holds_crisis(volunteer))


@app.put("/volunteer/me/settings", operation_id="updateSettings")
def update_settings(request: SettingsRequest) -> Me:
    router = composition.router()
    volunteer = router.set_offers_during_crisis(caller().volunteer_id, request.offers_during_crisis)
    return Me.of(volunteer, holding_crisis=router.holds_crisis(volunteer))


@app.get("/volunteer/conversations", operation_id="listConversations")
def list_conversations() -> ConversationList:
    router = composition.router()
    return ConversationList(conversations=router.views.summaries(router.visible_conversations(caller())))


@app.post("/volunteer/conversations/take-next", operation_id="takeNext")
def take_next() -> ConversationSummary:
    router = composition.router()
    return router.views.summary(router.take_next(caller().volunteer_id))


@app.post("/volunteer/conversations/<conversation_id>/accept", operation_id="acceptConversation")
def accept_conversation(conversation_id: ConversationId) -> ConversationSummary:
    router = composition.router()
    return router.views.summary(router.accept(caller().volunteer_id, conversation_id))


@app.post("/volunteer/conversations/<conversation_id>/decline", operation_id="declineConversation")
def decline_conversation(conversation_id: ConversationId) -> Response[None]:
    composition.router().decline(caller().volunteer_id, conversation_id)
    return Response(204, content_types.APPLICATION_JSON, None)


@app.get("/volunteer/conversations/<conversation_id>/messages", operation_id="listMessages")
def list_messages(conversation_id: ConversationId) -> MessageList:
    messages = composition.router().messages(caller(), conversation_id)
    return MessageList(messages=[MessageOut.of(message) for message in messages])


@app.post("/volunteer/conversations/<conversation_id>/messages", operation_id="sendMessage")
def send_message(conversation_id: ConversationId, request: SendMessageRequest) -> MessageOut:
    return MessageOut.of(composition.router().send_reply(caller().volunteer_id, conversation_id, request.body))


@app.post("/volunteer/conversations/<conversation_id>/transfer", operation_id="transferConversation")
def transfer_conversation(conversation_id: ConversationId, request: TransferRequest) -> ConversationSummary:
    router = composition.router()
    return router.views.summary(router.transfer(caller(), conversation_id, request.to))


@app.get("/volunteer/conversations/<conversation_id>/transfer-candidates", operation_id="listTransferCandidates")
def list_transfer_candidates(conversation_id: ConversationId) -> ColleagueList:
    candidates = composition.router().transfer_candidates(caller(), conversation_id)
    return ColleagueList(volunteers=[Colleague.of(volunteer) for volunteer in candidates])


@app.post("/volunteer/conversations/<conversation_id>/assign", operation_id="assignConversation")
def assign_conversation(conversation_id: ConversationId, request: AssignRequest) -> ConversationSummary:
    router = composition.router()
    return router.views.summary(router.assign(supervisor(), conversation_id, request.to))


@app.post("/volunteer/conversations/<conversation_id>/close", operation_id="closeConversation")
def close_conversation(conversation_id: ConversationId, request: CloseRequest) -> Response[None]:
    composition.router().close(caller(), conversation_id, outcome=request.outcome, tags=request.tags)
    return Response(204, content_types.APPLICATION_JSON, None)


@app.post("/volunteer/conversations/<conversation_id>/escalate", operation_id="escalateConversation")
def escalate_conversation(conversation_id: ConversationId) -> EscalationSummary:
    escalated = composition.router().escalate(caller(), conversation_id)
    return EscalationSummary.of(escalated.escalation).model_copy(
        update={"outcome": escalated.outcome, "message": escalated.message}
    )


@app.get("/volunteer/escalations", operation_id="listEscalations")
def list_escalations() -> EscalationList:
    supervisor()
    open_conversations = composition.conversation_repository().open_conversations()
    escalations = composition.crisis_desk().service.shown_with(open_conversations)
    return EscalationList(escalations=[EscalationSummary.of(escalation) for escalation in escalations])


@app.post("/volunteer/escalations/<escalation_id>/acknowledge", operation_id="acknowledgeEscalation")
def acknowledge_escalation(escalation_id: EscalationId) -> EscalationSummary:
    who = supervisor()
    acknowledgement = composition.crisis_desk().service.acknowledge(
        escalation_id, actor=f"supervisor:{who.display_name}"
    )
    if acknowledgement is None:
        raise NotFoundError("no such escalation")
    return EscalationSummary.of(acknowledgement.escalation).model_copy(
        update={"already_acknowledged": acknowledgement.already, "message": acknowledgement.message}
    )


@app.post("/volunteer/escalations/<escalation_id>/reveal", operation_id="revealTexterNumber")
def reveal_texter_number(escalation_id: EscalationId, request: RevealRequest) -> RevealedNumber:
    who = supervisor()
    service = composition.crisis_desk().service
    escalation = service.get(escalation_id)
    conversation = (
        composition.conversation_repository().get_conversation(escalation.conversation_id)
        if escalation and escalation.conversation_id
        else None
    )
    if escalation is None:
        raise NotFoundError("no such escalation")
    if escalation.conversation_id and (conversation is None or not conversation.is_open):
        # A number is revealed for an active rescue only, never for a closed conversation.
        raise ConflictError("the conversation is closed: no active rescue")
    texter = composition.conversation_repository().get_texter(escalation.texter_id)
    number = service.reveal_number(
        escalation_id,
        actor=f"supervisor:{who.display_name}",
        reason=request.reason,
        texter=texter,
        decrypt=composition.number_vault().decrypt,
    )
    logger.warning("texter number revealed", escalation_id=escalation_id, by=who.volunteer_id)
    return RevealedNumber(escalation_id=escalation_id, texter_alias=escalation.texter_alias, number=number)


@app.get("/volunteer/line", operation_id="getLine")
def get_line() -> LineOverview:
    supervisor()
    return line_overview(
        composition.conversation_repository(),
        composition.crisis_desk().service,
        composition.router().views,
        now=utc_now(),
    )


@app.get("/volunteer/library", operation_id="getLibrary")
def get_library() -> Library:
    caller()
    return composition.library().get()


@app.put("/volunteer/library", operation_id="updateLibrary")
def update_library(library: Library) -> Library:
    who = supervisor()
    return composition.library().put(library, edited_by=who.volunteer_id)


@app.get("/config.json", include_in_schema=False)
def dashboard_config() -> DashboardConfig:
    settings = DashboardSettings.from_env()
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


@app.exception_handler(NotFoundError)
def not_found(error: NotFoundError) -> Response[dict[str, str]]:
    return _problem(404, str(error))


@app.exception_handler(ConflictError)
def conflict(error: ConflictError) -> Response[dict[str, str]]:
    return _problem(409, str(error))


@app.exception_handler(NotEligibleError)
def not_eligible(error: NotEligibleError) -> Response[dict[str, str]]:
    return _problem(403, str(error))


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
