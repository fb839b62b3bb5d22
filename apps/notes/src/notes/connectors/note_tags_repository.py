"""Each note's hashtags: the PostgreSQL adapter of the ``NoteTagRepository`` port."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping

from sqlalchemy import text

from notes.connectors.database import SqlTransaction

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


class SqlNoteTagRepository:
    """The ``note_tags`` table, through the unit of work's ORM session."""

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
