"""Where notes are kept: the port, and its PostgreSQL adapter."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import Select, Uuid, any_, bindparam, cast, func, insert, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY, REGCONFIG
from sqlalchemy.ext.asyncio import AsyncSession

from notes.entities import Note, NoteTag
from notes.entities.note import SEARCH_CONFIG


@dataclass(frozen=True)
class NoteFilter:
    """Which live notes a list holds; ``None`` leaves a criterion out.

    ``created_after`` is inclusive and ``created_before`` exclusive, so consecutive ranges never
    overlap. ``text`` is a web-search style query over ``contents`` (English stemming; every
    word must occur). ``tag`` is a tag as stored (lower case, without ``#``): the notes whose
    contents the tag listener found it in.
    """

    category: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    text: str | None = None
    tag: str | None = None


NO_FILTER = NoteFilter()


@dataclass(frozen=True, order=True)
class Position:
    """A place in the list order: lists continue with the notes that sort after it."""

    creation_date: datetime
    id: uuid.UUID

    @classmethod
    def of(cls, note: Note) -> Position:
        """The position of ``note``."""
        return cls(note.creation_date, note.id)


class NoteRepository(Protocol):
    """Stores notes. Never commits: the unit of work that owns it does."""

    async def add(self, note: Note) -> None:
        """Insert a new note, as it is now, in the unit of work's transaction.

        Later changes to ``note`` are not stored: to change a stored note, ``get`` it.
        """

    async def get(self, note_id: uuid.UUID, *, for_update: bool = False) -> Note | None:
        """The live (not deleted) note with ``note_id``; locked until commit if ``for_update``.

        A locked read waits for any other transaction holding the note, then sees its result.
        """

    async def get_many(
        self, note_ids: Collection[uuid.UUID], *, for_update: bool = False
    ) -> list[Note]:
        """The live notes among ``note_ids``, by id; locked as ``get`` does if ``for_update``.

        Locks are taken in id order, so two units of work locking overlapping notes never
        wait for each other in a cycle.
        """

    async def list(
        self,
        *,
        limit: int,
        offset: int = 0,
        after: Position | None = None,
        where: NoteFilter = NO_FILTER,
    ) -> list[Note]:
        """Live notes matching ``where``, newest first (ties broken by id, highest first).

        With ``after``, only the notes that sort after that position (older, or as old with a
        lower id); ``offset`` then skips that many of them.
        """


class SqlNoteRepository(NoteRepository):
    """Notes in PostgreSQL, through the unit of work's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, note: Note) -> None:
        # A plain INSERT rather than session.add(): the ORM's flush machinery costs more
        # than the insert itself, and a new note needs none of it.
        await self._session.execute(_INSERT, {key: getattr(note, key) for key in _INSERTED})

    async def get(self, note_id: uuid.UUID, *, for_update: bool = False) -> Note | None:
        query = _GET_FOR_UPDATE if for_update else _GET
        return (await self._session.scalars(query, {"note_id": note_id})).one_or_none()

    async def get_many(
        self, note_ids: Collection[uuid.UUID], *, for_update: bool = False
    ) -> list[Note]:
        if not note_ids:
            return []
        query = _GET_MANY_FOR_UPDATE if for_update else _GET_MANY
        return list(await self._session.scalars(query, {"note_ids": sorted(set(note_ids))}))

    async def list(
        self,
        *,
        limit: int,
        offset: int = 0,
        after: Position | None = None,
        where: NoteFilter = NO_FILTER,
    ) -> list[Note]:
        query = list_statement(limit=limit, offset=offset, after=after, where=where)
        return list(await self._session.scalars(query))


# Built once: composing a statement costs more than running it through SQLAlchemy's cache.
_GET = select(Note).where(Note.id == bindparam("note_id"), Note.deleted_at.is_(None))
_GET_FOR_UPDATE = _GET.with_for_update()
_GET_MANY = (
    select(Note)
    .where(Note.id == any_(bindparam("note_ids", type_=ARRAY(Uuid))), Note.deleted_at.is_(None))
    .order_by(Note.id)
)
_GET_MANY_FOR_UPDATE = _GET_MANY.with_for_update()
_NOTES_TABLE = Note.metadata.tables[Note.__tablename__]
_INSERT = insert(_NOTES_TABLE)
_INSERTED = [column.key for column in _NOTES_TABLE.columns if column.computed is None]


def list_statement(
    *, limit: int, offset: int = 0, after: Position | None = None, where: NoteFilter = NO_FILTER
) -> Select[tuple[Note]]:
    """The query behind ``SqlNoteRepository.list``."""
    query = filtered(select(Note), where)
    if after is not None:
        # A row-value comparison: it walks the (creation_date DESC, id DESC) index from the
        # position on, so a page costs the same at any depth.
        query = query.where(
            tuple_(Note.creation_date, Note.id) < tuple_(after.creation_date, after.id)
        )
    query = query.order_by(Note.creation_date.desc(), Note.id.desc())
    return query.offset(offset).limit(limit)


def filtered(query: Select[tuple[Note]], where: NoteFilter) -> Select[tuple[Note]]:
    """``query`` narrowed to the live notes ``where`` describes."""
    query = query.where(Note.deleted_at.is_(None))
    if where.category is not None:
        query = query.where(Note.category == where.category)
    if where.created_after is not None:
        query = query.where(Note.creation_date >= where.created_after)
    if where.created_before is not None:
        query = query.where(Note.creation_date < where.created_before)
    if where.text is not None:
        search = func.websearch_to_tsquery(cast(SEARCH_CONFIG, REGCONFIG), where.text)
        query = query.where(Note.contents_tsv.bool_op("@@")(search))
    if where.tag is not None:
        tagged = select(NoteTag.note_id).where(NoteTag.tag == where.tag, NoteTag.note_id == Note.id)
        query = query.where(tagged.exists())
    return query
