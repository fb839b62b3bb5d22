"""Creating, reading, listing and deleting notes, each change recorded as a domain event."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from notes.connectors.unit_of_work import UnitOfWork
from notes.core.clock import Clock, utc_now
from notes.core.ids import uuid7
from notes.entities import Note, NoteCreated, NoteDeleted
from notes.services.errors import NoteNotFoundError


class NotesService:
    """The notes use cases. Each call is one unit of work (one transaction).

    Every change records its event (``NoteCreated``, ``NoteDeleted``; ``NoteUpdated`` for an
    edit) through ``uow.events`` in the same unit of work, so a change and its event are
    committed, or rolled back, together.
    """

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        *,
        clock: Clock = utc_now,
        new_id: Callable[[], uuid.UUID] = uuid7,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._new_id = new_id

    async def create(self, *, contents: str, category: str = "") -> Note:
        """Store a new note and return it."""
        note = Note(
            id=self._new_id(),
            contents=contents,
            category=category,
            creation_date=self._clock(),
            deleted_at=None,
        )
        async with self._uow() as uow:
            await uow.notes.add(note)
            await uow.events.add(NoteCreated.of(note, at=note.creation_date))
            await uow.commit()
        return note

    async def get_or_raise(self, note_id: uuid.UUID) -> Note:
        """The live note with ``note_id``; NoteNotFoundError if there is none."""
        async with self._uow() as uow:
            note = await uow.notes.get(note_id)
        if note is None:
            raise NoteNotFoundError(note_id)
        return note

    async def list(
        self,
        *,
        offset: int = 0,
        limit: int = 20,
        category: str | None = None,
        tag: str | None = None,
    ) -> list[Note]:
        """Live notes, newest first; ``tag`` is matched without its ``#`` and case-insensitively."""
        if tag is not None:
            tag = tag.removeprefix("#").lower()
        async with self._uow() as uow:
            return await uow.notes.list(offset=offset, limit=limit, category=category, tag=tag)

    async def delete(self, note_id: uuid.UUID) -> Note:
        """Mark the note deleted and return it; NoteNotFoundError if it is not live."""
        async with self._uow() as uow:
            note = await uow.notes.get(note_id, for_update=True)
            if note is None:
                raise NoteNotFoundError(note_id)
            note.deleted_at = self._clock()
            await uow.events.add(NoteDeleted.of(note, at=note.deleted_at))
            await uow.commit()
        return note
