"""Errors as RFC 9457 problem details: every error response of the API is made here."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from notes.core.config import Settings
from notes.core.errors import (
    CommitOutcomeUnknownError,
    DatabaseTimeoutError,
    DatabaseUnavailableError,
    OverloadedError,
    StoppingError,
    UnavailableError,
)
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

# What the client is told when the infrastructure fails it: a 503 with Retry-After; the most
# specific class wins. The detail is ours: a driver's message never reaches a client.
_UNAVAILABLE: dict[type[UnavailableError], tuple[str, str]] = {
    UnavailableError: ("unavailable", "The service cannot handle this request right now."),
    DatabaseUnavailableError: (
        "database-unavailable",
        "The database cannot be reached right now; nothing was changed.",
    ),
    CommitOutcomeUnknownError: (
        "outcome-unknown",
        (
            "The connection to the database failed while the change was being committed: it "
            "may or may not have been stored. Read it back before repeating it, or repeat it "
            "with the same Idempotency-Key."
        ),
    ),
    DatabaseTimeoutError: (
        "database-timeout",
        "The database did not finish this request within its time limit; nothing was changed.",
    ),
    OverloadedError: (
        "overloaded",
        "Too many requests are waiting for the database; nothing was changed.",
    ),
    StoppingError: ("stopping", "The service is shutting down; nothing was changed."),
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


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at the request's path: Starlette's 405 names only the
    methods of the first route whose path matched."""
    return ", ".join(
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in request.app.router.routes
        )
    )


async def _http_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for this type
    phrase = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if exc.detail and exc.detail != phrase else None
    headers = exc.headers
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": _allowed_methods(request)}
    return problem(exc.status_code, detail=detail, headers=headers)


async def _domain_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, NotesError)  # noqa: S101 - registered for this type
    for cls in type(exc).__mro__:
        if cls in _DOMAIN_ERRORS:
            status, type_ = _DOMAIN_ERRORS[cls]
            return problem(status, type_=type_, detail=str(exc), headers=_headers(exc))
    _logger.error("unmapped service error", exc_info=exc)
    return problem(500, detail="The service failed to handle this request.")


async def _unavailable(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, UnavailableError)  # noqa: S101 - registered for this type
    level = logging.ERROR if isinstance(exc, CommitOutcomeUnknownError) else logging.INFO
    name = _unavailable_kind(exc)[0]
    _logger.log(level, "503 %s on %s %s: %s", name, request.method, request.url.path, exc)
    settings: Settings = request.app.state.settings
    return unavailable_problem(exc, settings.retry_after)


def _unavailable_kind(exc: UnavailableError) -> tuple[str, str]:
    return next(_UNAVAILABLE[cls] for cls in type(exc).__mro__ if cls in _UNAVAILABLE)


def unavailable_problem(
    exc: UnavailableError, retry_after: int, *, detail: str | None = None, **extra: object
) -> ProblemResponse:
    """The 503 problem for ``exc``, with ``Retry-After``; ``detail`` replaces the usual one."""
    name, usual = _unavailable_kind(exc)
    return problem(
        503,
        type_=f"urn:notes:problem:{name}",
        detail=detail or usual,
        headers={"Retry-After": str(retry_after)},
        **cast("dict[str, Any]", extra),  # fields of their own names: never a parameter's
    )


class UnexpectedErrorMiddleware:
    """Answer any error no handler took with a ``500`` problem, and keep the connection.

    Starlette's own catch-all (an ``Exception`` handler) answers and then raises the error
    again, so that the server logs it; uvicorn then closes the client's keep-alive
    connection, and the client's next request on it fails. This middleware, inside
    Starlette's, logs the error and answers, and nothing is raised further. If the response
    had already begun, no other can be sent: the error is raised on, and the connection ends.

    A request cancelled before it is answered (uvicorn cancels those still running when its
    graceful shutdown times out) is answered ``503`` (``stopping``, with ``Retry-After``)
    instead of the ``500`` uvicorn would send: whatever it was doing was rolled back with it.
    """

    def __init__(self, app: ASGIApp, *, retry_after: int) -> None:
        self.app = app
        self.retry_after = retry_after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            if started:
                raise
            _logger.exception("unhandled error on %s %s", scope["method"], scope["path"])
            response = problem(500, detail="The service failed to handle this request.")
            await response(scope, receive, send)
        except asyncio.CancelledError:
            if started:
                raise
            _logger.warning(
                "%s %s cancelled: the server is stopping", scope["method"], scope["path"]
            )
            response = problem(
                503,
                type_="urn:notes:problem:stopping",
                detail="The service is shutting down; this request was stopped before it ended.",
                headers={"Retry-After": str(self.retry_after), "Connection": "close"},
            )
            await response(scope, receive, send)
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()  # handled: answered, and the task ends now


def install_problem_handlers(app: FastAPI, settings: Settings) -> None:
    """Route every error the app can raise through problem details.

    Call it after every other middleware is added: the catch-all must sit outside them all.
    """
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(NotesError, _domain_error)
    app.add_exception_handler(UnavailableError, _unavailable)
    app.add_middleware(UnexpectedErrorMiddleware, retry_after=settings.retry_after)
