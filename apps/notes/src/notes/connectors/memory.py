"""In-memory fakes of the ports, for unit tests of the services: same contract, no database."""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import Self

from notes.connectors.notes_repository import NoteRepository
from notes.connectors.unit_of_work import UnitOfWork
from notes.entities import Note


def _snapshot(rows: dict[uuid.UUID, Note]) -> dict[uuid.UUID, Note]:
    """Copies of ``rows``, so changes to them stay invisible until committed."""
    columns = [c.key for c in Note.__table__.columns]
    return {key: Note(**{c: getattr(note, c) for c in columns}) for key, note in rows.items()}


class InMemoryNoteRepository(NoteRepository):
    """Notes in a dict; a unit of work decides which of its changes are kept."""

    def __init__(self, rows: dict[uuid.UUID, Note] | None = None) -> None:
        self.rows: dict[uuid.UUID, Note] = {} if rows is None else rows

    async def add(self, note: Note) -> None:
        if note.id in self.rows:
            msg = f"duplicate note id {note.id}"
            raise ValueError(msg)
        self.rows[note.id] = note

    async def get(self, note_id: uuid.UUID, *, for_update: bool = False) -> Note | None:
        note = self.rows.get(note_id)
        return note if note is not None and note.deleted_at is None else None

    async def list(self, *, offset: int, limit: int, category: str | None) -> list[Note]:
        live = [
            n
            for n in self.rows.values()
            if n.deleted_at is None and (category is None or n.category == category)
        ]
        live.sort(key=lambda n: (n.creation_date, n.id), reverse=True)
        return live[offset : offset + limit]


class InMemoryUnitOfWork(UnitOfWork):
    """A unit of work over shared in-memory state: commit keeps changes, anything else drops them.

    Each unit of work works on a copy of the committed rows, as a transaction sees its
    own snapshot; ``commit`` publishes the copy.
    """

    def __init__(self, committed: dict[uuid.UUID, Note] | None = None) -> None:
        self.committed: dict[uuid.UUID, Note] = {} if committed is None else committed
        self.commits = 0

    async def __aenter__(self) -> Self:
        self.notes = InMemoryNoteRepository(_snapshot(self.committed))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.notes = InMemoryNoteRepository(_snapshot(self.committed))

    async def commit(self) -> None:
        assert isinstance(self.notes, InMemoryNoteRepository)  # noqa: S101 - set in __aenter__
        self.committed.clear()
        self.committed.update(self.notes.rows)
        self.commits += 1
