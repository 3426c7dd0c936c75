"""The reveal operation (``revealTexterNumber``) as a route: served by RevealNumberFunction, the only function of
the API that may decrypt, and documented in the volunteer API's OpenAPI document, so that the dashboard and any
client see one API.

API Gateway sends ``POST /volunteer/escalations/{escalation_id}/reveal`` to the reveal function (a more specific
route than the volunteer API's ``/volunteer/{proxy+}``, behind the same JWT authorizer).
"""

from __future__ import annotations

import json
from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from peerline.api_errors import Problem, answers
from peerline.api_models import RevealedNumber, RevealRequest
from peerline.api_refusals import answer_refusals
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


# The volunteer API's refusals (one Problem body), with what they mean here; a 429 is this hour's reveals used up
# as well as API Gateway's throttle.
_RESPONSES: dict[int, OpenAPIResponse] = {
    **answers(403, 404, 409, 415, description="The number, for the rescue"),
    429: {
        "description": "This hour's reveals are used up (or API Gateway's throttle): retry later",
        "content": {"application/json": {"model": Problem}},
    },
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

    answer_refusals(router, _STATUS_OF)
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
