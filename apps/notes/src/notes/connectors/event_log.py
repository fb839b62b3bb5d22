"""The event log's PostgreSQL adapter: the ``events`` and ``processed_events`` tables."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence

from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb
from sqlalchemy import text

from notes.connectors.database import SqlTransaction
from notes.entities import NoteEvent

CHANNEL = "notes_events"
"""The NOTIFY channel: a notification on it means events were committed (it carries no payload)."""


_ADD = """
    INSERT INTO events (type, note_id, owner_id, occurred_at, payload)
    VALUES (%(type)s, %(note_id)s, %(owner_id)s, %(occurred_at)s, %(payload)s)
    RETURNING id
"""

_MARK_PROCESSED = text(
    """
    INSERT INTO processed_events (event_id, listener, processed_at)
    SELECT event_id, :listener, clock_timestamp()
    FROM unnest(CAST(:ids AS bigint[])) WITH ORDINALITY AS ids (event_id, position)
    ORDER BY position
    ON CONFLICT DO NOTHING
    RETURNING event_id
    """
)

_COLUMNS = "id, type, note_id, owner_id, occurred_at, payload"


def _added(event: NoteEvent) -> dict[str, object]:
    return {
        "type": event.type,
        "note_id": event.note_id,
        "owner_id": event.owner_id,
        "occurred_at": event.occurred_at,
        "payload": Jsonb(event.payload()),
    }


class SqlEventLog:
    """Events in PostgreSQL, in the unit of work's transaction.

    ``add`` runs on the driver connection (it is on the path of every change); the rest,
    which only the event worker calls, through the session. No NOTIFY is sent from inside
    the transaction: a transaction that notifies holds a database-wide lock through its
    commit, so notifying writers commit one at a time. ``recorded`` tells the unit of work
    to have listeners woken once it has committed.
    """

    def __init__(self, sql: SqlTransaction) -> None:
        self._sql = sql
        self.recorded = False

    async def add(self, event: NoteEvent) -> NoteEvent:
        [recorded] = await self.add_all([event])
        return recorded

    async def add_all(self, events: Sequence[NoteEvent]) -> list[NoteEvent]:
        if not events:
            return []
        ids: list[int] = []
        async with self._sql.driver.cursor(row_factory=tuple_row) as cursor:
            # One statement per event, sent together (psycopg's pipeline mode).
            await cursor.executemany(_ADD, [_added(event) for event in events], returning=True)
            ids.extend(row[0] for row in await cursor.fetchall())
            while cursor.nextset():
                ids.extend(row[0] for row in await cursor.fetchall())
        self.recorded = True
        return [dataclasses.replace(event, id=id_) for event, id_ in zip(events, ids, strict=True)]

    async def claim_pending(self, limit: int) -> list[NoteEvent]:
        rows = await self._sql.session.execute(
            text(
                f"SELECT {_COLUMNS} FROM events WHERE dispatched_at IS NULL "  # noqa: S608 - constant
                "ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED"
            ),
            {"limit": limit},
        )
        return [NoteEvent.restore(**row) for row in rows.mappings()]

    async def mark_dispatched(self, event_ids: Collection[int]) -> None:
        if event_ids:
            await self._sql.session.execute(
                text("UPDATE events SET dispatched_at = clock_timestamp() WHERE id = ANY(:ids)"),
                {"ids": list(event_ids)},
            )

    async def mark_processed(self, event_ids: Collection[int], listener: str) -> frozenset[int]:
        if not event_ids:
            return frozenset()
        # Sorted, so two units of work recording overlapping events wait for each other in
        # one order, never in a cycle. processed_at is when the listener took the events up.
        result = await self._sql.session.scalars(
            _MARK_PROCESSED, {"ids": sorted(set(event_ids)), "listener": listener}
        )
        return frozenset(result)

    async def processed_by(self, event_id: int) -> frozenset[str]:
        rows = await self._sql.session.scalars(
            text("SELECT listener FROM processed_events WHERE event_id = :event_id"),
            {"event_id": event_id},
        )
        return frozenset(rows)

    async def after(self, event_id: int, *, limit: int) -> list[NoteEvent]:
        rows = await self._sql.session.execute(
            text(
                f"SELECT {_COLUMNS} FROM events WHERE id > :event_id "  # noqa: S608 - constant
                "ORDER BY id LIMIT :limit"
            ),
            {"event_id": event_id, "limit": limit},
        )
        return [NoteEvent.restore(**row) for row in rows.mappings()]
