"""Tag and category counts: the PostgreSQL adapter of the ``CountRepository`` port."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import TextClause, select, text

from notes.connectors.database import SqlTransaction
from notes.entities import CategoryCount, Count, TagCount

# Namespaces (first key) of the transaction-level advisory locks taken while recounting.
_TAG_LOCKS = 7316101
_CATEGORY_LOCKS = 7316102


# Names arrive sorted and unnest keeps their order, so locks are always taken in name order:
# two recounts never wait for each other in a cycle.
_LOCK = text(
    "SELECT pg_advisory_xact_lock(:namespace, hashtext(name)) "
    "FROM unnest(CAST(:names AS varchar[])) AS name"
)

_RECOUNT = """
    WITH counted AS (
        SELECT name, ({count}) AS count FROM unnest(CAST(:names AS varchar[])) AS name
    ),
    emptied AS (
        DELETE FROM {table} USING counted
        WHERE {table}.name = counted.name AND counted.count = 0
    )
    INSERT INTO {table} (name, count)
    SELECT name, count FROM counted WHERE count > 0
    ON CONFLICT (name) DO UPDATE SET count = excluded.count
    """

_RECOUNT_TAGS = text(
    _RECOUNT.format(
        table="tag_counts",
        count="SELECT count(*) FROM note_tags WHERE note_tags.tag = name",
    )
)
_RECOUNT_CATEGORIES = text(
    _RECOUNT.format(
        table="category_counts",
        count="SELECT count(*) FROM notes WHERE notes.category = name AND notes.deleted_at IS NULL",
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

    async def recount_tags(self, names: Collection[str]) -> None:
        await self._recount(_TAG_LOCKS, _RECOUNT_TAGS, sorted(set(names)))

    async def recount_categories(self, names: Collection[str]) -> None:
        await self._recount(_CATEGORY_LOCKS, _RECOUNT_CATEGORIES, sorted(set(names) - {""}))

    async def _recount(self, namespace: int, recount: TextClause, names: list[str]) -> None:
        if not names:
            return
        await self._sql.session.execute(_LOCK, {"namespace": namespace, "names": names})
        await self._sql.session.execute(recount, {"names": names})

    async def tag_counts(self) -> list[Count]:
        query = select(TagCount.name, TagCount.count).order_by(TagCount.count.desc(), TagCount.name)
        return [Count(name, count) for name, count in await self._sql.session.execute(query)]

    async def category_counts(self) -> list[Count]:
        query = select(CategoryCount.name, CategoryCount.count).order_by(
            CategoryCount.count.desc(), CategoryCount.name
        )
        return [Count(name, count) for name, count in await self._sql.session.execute(query)]
