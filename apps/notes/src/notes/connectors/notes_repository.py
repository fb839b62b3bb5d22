"""Where notes are kept: PostgreSQL adapters of the ``NoteRepository`` and ``NoteReader`` ports."""

from __future__ import annotations

import dataclasses
import functools
import uuid
from collections.abc import Collection, Sequence
from typing import Any

from psycopg import AsyncCursor
from psycopg.rows import AsyncRowFactory, RowMaker
from sqlalchemy import (
    Select,
    Uuid,
    any_,
    bindparam,
    cast,
    func,
    insert,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY, REGCONFIG

from notes.connectors.database import (
    ReadPool,
    SqlTransaction,
    driver_sql,
    fetch_all,
    fetch_one,
    read_connection,
)
from notes.entities import NO_FILTER, Note, NoteFilter, NoteTag, NoteView, Position
from notes.entities.note import SEARCH_CONFIG


class SqlNoteRepository:
    """Notes in PostgreSQL, in the unit of work's transaction.

    Inserts and unlocked reads run on the driver connection, from SQL compiled once; locked
    reads load through the ORM session, which then writes any change to the notes back at
    commit.
    """

    def __init__(self, sql: SqlTransaction) -> None:
        self._sql = sql

    async def add(self, note: Note) -> None:
        await self._sql.driver.execute(_INSERT, _inserted(note))

    async def add_all(self, notes: Sequence[Note]) -> None:
        if notes:
            async with self._sql.driver.cursor() as cursor:
                await cursor.executemany(_INSERT, [_inserted(note) for note in notes])

    async def copy_all(self, notes: Sequence[Note]) -> None:
        if notes:
            async with (
                self._sql.driver.cursor() as cursor,
                cursor.copy(_COPY) as copy,
            ):
                for note in notes:
                    await copy.write_row([getattr(note, key) for key in _INSERTED])

    async def get(self, owner_id: uuid.UUID, note_id: uuid.UUID) -> NoteView | None:
        params = {"owner_id": owner_id, "note_id": note_id}
        return await fetch_one(self._sql.driver, _GET, params, _VIEW_ROW)

    async def get_for_update(self, owner_id: uuid.UUID, note_id: uuid.UUID) -> Note | None:
        params = {"owner_id": owner_id, "note_id": note_id}
        found = await self._sql.session.scalars(_GET_FOR_UPDATE, params)
        return found.one_or_none()

    async def get_many(self, note_ids: Collection[uuid.UUID]) -> list[NoteView]:
        if not note_ids:
            return []
        ids = sorted(set(note_ids))
        return await fetch_all(self._sql.driver, _GET_MANY, {"note_ids": ids}, _VIEW_ROW)

    async def get_many_for_update(self, note_ids: Collection[uuid.UUID]) -> list[Note]:
        if not note_ids:
            return []
        ids = sorted(set(note_ids))
        return list(await self._sql.session.scalars(_GET_MANY_FOR_UPDATE, {"note_ids": ids}))

    async def list(
        self,
        owner_id: uuid.UUID,
        *,
        limit: int,
        offset: int = 0,
        after: Position | None = None,
        where: NoteFilter = NO_FILTER,
    ) -> list[NoteView]:
        sql, params = _list_query_and_params(
            owner_id, limit=limit, offset=offset, after=after, where=where
        )
        return await fetch_all(self._sql.driver, sql, params, _VIEW_ROW)


class PooledNoteReader:
    """Reads on autocommit connections of the read pool: one round trip each, no transaction."""

    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def get(self, owner_id: uuid.UUID, note_id: uuid.UUID) -> NoteView | None:
        params = {"owner_id": owner_id, "note_id": note_id}
        async with read_connection(self._pool) as connection:
            return await fetch_one(connection, _GET, params, _VIEW_ROW)

    async def list(
        self,
        owner_id: uuid.UUID,
        *,
        limit: int,
        offset: int = 0,
        after: Position | None = None,
        where: NoteFilter = NO_FILTER,
    ) -> list[NoteView]:
        sql, params = _list_query_and_params(
            owner_id, limit=limit, offset=offset, after=after, where=where
        )
        async with read_connection(self._pool) as connection:
            return await fetch_all(connection, sql, params, _VIEW_ROW)


_NOTES_TABLE = Note.metadata.tables[Note.__tablename__]
# Every stored column but the generated one, which only queries read.
_INSERTED = [column.key for column in _NOTES_TABLE.columns if column.computed is None]
# A snapshot's fields, in order.
_VIEW_COLUMNS = [_NOTES_TABLE.columns[field.name] for field in dataclasses.fields(NoteView)]


def _inserted(note: Note) -> dict[str, Any]:
    return {key: getattr(note, key) for key in _INSERTED}


def _view_row(cursor: AsyncCursor[Any]) -> RowMaker[NoteView]:
    """Rows of ``_VIEW_COLUMNS`` as snapshots."""
    del cursor  # every statement using it selects _VIEW_COLUMNS, in that order
    return _make_view


def _make_view(values: Sequence[Any]) -> NoteView:
    return NoteView(*values)


_VIEW_ROW: AsyncRowFactory[NoteView] = _view_row
# The ORM's statements, for locked reads (built once: building costs more than running them).
_OWNED_LIVE_NOTE = (
    Note.id == bindparam("note_id"),
    Note.owner_id == bindparam("owner_id"),
    Note.deleted_at.is_(None),
)
_GET_FOR_UPDATE = select(Note).where(*_OWNED_LIVE_NOTE).with_for_update()
_GET_MANY_FOR_UPDATE = (
    select(Note)
    .where(Note.id == any_(bindparam("note_ids", type_=ARRAY(Uuid))), Note.deleted_at.is_(None))
    .order_by(Note.id)
    .with_for_update()
)
# COPY lists the stored columns only: the generated search column is computed by the server.
_COPY = f"COPY {_NOTES_TABLE.name} ({', '.join(_INSERTED)}) FROM STDIN"
# The driver's statements, compiled once.
_INSERT, _ = driver_sql(insert(_NOTES_TABLE).values({key: bindparam(key) for key in _INSERTED}))
_GET, _ = driver_sql(select(*_VIEW_COLUMNS).where(*_OWNED_LIVE_NOTE))
_GET_MANY, _ = driver_sql(
    select(*_VIEW_COLUMNS)
    .where(Note.id == any_(bindparam("note_ids", type_=ARRAY(Uuid))), Note.deleted_at.is_(None))
    .order_by(Note.id)
)


def _shape(where: NoteFilter, after: Position | None) -> frozenset[str]:
    """Which criteria a list query has (the filter's fields that are set, and ``after``):
    the list statement is compiled once per shape."""
    present = {name for name, value in vars(where).items() if value is not None}
    return frozenset(present | {"after"} if after is not None else present)


def _list_query(shape: frozenset[str]) -> Select[Note]:
    """The list query of ``shape``, with a bound parameter for every value."""
    query = select(Note).where(Note.owner_id == bindparam("owner_id"), Note.deleted_at.is_(None))
    if "category" in shape:
        query = query.where(Note.category == bindparam("category"))
    if "created_after" in shape:
        query = query.where(Note.creation_date >= bindparam("created_after"))
    if "created_before" in shape:
        query = query.where(Note.creation_date < bindparam("created_before"))
    if "text" in shape:
        search = func.websearch_to_tsquery(cast(SEARCH_CONFIG, REGCONFIG), bindparam("text"))
        query = query.where(Note.contents_tsv.bool_op("@@")(search))
    if "tag" in shape:
        tagged = select(NoteTag.note_id).where(
            NoteTag.tag == bindparam("tag"), NoteTag.note_id == Note.id
        )
        query = query.where(tagged.exists())
    if "after" in shape:
        # A row-value comparison: it walks the (creation_date DESC, id DESC) index from the
        # position on, so a page costs the same at any depth.
        query = query.where(
            tuple_(Note.creation_date, Note.id)
            < tuple_(bindparam("after_date"), bindparam("after_id"))
        )
    query = query.order_by(Note.creation_date.desc(), Note.id.desc())
    return query.offset(bindparam("offset")).limit(bindparam("limit"))


@functools.cache
def _list_sql(shape: frozenset[str]) -> tuple[str, dict[str, Any]]:
    sql, constants = driver_sql(_list_query(shape).with_only_columns(*_VIEW_COLUMNS))
    return sql, constants


def _list_query_and_params(
    owner_id: uuid.UUID, *, limit: int, offset: int, after: Position | None, where: NoteFilter
) -> tuple[str, dict[str, Any]]:
    sql, constants = _list_sql(_shape(where, after))
    params = _list_params(owner_id, limit=limit, offset=offset, after=after, where=where)
    return sql, constants | params


def _list_params(
    owner_id: uuid.UUID, *, limit: int, offset: int, after: Position | None, where: NoteFilter
) -> dict[str, Any]:
    params: dict[str, Any] = {"owner_id": owner_id, "limit": limit, "offset": offset}
    params.update((key, value) for key, value in vars(where).items() if value is not None)
    if after is not None:
        params["after_date"] = after.creation_date
        params["after_id"] = after.id
    return params


def list_statement(
    owner_id: uuid.UUID,
    *,
    limit: int,
    offset: int = 0,
    after: Position | None = None,
    where: NoteFilter = NO_FILTER,
) -> Select[Note]:
    """The query behind ``SqlNoteRepository.list``, with its values bound (to EXPLAIN it)."""
    query = _list_query(_shape(where, after))
    params = _list_params(owner_id, limit=limit, offset=offset, after=after, where=where)
    return query.params(params)


EXPORT_FIELDS = ("id", "contents", "category", "creation_date", "updated_at", "version")
"""What an exported line holds: the fields the API shows of a note."""


def export_sql(owner_id: uuid.UUID, where: NoteFilter) -> tuple[str, dict[str, Any]]:
    """The list query of every note of ``owner_id`` matching ``where`` (no limit, no offset),
    newest first, selecting each note as one line of JSON text with ``NoteView``'s fields."""
    shape = _shape(where, None)
    sql, constants = _export_sql(shape)
    params = _list_params(owner_id, limit=0, offset=0, after=None, where=where)
    params["limit"] = None  # LIMIT NULL: no limit
    return sql, constants | params


@functools.cache
def _export_sql(shape: frozenset[str]) -> tuple[str, dict[str, Any]]:
    # concat() of to_json() of each field: the same line as json_build_object() renders (the
    # fields in this order, no spaces), in about 60% of its time (docs/benchmarks.md). The
    # uuid and the integer go in as concat() writes them (the uuid in quotes): their text is
    # already JSON, and to_json()'s escaping pass over them would find nothing to escape.
    parts: list[Any] = []
    text = "{"  # the literal text before the next value
    for position, name in enumerate(EXPORT_FIELDS):
        column = _NOTES_TABLE.columns[name]
        text += f'{"," if position else ""}"{name}":'
        if name == "id":  # a uuid: JSON once quoted
            parts += [_sql_text(text + '"'), column]
            text = '"'
        elif name == "version":  # an integer: JSON as it is
            parts += [_sql_text(text), column]
            text = ""
        else:
            parts += [_sql_text(text), func.to_json(column)]
            text = ""
    parts.append(_sql_text(text + "}"))
    line = func.concat(*parts)
    sql, constants = driver_sql(_list_query(shape).with_only_columns(line))
    return sql, constants


def _sql_text(text: str) -> Any:  # noqa: ANN401 - a SQLAlchemy column expression
    """``text`` as a SQL string literal (the export's field names and punctuation)."""
    return literal_column("'" + text.replace("'", "''") + "'")
