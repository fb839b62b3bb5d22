"""``/notes/``: create, read, edit, list and delete notes."""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from notes.entities import NoteView
from notes.entities.idempotency import IDEMPOTENCY_KEY_MAX
from notes.interface.auth import PrincipalDep
from notes.interface.conditional import etag, if_match_versions, none_match
from notes.interface.dependencies import NotesServiceDep
from notes.interface.limits import require_json
from notes.interface.schemas import (
    NoteCreate,
    NoteListQuery,
    NoteRead,
    NoteUpdate,
    note_filter,
    problem_responses,
)
from notes.services.notes import RecordedResponse

router = APIRouter(prefix="/notes", tags=["notes"])

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=IDEMPOTENCY_KEY_MAX,
        pattern=r"^[\x20-\x7e]+$",
        description="Makes the create safe to retry: 1 to 255 printable ASCII characters.",
    ),
]
IfMatchHeader = Annotated[str | None, Header(alias="If-Match")]
IfNoneMatchHeader = Annotated[str | None, Header(alias="If-None-Match")]
_ETAG_HEADER = {"ETag": {"description": "The note's version, as a strong entity tag"}}


def _note_headers(note_id: object, version: int) -> dict[str, str]:
    return {"ETag": etag(version), "Location": f"/notes/{note_id}/"}


@router.post(
    "/",
    status_code=status.HTTP_201_CREATED,
    summary="Create a note",
    response_model=NoteRead,
    responses=problem_responses(400, 401, 409, 413, 415, 422),
    dependencies=[Depends(require_json)],
)
async def create_note(
    body: NoteCreate,
    principal: PrincipalDep,
    service: NotesServiceDep,
    response: Response,
    idempotency_key: IdempotencyKeyHeader = None,
) -> NoteRead | Response:
    """Store a note; its URL is in the ``Location`` header.

    With an ``Idempotency-Key``, repeating the request within 24 hours returns the first answer
    (``Idempotent-Replayed: true``) and creates nothing; the same key with another body is a
    422, and while the first request with it is still running, a 409.
    """
    if idempotency_key is None:
        note = await service.create(
            principal.user_id, contents=body.contents, category=body.category
        )
        response.headers.update(_note_headers(note.id, note.version))
        return NoteRead.from_entity(note)

    def respond(note: NoteView) -> RecordedResponse:
        return RecordedResponse(201, jsonable_encoder(NoteRead.from_entity(note)))

    recorded, replayed = await service.create_idempotent(
        principal.user_id,
        key=idempotency_key,
        contents=body.contents,
        category=body.category,
        respond=respond,
    )
    headers = _note_headers(recorded.body["id"], recorded.body["version"])
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(recorded.body, status_code=recorded.status, headers=headers)


@router.get(
    "/",
    summary="List notes, newest first",
    responses={
        **problem_responses(401, 400, 422),
        200: {"headers": {"Link": {"description": 'The next page: rel="next"'}}},
    },
)
async def list_notes(
    request: Request,
    response: Response,
    principal: PrincipalDep,
    service: NotesServiceDep,
    query: Annotated[NoteListQuery, Query()],
) -> list[NoteRead]:
    """Live notes, newest first, filtered; ``Link: <...>; rel="next"`` when more follow.

    ``cursor`` and ``offset`` cannot be combined (400).
    """
    if query.cursor is not None and query.offset is not None:
        raise HTTPException(400, detail="Give cursor or offset, not both.")
    where = note_filter(query)
    page = await service.list(
        principal.user_id,
        limit=query.limit,
        offset=query.offset or 0,
        cursor=query.cursor,
        where=where,
    )
    if page.next_cursor is not None:
        target = f"{request.url.path}?{urlencode(query.next_page(page.next_cursor))}"
        response.headers["Link"] = f'<{target}>; rel="next"'
    return [NoteRead.from_entity(note) for note in page.notes]


@router.get(
    "/{note_id}/",
    summary="Read a note",
    response_model=NoteRead,
    responses={
        **problem_responses(401, 400, 404, 422),
        200: {"headers": _ETAG_HEADER},
        304: {"description": "The note is still at the version in If-None-Match"},
    },
)
async def get_note(
    note_id: uuid.UUID,
    principal: PrincipalDep,
    service: NotesServiceDep,
    response: Response,
    if_none_match: IfNoneMatchHeader = None,
) -> NoteRead | Response:
    """The note, unless it does not exist or was deleted; 304 if If-None-Match names it."""
    note = await service.get_or_raise(principal.user_id, note_id)
    if none_match(if_none_match, note.version):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=_etag_only(note))
    response.headers.update(_etag_only(note))
    return NoteRead.from_entity(note)


@router.patch(
    "/{note_id}/",
    summary="Edit a note",
    response_model=NoteRead,
    responses={
        **problem_responses(401, 400, 404, 412, 413, 415, 422),
        200: {"headers": _ETAG_HEADER},
    },
    dependencies=[Depends(require_json)],
)
async def update_note(  # noqa: PLR0913, PLR0917 - FastAPI passes each part of the request by name
    note_id: uuid.UUID,
    body: NoteUpdate,
    principal: PrincipalDep,
    service: NotesServiceDep,
    response: Response,
    if_match: IfMatchHeader = None,
) -> NoteRead:
    """Change ``contents`` and/or ``category``.

    With ``If-Match: "<version>"`` the change applies only while the note is at that version,
    else 412 and nothing changes.
    """
    note = await service.update(
        principal.user_id,
        note_id,
        contents=body.contents,
        category=body.category,
        if_version=if_match_versions(if_match),
    )
    response.headers.update(_etag_only(note))
    return NoteRead.from_entity(note)


@router.delete(
    "/{note_id}/",
    summary="Delete a note",
    responses={**problem_responses(400, 401, 404, 412, 422), 200: {"headers": _ETAG_HEADER}},
)
async def delete_note(
    note_id: uuid.UUID,
    principal: PrincipalDep,
    service: NotesServiceDep,
    response: Response,
    if_match: IfMatchHeader = None,
) -> NoteRead:
    """Delete the note (it stays stored, but is never served again) and return it.

    With ``If-Match: "<version>"`` only while the note is at that version, else 412.
    """
    note = await service.delete(principal.user_id, note_id, if_version=if_match_versions(if_match))
    response.headers.update(_etag_only(note))
    return NoteRead.from_entity(note)


def _etag_only(note: NoteView) -> dict[str, str]:
    return {"ETag": etag(note.version)}
