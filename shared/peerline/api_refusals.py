"""How the volunteer API's functions answer a refusal, over Powertools: one ``Problem`` body for the domain's
refusals (each API's own status table), a body that isn't JSON (415), and a request that doesn't validate (422,
saying where and what, never the submitted values). The volunteer API and the reveal function register the same
handlers, so that one OpenAPI document holds for both."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType, RequestValidationError
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from peerline.api_errors import Problem, ProblemDetail


def problem(
    status: int, message: str, *, details: list[ProblemDetail] | None = None, headers: dict[str, str] | None = None
) -> Response[dict[str, Any]]:
    body = Problem(message=message, details=details).model_dump(exclude_none=True)
    return Response(status, content_types.APPLICATION_JSON, body, headers=headers)


def answer_refusals(
    app: APIGatewayHttpResolver | APIGatewayHttpRouter, status_of: Mapping[type[Exception], int]
) -> None:
    """Register on ``app`` the answers to its domain's refusals (``status_of``; a subclass maps like its base) and to
    requests it can't read."""

    @app.exception_handler(list(status_of))
    def refused(error: Exception) -> Response[dict[str, Any]]:
        status = next(code for kind, code in status_of.items() if isinstance(error, kind))
        return problem(status, str(error))

    @app.exception_handler([RequestUnsupportedContentType, ValueError])
    def not_json(error: Exception) -> Response[dict[str, Any]]:
        # Powertools parses form and multipart bodies too (a multipart one without a boundary raises ValueError):
        # these APIs take JSON only. Any other ValueError (no body, or a JSON one) is a bug, and stays a 500.
        content_type = app.current_event.headers.get("content-type") or "application/json"
        is_json = content_type.split(";")[0].strip().lower() == "application/json"
        if isinstance(error, ValueError) and (is_json or not app.current_event.body):
            raise error
        return problem(415, "the body must be JSON (Content-Type: application/json)")

    @app.exception_handler(UnicodeDecodeError)
    def undecodable_body(error: UnicodeDecodeError) -> Response[dict[str, Any]]:
        return problem(422, "invalid request — the body must be UTF-8 JSON")

    @app.exception_handler(RequestValidationError)
    def invalid_request(error: RequestValidationError) -> Response[dict[str, Any]]:
        # Readable: where and what, without echoing the submitted values (a reply may hold a texter's words, a
        # reason may name a person).
        details = [
            ProblemDetail(
                where=".".join(str(part) for part in issue.get("loc", [])), problem=issue.get("msg", "invalid")
            )
            for issue in error.errors()
        ]
        summary = "; ".join(f"{detail.where}: {detail.problem}" for detail in details)
        return problem(422, f"invalid request — {summary}", details=details)
