"""The reveal operation (``revealTexterNumber``) as a route: served by RevealNumberFunction, the only function of
the API that may decrypt, and documented in the volunteer API's OpenAPI document, so that the dashboard and any
client see one API.

API Gateway sends ``POST /volunteer/escalations/{escalation_id}/reveal`` to the reveal function (a more specific
route than the volunteer API's ``/volunteer/{proxy+}``, behind the same JWT authorizer).
"""

from __future__ import annotations

import json
from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel

from peerline.api_models import Problem, RevealedNumber, RevealRequest
from peerline.reveal import RevealConflictError, RevealForbiddenError, RevealNotFoundError, RevealRateLimitedError

REVEAL_PATH = "/volunteer/escalations/<escalation_id>/reveal"

EscalationId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]

# The one mapping from the reveal rules' refusals to HTTP statuses.
_STATUS_OF: dict[type[Exception], int] = {
    RevealForbiddenError: 403,
    RevealNotFoundError: 404,
    RevealConflictError: 409,
    RevealRateLimitedError: 429,
}


def _json(description: str, model: type[BaseModel]) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": model}}}


# Declared responses replace the one Powertools infers, so the 200 is declared here too.
_RESPONSES: dict[int, OpenAPIResponse] = {
    200: _json("The number, for the rescue", RevealedNumber),
    403: _json("Not an active supervisor", Problem),
    404: _json("No such escalation, or its texter's record is gone", Problem),
    409: _json("The conversation closed, or the reveal window passed", Problem),
    429: _json("This hour's reveals are used up", Problem),
}


def reveal_router() -> APIGatewayHttpRouter:
    """A fresh router with the reveal route and its refusals (one for the function, one to document it)."""
    router = APIGatewayHttpRouter()

    @router.post(REVEAL_PATH, operation_id="revealTexterNumber", responses=_RESPONSES)
    def reveal_texter_number(escalation_id: EscalationId, request: RevealRequest) -> RevealedNumber:
        """Supervisors, for a rescue under way: the texter's number, audited (who, when, why) before decryption."""
        from peerline import composition

        sub = router.current_event.request_context.authorizer.jwt_claim.get("sub")
        return composition.reveal_number().reveal(str(sub) if sub else None, escalation_id, reason=request.reason)

    @router.exception_handler(list(_STATUS_OF))
    def refused(error: Exception) -> Response[dict[str, str]]:
        status = next(code for kind, code in _STATUS_OF.items() if isinstance(error, kind))
        return Response(status, content_types.APPLICATION_JSON, {"message": str(error)})

    @router.exception_handler(RequestValidationError)
    def invalid_request(error: RequestValidationError) -> Response[dict[str, str]]:
        # Where and what, never the submitted values (a reason may name a person).
        summary = "; ".join(
            f"{'.'.join(str(part) for part in issue.get('loc', []))}: {issue.get('msg', 'invalid')}"
            for issue in error.errors()
        )
        return Response(422, content_types.APPLICATION_JSON, {"message": f"invalid request — {summary}"})

    return router


def with_reveal_operation(document: str) -> str:
    """The volunteer API's OpenAPI document (JSON) with the reveal operation and its schemas added."""
    documented = APIGatewayHttpResolver(enable_validation=True)
    documented.include_router(reveal_router())
    reveal = json.loads(documented.get_openapi_json_schema())
    merged = json.loads(document)
    for path, operations in reveal["paths"].items():
        merged.setdefault("paths", {}).setdefault(path, {}).update(operations)
    schemas = merged.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in reveal.get("components", {}).get("schemas", {}).items():
        schemas.setdefault(name, schema)
    return json.dumps(merged)
