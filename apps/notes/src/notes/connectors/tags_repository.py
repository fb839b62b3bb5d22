"""Tags of notes and the counts derived from them: the port, and its PostgreSQL adapter."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from typing import Protocol

from sqlalchemy import TextClause, select, text

from notes.connectors.database import SqlTransaction
from notes.entities import CategoryCount, TagCount

# Namespaces (first key) of the transaction-level advisory locks taken while recounting.
_TAG_LOCKS = 7316101
_CATEGORY_LOCKS = 7316102


class TagRepository(Protocol):
    """Each live note's tags, and per-tag and per-category counts of live notes.

    Never commits: the unit of work that owns it does.
    """

    async def set_note_tags(self, tags: Mapping[uuid.UUID, Collection[str]]) -> None:
        """Make ``tags[note_id]`` the tags of each note it names (none for a deleted note)."""

    async def note_tags(self, note_id: uuid.UUID) -> frozenset[str]:
        """The note's tags."""

    async def recount_tags(self, names: Collection[str]) -> None:
        """Recompute the counts of ``names`` from the notes' tags, as committed right now.

        Holds a lock per name until the unit of work ends, taken before counting, so two
        recounts of one name run one after the other and the later one counts last.
        """

    async def recount_categories(self, names: Collection[str]) -> None:
        """Recompute the counts of ``names`` from the live notes, as committed right now.

        The empty category is never counted. Locks like ``recount_tags``.
        """

    async def tag_counts(self) -> list[TagCount]:
        """Tags of live notes, most used first, ties by name."""

    async def category_counts(self) -> list[CategoryCount]:
        """Categories of live notes, most used first, ties by name."""


# One statement for any number of notes: :notes lists every note whose tags are set, and the
# parallel arrays :tagged and :tags their (note, tag) pairs. Both halves see the rows as they
# were before the statement, and touch different rows: the pairs to drop, and those to add.
_SET_TAGS = text(
    """
    WITH wanted AS (
        SELECT note_id, tag
        FROM unnest(CAST(:tagged AS uuid[]), CAST(:tags AS varchar[])) AS pairs (note_id, tag)
    ),
    removed AS (
        DELETE FROM note_tags
        WHERE note_id = ANY(CAST(:notes AS uuid[]))
        AND (note_id, tag) NOT IN (SELECT note_id, tag FROM wanted)
    )
    INSERT INTO note_tags (note_id, tag)
    SELECT note_id, tag FROM wanted
    ON CONFLICT DO NOTHING
    """
)

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


class SqlTagRepository(TagRepository):
    """Tags and counts in PostgreSQL, through the unit of work's ORM session.

    A recount takes its locks in one statement and counts in the next: under READ COMMITTED
    each statement sees what was committed when it started, so the count sees every change
    committed before the lock was granted, including those of the recount it waited for.
    """

    def __init__(self, sql: SqlTransaction) -> None:
        self._sql = sql

    async def set_note_tags(self, tags: Mapping[uuid.UUID, Collection[str]]) -> None:
        if not tags:
            return
        notes = sorted(tags)
        pairs = [(note_id, tag) for note_id in notes for tag in sorted(set(tags[note_id]))]
        await self._sql.session.execute(
            _SET_TAGS,
            {
                "notes": notes,
                "tagged": [note_id for note_id, _ in pairs],
                "tags": [tag for _, tag in pairs],
            },
        )

    async def note_tags(self, note_id: uuid.UUID) -> frozenset[str]:
        rows = await self._sql.session.scalars(
            text("SELECT tag FROM note_tags WHERE note_id = :note_id"), {"note_id": note_id}
        )
        return frozenset(rows)

    async def recount_tags(self, names: Collection[str]) -> None:
        await self._recount(_TAG_LOCKS, _RECOUNT_TAGS, sorted(set(names)))

    async def recount_categories(self, names: Collection[str]) -> None:
        await self._recount(_CATEGORY_LOCKS, _RECOUNT_CATEGORIES, sorted(set(names) - {""}))

    async def _recount(self, namespace: int, recount: TextClause, names: list[str]) -> None:
        if not names:
            return
        await self._sql.session.execute(_LOCK, {"namespace": namespace, "names": names})
        await self._sql.session.execute(recount, {"names": names})

    async def tag_counts(self) -> list[TagCount]:
        query = select(TagCount).order_by(TagCount.count.desc(), TagCount.name)
        return list(await self._sql.session.scalars(query))

    async def category_counts(self) -> list[CategoryCount]:
        query = select(CategoryCount).order_by(CategoryCount.count.desc(), CategoryCount.name)
        return list(await self._sql.session.scalars(query))
