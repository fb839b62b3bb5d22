"""Tag and category counts: the PostgreSQL adapter of the ``CountRepository`` port."""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Collection

from sqlalchemy import TextClause, or_, select, text

from notes.connectors.database import SqlTransaction
from notes.entities import CategoryCount, Count, TagCount

# Namespaces (first key) of the transaction-level advisory locks taken while recounting.
_TAG_LOCKS = 7316101
_CATEGORY_LOCKS = 7316102
LOCK_STRIPES = 32
"""A recount locks stripes, not names: each (owner, name) hashes to one of this many locks, so
a transaction holds at most this many advisory locks whatever its batch touches. One lock per
name took 17,576 locks for one note carrying every three-letter hashtag and exhausted
PostgreSQL's shared lock table (``max_locks_per_transaction`` x connections), failing
unrelated requests. Two recounts of names in one stripe run one after the other, as two of
one name must; a stripe only serialises more."""


def lock_stripe(owner_id: uuid.UUID, name: str) -> int:
    """The lock an (owner, name) recount takes: the same in every process (CRC-32)."""
    return zlib.crc32(owner_id.bytes + name.encode()) % LOCK_STRIPES


# Stripes arrive sorted and unnest keeps their order, so locks are always taken in one order:
# two recounts never wait for each other in a cycle.
_LOCK = text(
    "SELECT pg_advisory_xact_lock(:namespace, stripe) "
    "FROM unnest(CAST(:stripes AS integer[])) AS stripes (stripe)"
)

_RECOUNT = """
    WITH counted AS (
        SELECT owner_id, name, ({count}) AS count
        FROM unnest(CAST(:owners AS uuid[]), CAST(:names AS varchar[])) AS keys (owner_id, name)
    ),
    emptied AS (
        DELETE FROM {table} USING counted
        WHERE {table}.owner_id = counted.owner_id AND {table}.name = counted.name
        AND counted.count = 0
    )
    INSERT INTO {table} (owner_id, name, count)
    SELECT owner_id, name, count FROM counted WHERE count > 0
    ON CONFLICT (owner_id, name) DO UPDATE SET count = excluded.count
    """

_RECOUNT_TAGS = text(
    _RECOUNT.format(
        table="tag_counts",
        count="SELECT count(*) FROM note_tags JOIN notes ON notes.id = note_tags.note_id"
        " WHERE note_tags.tag = keys.name AND notes.owner_id = keys.owner_id",
    )
)
_RECOUNT_CATEGORIES = text(
    _RECOUNT.format(
        table="category_counts",
        count="SELECT count(*) FROM notes WHERE notes.owner_id = keys.owner_id"
        " AND notes.category = keys.name AND notes.deleted_at IS NULL",
    )
)


class SqlCountRepository:
    """Tag and category counts in PostgreSQL, through the unit of work's ORM session.

    A recount takes its locks in one statement and counts in the next: under READ COMMITTED
    each statement sees what was committed when it started, so the count sees every change
    committed before the lock was granted, including those of the recount it waited for.
    """

    def __init__(self, sql: SqlTransaction) -> None:
        self._sql = sql

    async def recount_tags(self, names: Collection[tuple[uuid.UUID, str]]) -> None:
        await self._recount(_TAG_LOCKS, _RECOUNT_TAGS, sorted(set(names)))

    async def recount_categories(self, names: Collection[tuple[uuid.UUID, str]]) -> None:
        keys = sorted((owner, name) for owner, name in set(names) if name)
        await self._recount(_CATEGORY_LOCKS, _RECOUNT_CATEGORIES, keys)

    async def _recount(
        self, namespace: int, recount: TextClause, keys: list[tuple[uuid.UUID, str]]
    ) -> None:
        if not keys:
            return
        params = {"owners": [owner for owner, _ in keys], "names": [name for _, name in keys]}
        stripes = sorted({lock_stripe(owner, name) for owner, name in keys})
        await self._sql.session.execute(_LOCK, {"namespace": namespace, "stripes": stripes})
        await self._sql.session.execute(recount, params)

    async def tag_counts(
        self, owner_id: uuid.UUID, *, limit: int, after: Count | None = None
    ) -> list[Count]:
        return await self._most_used(TagCount, owner_id, limit, after)

    async def category_counts(
        self, owner_id: uuid.UUID, *, limit: int, after: Count | None = None
    ) -> list[Count]:
        return await self._most_used(CategoryCount, owner_id, limit, after)

    async def _most_used(
        self,
        table: type[TagCount | CategoryCount],
        owner_id: uuid.UUID,
        limit: int,
        after: Count | None,
    ) -> list[Count]:
        query = (
            select(table.name, table.count)
            .where(table.owner_id == owner_id)
            .order_by(table.count.desc(), table.name)
            .limit(limit)
        )
        if after is not None:
            # After (count, name) in (count DESC, name) order; ``count <=`` bounds the index scan.
            query = query.where(
                table.count <= after.count,
                or_(table.count < after.count, table.name > after.name),
            )
        return [Count(name, count) for name, count in await self._sql.session.execute(query)]
