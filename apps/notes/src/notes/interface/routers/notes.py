"""``/notes/``: create, read, list and delete notes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from notes.interface.dependencies import NotesServiceDep
from notes.interface.schemas import Category, NoteCreate, NoteRead, TagName, problem_responses

router = APIRouter(prefix="/notes", tags=["notes"])


@router.post(
    "/",
    status_code=status.HTTP_201_CREATED,
    summary="Create a note",
    responses=problem_responses(413, 422),
)
async def create_note(body: NoteCreate, service: NotesServiceDep, response: Response) -> NoteRead:
    """Store a note; its URL is in the ``Location`` header."""
    note = await service.create(contents=body.contents, category=body.category)
    response.headers["Location"] = f"/notes/{note.id}/"
    return NoteRead.from_entity(note)


@router.get("/", summary="List notes, newest first", responses=problem_responses(422))
async def list_notes(
    service: NotesServiceDep,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    category: Annotated[Category | None, Query()] = None,
    tag: Annotated[
        TagName | None,
        Query(description="only notes with this hashtag (with or without `#`, any case)"),
    ] = None,
) -> list[NoteRead]:
    """Live notes, newest first, optionally of one category and with one tag."""
    found = await service.list(offset=offset, limit=limit, category=category, tag=tag)
    return [NoteRead.from_entity(note) for note in found]


@router.get("/{note_id}/", summary="Read a note", responses=problem_responses(404, 422))
async def get_note(note_id: uuid.UUID, service: NotesServiceDep) -> NoteRead:
    """The note, unless it does not exist or was deleted."""
    return NoteRead.from_entity(await service.get_or_raise(note_id))


@router.delete("/{note_id}/", summary="Delete a note", responses=problem_responses(404, 422))
async def delete_note(note_id: uuid.UUID, service: NotesServiceDep) -> NoteRead:
    """Delete the note (it stays stored, but is never served again) and return it."""
    return NoteRead.from_entity(await service.delete(note_id))
