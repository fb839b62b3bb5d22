"""``/notes/export`` and ``/notes/import``: an owner's notes out, and new notes in, as NDJSON.

See docs/streams.md. Included before the notes router, so that ``export`` and ``import`` are
never read as note ids.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from notes.core.errors import CommitOutcomeUnknownError, UnavailableError
from notes.interface.auth import PrincipalDep
from notes.interface.dependencies import SettingsDep, TransferServiceDep
from notes.interface.limits import NDJSON, require_ndjson
from notes.interface.problems import ProblemResponse, problem, unavailable_problem
from notes.interface.schemas import (
    ImportLineError,
    ImportResult,
    NoteExportQuery,
    NoteImportLine,
    note_filter,
    problem_responses,
)
from notes.services.transfer import ImportInterruptedError, ImportReport

router = APIRouter(prefix="/notes", tags=["notes"])
_logger = logging.getLogger(__name__)

# The longest reason given for a refused line.
_MAX_REASON = 300


class _ClientStalledError(Exception):
    """The client took nothing of a chunk in time."""


class NdjsonStream(StreamingResponse):
    """A streamed NDJSON body whose source is closed as soon as the response ends, however it
    ends: a client that goes away releases what the source holds at once, not whenever the
    garbage collector gets to it.

    A client that stays connected but takes nothing of a chunk for ``stall_timeout`` seconds
    (0: no limit) is dropped the same way, so that it cannot hold the source's read open; the
    connection is closed without the body's end, so the client cannot take the part it got for
    a whole body.
    """

    media_type = NDJSON

    def __init__(self, source: AsyncGenerator[bytes, None], *, stall_timeout: float = 0) -> None:
        super().__init__(source, headers={"Cache-Control": "no-store"})
        self._source = source
        self._stall_timeout = stall_timeout or None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_in_time(message: Message) -> None:
            timer = asyncio.timeout(self._stall_timeout)
            try:
                async with timer:
                    await send(message)
            except TimeoutError:
                if timer.expired():
                    raise _ClientStalledError from None
                raise

        async with aclosing(self._source):
            try:
                await super().__call__(scope, receive, send_in_time)
            except _ClientStalledError:
                _logger.warning(
                    "%s %s: the client read nothing for %s s; its response is dropped",
                    scope["method"],
                    scope["path"],
                    self._stall_timeout,
                )


async def _starting_with(
    first: bytes, rest: AsyncGenerator[bytes, None]
) -> AsyncGenerator[bytes, None]:
    try:
        yield first
        async for chunk in rest:
            yield chunk
    finally:
        await rest.aclose()


@router.get(
    "/export",
    summary="Export notes as NDJSON",
    status_code=200,
    response_class=NdjsonStream,
    responses={
        200: {
            "description": "One note a line, newest first, with the fields of a listed note",
            # Any bytes are a body: the lines that are not notes are reported, not refused.
            "content": {NDJSON: {"schema": {"description": "One note a line, as JSON"}}},
        },
        **problem_responses(401, 422),
    },
)
async def export_notes(
    principal: PrincipalDep,
    service: TransferServiceDep,
    settings: SettingsDep,
    query: Annotated[NoteExportQuery, Query()],
) -> Response:
    """Every live note matching the filters (those of the list), newest first, as NDJSON.

    The notes are read in batches from one snapshot as the client reads; a failure before
    the first batch is a 503 problem, one after it ends the response early (the body then
    lacks its last chunk), and so does a client that reads nothing for the server's idle
    transaction limit.
    """
    where = note_filter(query)
    stream = service.export(principal.user_id, where=where)
    try:
        first = await anext(stream)
    except StopAsyncIteration:
        first = b""
    except BaseException:
        await stream.aclose()
        raise
    # A client that stops reading would hold the export's transaction open: it is dropped
    # after as long as the server lets a transaction sit idle.
    return NdjsonStream(
        _starting_with(first, stream), stall_timeout=settings.db_idle_in_transaction_timeout
    )


def parse_line(line: bytes) -> tuple[str, str]:
    """A line of an import as (contents, category), checked as a create's body is;
    ``ValueError`` with a short reason otherwise."""
    try:
        note = NoteImportLine.model_validate_json(line)
    except ValidationError as error:
        reasons = []
        for problem_ in error.errors(include_url=False, include_input=False):
            where = ".".join(str(part) for part in problem_["loc"])
            reasons.append(f"{where}: {problem_['msg']}" if where else problem_["msg"])
        raise ValueError("; ".join(reasons)[:_MAX_REASON]) from None
    return note.contents, note.category


def _result(report: ImportReport) -> dict[str, Any]:
    return ImportResult(
        created=report.created,
        invalid=report.invalid,
        lines=report.lines,
        errors=[ImportLineError(line=e.line, error=e.error) for e in report.errors],
        errors_truncated=report.errors_truncated,
    ).model_dump()


@router.post(
    "/import",
    summary="Import notes from NDJSON",
    response_model=ImportResult,
    responses=problem_responses(401, 413, 415),
    openapi_extra={
        "requestBody": {
            "required": False,  # an empty body is an import of nothing
            # Any bytes are a body: the lines that are not notes are reported, not refused.
            "content": {NDJSON: {"schema": {"description": "One note a line, as JSON"}}},
        }
    },
)
async def import_notes(
    request: Request,
    principal: PrincipalDep,
    ndjson: Annotated[None, Depends(require_ndjson)],  # after the token: 401 comes first
    service: TransferServiceDep,
    settings: SettingsDep,
) -> ImportResult | Response:
    """Store a new note for each valid line (``{"contents": ..., "category": ...}``, as a
    create takes it; an export's lines fit), in batches; report each refused line.

    If the body cannot be read to its end (413 past the cap) or a batch cannot be stored
    (503), the problem carries the report so far and ``resume_from_line``: the lines before
    it are done, none from it on was stored.
    """
    del ndjson
    try:
        report = await service.import_notes(principal.user_id, request.stream(), parse=parse_line)
    except ImportInterruptedError as error:
        return _interrupted(error, settings.retry_after)
    return ImportResult.model_validate(_result(report))


def _interrupted(error: ImportInterruptedError, retry_after: int) -> ProblemResponse:
    extra = {**_result(error.report), "resume_from_line": error.resume_from_line}
    cause = error.__cause__
    if isinstance(cause, CommitOutcomeUnknownError):
        detail = (
            f"The connection to the database failed while lines {error.resume_from_line} to "
            f"{error.batch_last_line} were being committed: they may or may not have been "
            "stored. Every line before them is done."
        )
        return unavailable_problem(
            cause, retry_after, detail=detail, batch_last_line=error.batch_last_line, **extra
        )
    if isinstance(cause, UnavailableError):
        detail = (
            f"The database failed during the import: {error.report.created} notes were stored, "
            f"none from line {error.resume_from_line} on. Send those lines again later."
        )
        return unavailable_problem(cause, retry_after, detail=detail, **extra)
    if isinstance(cause, HTTPException):  # the body passed its cap while it streamed
        return problem(cause.status_code, detail=cause.detail, **extra)
    if isinstance(cause, ClientDisconnect):  # nobody reads this answer
        return problem(400, detail="The client went away before the end of the body.", **extra)
    raise error
