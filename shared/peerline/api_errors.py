"""What the volunteer API answers when it refuses: one error body, and the statuses each route declares.

Every route lists what it can answer (``responses=answers(403, 404)``), so that the OpenAPI document at
``/openapi.json`` is a contract a client can rely on, and the fuzz test (``tests/e2e/test_api_fuzz.py``) holds the API
to it: no status and no body the document doesn't name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse


class ProblemDetail(BaseModel):
    """One thing wrong with a request: where (``body.tags.0``) and what, never the value sent."""

    where: str
    problem: str


class Problem(BaseModel):
    """Every error body, ours and API Gateway's own (``{"message": "Unauthorized"}``)."""

    message: str
    details: list[ProblemDetail] | None = None


# What each refusal means on this API (the domain's errors map to these in functions/volunteer_api/handler.py).
REFUSALS: dict[int, str] = {
    403: "Not an active volunteer, a supervisor-only operation, or not eligible for this step",
    404: "No such conversation or escalation (also what a volunteer gets for one that isn't theirs)",
    409: "The conversation is not in a state that allows this (or changed meanwhile): reload and try again",
    415: "The body must be JSON (Content-Type: application/json)",
    422: "The request is invalid: where and what, never the submitted values",
}

# Answered by API Gateway itself, before the function runs, on every route behind the JWT authorizer: declared on
# every operation so that the document says everything a client can get.
GATEWAY_REFUSALS: dict[int, str] = {
    401: "No valid volunteer token (API Gateway's JWT authorizer): sign in again",
    429: "Too many requests (API Gateway's route throttle): retry after a moment",
}


def answers(*refusals: int, success: int = 200, description: str = "Done") -> dict[int, OpenAPIResponse]:
    """A route's ``responses``: its success (the return type's schema; none for 204), 422 and API Gateway's
    401/429, and the ``refusals`` it can answer (403, 404, 409; 415 if it takes a body) — each a ``Problem``."""
    declared: dict[int, dict[str, Any]] = {
        success: {"description": description, **({"content": {}} if success == 204 else {})}
    }
    for status, meaning in {**GATEWAY_REFUSALS, **{code: REFUSALS[code] for code in (*refusals, 422)}}.items():
        declared[status] = {"description": meaning, "content": {"application/json": {"model": Problem}}}
    return cast("dict[int, OpenAPIResponse]", dict(sorted(declared.items())))
