"""Errors as RFC 9457 problem details: every error response of the API is made here."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from notes.services.errors import (
    DeliveryNotFailedError,
    DeliveryNotFoundError,
    EmailTakenError,
    IdempotencyKeyInUseError,
    IdempotencyKeyReusedError,
    InvalidCredentialsError,
    InvalidCursorError,
    InvalidTokenError,
    InvalidWebhookUrlError,
    NoteNotFoundError,
    NotesError,
    SubscriptionNotFoundError,
    TokenNotFoundError,
    TooManyLoginAttemptsError,
    TooManySubscriptionsError,
    VersionConflictError,
    WeakPasswordError,
)

_logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

# Each service error maps to a status and a problem type; the most specific class wins.
_DOMAIN_ERRORS: dict[type[NotesError], tuple[int, str]] = {
    NoteNotFoundError: (404, "urn:notes:problem:note-not-found"),
    VersionConflictError: (412, "urn:notes:problem:version-conflict"),
    InvalidCursorError: (400, "urn:notes:problem:invalid-cursor"),
    IdempotencyKeyInUseError: (409, "urn:notes:problem:idempotency-key-in-use"),
    IdempotencyKeyReusedError: (422, "urn:notes:problem:idempotency-key-reused"),
    EmailTakenError: (409, "urn:notes:problem:email-taken"),
    WeakPasswordError: (422, "urn:notes:problem:weak-password"),
    InvalidCredentialsError: (401, "urn:notes:problem:invalid-credentials"),
    TooManyLoginAttemptsError: (429, "urn:notes:problem:too-many-login-attempts"),
    InvalidTokenError: (401, "urn:notes:problem:invalid-token"),
    TokenNotFoundError: (404, "urn:notes:problem:token-not-found"),
    SubscriptionNotFoundError: (404, "urn:notes:problem:webhook-not-found"),
    DeliveryNotFoundError: (404, "urn:notes:problem:delivery-not-found"),
    DeliveryNotFailedError: (409, "urn:notes:problem:delivery-not-failed"),
    InvalidWebhookUrlError: (422, "urn:notes:problem:invalid-webhook-url"),
    TooManySubscriptionsError: (409, "urn:notes:problem:too-many-webhooks"),
}


def _headers(error: NotesError) -> dict[str, str] | None:
    """The headers an error's answer needs: a challenge with a 401, a wait with a 429."""
    if isinstance(error, InvalidTokenError | InvalidCredentialsError):
        return {"WWW-Authenticate": 'Bearer realm="notes"'}
    if isinstance(error, TooManyLoginAttemptsError):
        return {"Retry-After": str(error.retry_after)}
    return None


class ProblemResponse(JSONResponse):
    """A JSON response with the problem details media type."""

    media_type = PROBLEM_JSON


def problem(
    status: int,
    *,
    detail: str | None = None,
    type_: str = "about:blank",
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: object,
) -> ProblemResponse:
    """A problem details response; ``title`` defaults to the status's reason phrase."""
    body: dict[str, Any] = {
        "type": type_,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
    }
    if detail is not None:
        body["detail"] = detail
    body.update(extra)
    return ProblemResponse(jsonable_encoder(body), status_code=status, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this type
    errors = [
        {
            "name": ".".join(str(part) for part in error["loc"][1:]) or str(error["loc"][0]),
            "reason": error["msg"],
            "location": list(error["loc"]),
        }
        for error in exc.errors()
    ]
    return problem(
        422,
        type_="urn:notes:problem:validation",
        title="Invalid request",
        detail=f"{len(errors)} invalid field(s): " + ", ".join(e["name"] for e in errors),
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for this type
    phrase = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if exc.detail and exc.detail != phrase else None
    return problem(exc.status_code, detail=detail, headers=exc.headers)


async def _domain_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, NotesError)  # noqa: S101 - registered for this type
    for cls in type(exc).__mro__:
        if cls in _DOMAIN_ERRORS:
            status, type_ = _DOMAIN_ERRORS[cls]
            return problem(status, type_=type_, detail=str(exc), headers=_headers(exc))
    _logger.error("unmapped service error", exc_info=exc)
    return problem(500, detail="The service failed to handle this request.")


async def _unexpected_error(request: Request, exc: Exception) -> ProblemResponse:
    _logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, detail="The service failed to handle this request.")


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error the app can raise through problem details."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(NotesError, _domain_error)
    app.add_exception_handler(Exception, _unexpected_error)
