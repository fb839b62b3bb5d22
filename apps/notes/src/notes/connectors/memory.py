"""In-memory fakes of the ports, for unit tests of the services: same contract, no database."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Self

from notes.connectors.idempotency_repository import IdempotencyKeyRepository
from notes.connectors.notes_repository import NO_FILTER, NoteFilter, NoteRepository, Position
from notes.connectors.unit_of_work import UnitOfWork
from notes.entities import IdempotencyKey, Note

_WORD = re.compile(r"[a-z0-9]+")
# A few of PostgreSQL's English stop words: never indexed, so never found.
# fmt: off
_STOP_WORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
})
# fmt: on


def _stem(word: str) -> str:
    """A rough English stem: enough to agree with PostgreSQL on plain words (run, runs, running).

    Only an approximation of PostgreSQL's Snowball stemmer: tests that need real stemming run
    against PostgreSQL.
    """
    for suffix in ("ing", "ed", "s"):
        if word.endswith(suffix) and not word.endswith("ss") and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]
            break
    return word


def _terms(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP_WORDS}


def _matches(note: Note, where: NoteFilter) -> bool:
    if note.deleted_at is not None:
        return False
    if where.category is not None and note.category != where.category:
        return False
    if where.created_after is not None and note.creation_date < where.created_after:
        return False
    if where.created_before is not None and note.creation_date >= where.created_before:
        return False
    if where.text is not None:
        wanted = _terms(where.text)
        return bool(wanted) and wanted <= _terms(note.contents)
    return True


def _copy_note(note: Note) -> Note:
    columns = [c.key for c in Note.__table__.columns if c.computed is None]
    return Note(**{c: getattr(note, c) for c in columns})


def _copy_key(record: IdempotencyKey) -> IdempotencyKey:
    columns = [c.key for c in IdempotencyKey.__table__.columns]
    return IdempotencyKey(**{c: getattr(record, c) for c in columns})


@dataclass
class InMemoryDatabase:
    """The committed state that in-memory units of work share, and the locks they hold."""

    notes: dict[uuid.UUID, Note] = field(default_factory=dict)
    idempotency_keys: dict[str, IdempotencyKey] = field(default_factory=dict)
    locks: set[str] = field(default_factory=set)


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

    async def list(
        self,
        *,
        limit: int,
        offset: int = 0,
        after: Position | None = None,
        where: NoteFilter = NO_FILTER,
    ) -> list[Note]:
        found = [n for n in self.rows.values() if _matches(n, where)]
        if after is not None:
            found = [n for n in found if Position.of(n) < after]
        found.sort(key=Position.of, reverse=True)
        return found[offset : offset + limit]


class InMemoryIdempotencyKeyRepository(IdempotencyKeyRepository):
    """Idempotency keys in a dict; locks live in the shared database, held per unit of work."""

    def __init__(self, rows: dict[str, IdempotencyKey], database: InMemoryDatabase) -> None:
        self.rows = rows
        self.removed: set[str] = set()
        self.held: set[str] = set()
        self._database = database

    async def try_lock(self, key: str) -> bool:
        if key in self.held:
            return True
        if key in self._database.locks:
            return False
        self._database.locks.add(key)
        self.held.add(key)
        return True

    async def get(self, key: str) -> IdempotencyKey | None:
        return self.rows.get(key)

    async def add(self, record: IdempotencyKey) -> None:
        if record.key in self.rows:
            msg = f"duplicate idempotency key {record.key!r}"
            raise ValueError(msg)
        self.rows[record.key] = record

    async def remove(self, record: IdempotencyKey) -> None:
        del self.rows[record.key]
        self.removed.add(record.key)

    async def purge_expired(self, now: datetime, *, limit: int) -> int:
        expired = sorted(
            (r for r in self.rows.values() if r.expires_at <= now), key=lambda r: r.expires_at
        )[:limit]
        for record in expired:
            await self.remove(record)
        return len(expired)

    def release(self) -> None:
        """Give up the locks this unit of work holds."""
        self._database.locks.difference_update(self.held)
        self.held.clear()


class InMemoryUnitOfWork(UnitOfWork):
    """A unit of work over shared in-memory state: commit keeps changes, anything else drops them.

    Each unit of work works on copies of the committed rows, as a transaction sees its own
    snapshot; ``commit`` publishes the rows it added, changed or removed. Several units of work
    may share one ``database``; a lock taken through one is held until it ends.
    """

    def __init__(
        self,
        committed: dict[uuid.UUID, Note] | None = None,
        *,
        database: InMemoryDatabase | None = None,
    ) -> None:
        self.database = database or InMemoryDatabase()
        if committed is not None:
            self.database.notes = committed
        self.committed = self.database.notes
        self.commits = 0

    async def __aenter__(self) -> Self:
        self.notes = InMemoryNoteRepository(
            {k: _copy_note(n) for k, n in self.database.notes.items()}
        )
        self.idempotency_keys = InMemoryIdempotencyKeyRepository(
            {k: _copy_key(r) for k, r in self.database.idempotency_keys.items()}, self.database
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert isinstance(self.idempotency_keys, InMemoryIdempotencyKeyRepository)  # noqa: S101
        self.idempotency_keys.release()

    async def commit(self) -> None:
        assert isinstance(self.notes, InMemoryNoteRepository)  # noqa: S101 - set in __aenter__
        assert isinstance(self.idempotency_keys, InMemoryIdempotencyKeyRepository)  # noqa: S101
        self.database.notes.update({k: _copy_note(n) for k, n in self.notes.rows.items()})
        for key in self.idempotency_keys.removed:
            self.database.idempotency_keys.pop(key, None)
        self.database.idempotency_keys.update(
            {k: _copy_key(r) for k, r in self.idempotency_keys.rows.items()}
        )
        self.idempotency_keys.removed.clear()
        self.commits += 1
