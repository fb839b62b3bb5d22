"""Where notes are kept: the port, and its PostgreSQL adapter."""

from __future__ import annotations

import uuid
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notes.entities import Note, NoteTag


class NoteRepository(Protocol):
    """Stores notes. Never commits: the unit of work that owns it does."""

    async def add(self, note: Note) -> None:
        """Stage a new note for insertion."""

    async def get(self, note_id: uuid.UUID, *, for_update: bool = False) -> Note | None:
        """The live (not deleted) note with ``note_id``; locked until commit if ``for_update``."""

    async def list(
        self, *, offset: int, limit: int, category: str | None, tag: str | None = None
    ) -> list[Note]:
        """Live notes, newest first (ties broken by id, highest first); ``tag`` as stored."""


class SqlNoteRepository(NoteRepository):
    """Notes in PostgreSQL, through the unit of work's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, note: Note) -> None:
        self._session.add(note)

    async def get(self, note_id: uuid.UUID, *, for_update: bool = False) -> Note | None:
        query = select(Note).where(Note.id == note_id, Note.deleted_at.is_(None))
        if for_update:
            query = query.with_for_update()
        return (await self._session.scalars(query)).one_or_none()

    async def list(
        self, *, offset: int, limit: int, category: str | None, tag: str | None = None
    ) -> list[Note]:
        query = select(Note).where(Note.deleted_at.is_(None))
        if category is not None:
            query = query.where(Note.category == category)
        if tag is not None:
            tagged = select(NoteTag.note_id).where(NoteTag.tag == tag, NoteTag.note_id == Note.id)
            query = query.where(tagged.exists())
        query = query.order_by(Note.creation_date.desc(), Note.id.desc())
        return list(await self._session.scalars(query.offset(offset).limit(limit)))
