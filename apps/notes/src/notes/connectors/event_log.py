"""The event log's PostgreSQL adapter: the ``events`` and ``processed_events`` tables."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb
from sqlalchemy import text

from notes.connectors.database import SqlTransaction
from notes.entities import (
    FailureCount,
    ListenerFailure,
    NoteEvent,
    ParkedEvent,
    UndecodableEvent,
)

CHANNEL = "notes_events"
"""The NOTIFY channel: a notification on it means events were committed (it carries no payload)."""


_ADD = """
    INSERT INTO events (type, note_id, owner_id, occurred_at, payload)
    VALUES (%(type)s, %(note_id)s, %(owner_id)s, %(occurred_at)s, %(payload)s)
    RETURNING id
"""

# The columns ``_ADD`` lists; the others take their defaults. The payload goes as JSON text.
_COPY = "COPY events (type, note_id, owner_id, occurred_at, payload) FROM STDIN"

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

_CLAIM_DUE = text(
    f"SELECT {_COLUMNS} FROM events "  # noqa: S608 - constant
    "WHERE dispatched_at IS NULL AND retry_at <= :now "
    "ORDER BY retry_at, id LIMIT :limit FOR UPDATE SKIP LOCKED"
)
_CLAIM_FRESH = text(
    f"SELECT {_COLUMNS} FROM events "  # noqa: S608 - constant
    "WHERE dispatched_at IS NULL AND retry_at IS NULL "
    "ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED"
)

# One more failure of each (event, listener); parked once the attempts reach :max.
_RECORD_FAILURES = text(
    """
    INSERT INTO event_failures AS f
        (event_id, listener, attempts, last_error, first_failed_at, last_failed_at, parked_at)
    SELECT event_id, listener, 1, error, :now, :now, CASE WHEN :max <= 1 THEN :now END
    FROM unnest(CAST(:ids AS bigint[]), CAST(:listeners AS varchar[]), CAST(:errors AS text[]))
        WITH ORDINALITY AS failed (event_id, listener, error, position)
    ORDER BY event_id, listener
    ON CONFLICT (event_id, listener) DO UPDATE SET
        attempts = f.attempts + 1,
        last_error = excluded.last_error,
        last_failed_at = excluded.last_failed_at,
        parked_at = coalesce(f.parked_at, CASE WHEN f.attempts + 1 >= :max THEN :now END)
    RETURNING event_id, listener, attempts, parked_at IS NOT NULL
    """
)

_RETRY_LATER = text(
    "UPDATE events SET retry_at = later.at "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:ats AS timestamptz[])) AS later (id, at) "
    "WHERE events.id = later.id"
)

_PARKED = text(
    """
    SELECT f.event_id, f.listener, coalesce(e.type, ''), e.note_id, f.attempts, f.last_error,
        f.parked_at
    FROM event_failures f LEFT JOIN events e ON e.id = f.event_id
    WHERE f.parked_at IS NOT NULL AND (CAST(:listener AS varchar) IS NULL OR f.listener = :listener)
    ORDER BY f.parked_at, f.event_id, f.listener
    LIMIT :limit
    """
)

# The parked events asked for, locked; their failures forgotten, and the events pending again.
_REQUEUE = text(
    """
    WITH chosen AS (
        SELECT DISTINCT event_id FROM event_failures
        WHERE parked_at IS NOT NULL
        AND (CAST(:all AS boolean) OR event_id = ANY(CAST(:ids AS bigint[])))
        AND (CAST(:listener AS varchar) IS NULL OR listener = :listener)
    ),
    locked AS (
        SELECT id FROM events WHERE id IN (SELECT event_id FROM chosen) ORDER BY id FOR UPDATE
    ),
    forgotten AS (
        DELETE FROM event_failures WHERE event_id IN (SELECT id FROM locked)
    )
    UPDATE events SET dispatched_at = NULL, retry_at = NULL
    WHERE id IN (SELECT id FROM locked)
    RETURNING id
    """
)

# Oldest dispatched first, a bounded number at a time, skipping what a dispatcher holds.
_PRUNE = text(
    """
    WITH doomed AS (
        SELECT id FROM events
        WHERE dispatched_at IS NOT NULL AND dispatched_at < :dispatched_before
        AND NOT EXISTS (
            SELECT FROM event_failures f
            WHERE f.event_id = events.id AND f.parked_at >= :parked_before
        )
        ORDER BY dispatched_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ),
    records AS (
        DELETE FROM processed_events WHERE event_id IN (SELECT id FROM doomed)
    ),
    failures AS (
        DELETE FROM event_failures WHERE event_id IN (SELECT id FROM doomed)
    )
    DELETE FROM events WHERE id IN (SELECT id FROM doomed)
    """
)


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

    async def copy_all(self, events: Sequence[NoteEvent]) -> None:
        if not events:
            return
        async with self._sql.driver.cursor() as cursor, cursor.copy(_COPY) as copy:
            for event in events:
                await copy.write_row(
                    (
                        event.type,
                        event.note_id,
                        event.owner_id,
                        event.occurred_at,
                        json.dumps(event.payload(), ensure_ascii=False),
                    )
                )
        self.recorded = True

    async def claim_pending(
        self, limit: int, *, now: datetime | None = None
    ) -> list[NoteEvent | UndecodableEvent]:
        rows = await self._sql.session.execute(_CLAIM_FRESH, {"limit": limit})
        claimed = [NoteEvent.decode(dict(row)) for row in rows.mappings()]
        if claimed or now is None:
            return claimed
        due = await self._sql.session.execute(_CLAIM_DUE, {"limit": limit, "now": now})
        return [NoteEvent.decode(dict(row)) for row in due.mappings()]

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

    async def record_failures(
        self, failures: Sequence[ListenerFailure], *, now: datetime, max_attempts: int
    ) -> list[FailureCount]:
        if not failures:
            return []
        rows = await self._sql.session.execute(
            _RECORD_FAILURES,
            {
                "ids": [f.event_id for f in failures],
                "listeners": [f.listener for f in failures],
                "errors": [f.error for f in failures],
                "now": now,
                "max": max_attempts,
            },
        )
        return [FailureCount(*row) for row in rows]

    async def retry_later(self, retry_at: Mapping[int, datetime]) -> None:
        if retry_at:
            ids = sorted(retry_at)
            await self._sql.session.execute(
                _RETRY_LATER, {"ids": ids, "ats": [retry_at[i] for i in ids]}
            )

    async def parked(self, *, limit: int, listener: str | None = None) -> list[ParkedEvent]:
        rows = await self._sql.session.execute(_PARKED, {"limit": limit, "listener": listener})
        return [ParkedEvent(*row) for row in rows]

    async def requeue(
        self, event_ids: Collection[int] | None = None, *, listener: str | None = None
    ) -> int:
        if event_ids is not None and not event_ids:
            return 0
        rows = await self._sql.session.execute(
            _REQUEUE,
            {
                "all": event_ids is None,
                "ids": sorted(event_ids or ()),
                "listener": listener,
            },
        )
        return len(rows.all())

    async def prune(
        self, *, dispatched_before: datetime, parked_before: datetime, limit: int
    ) -> int:
        result = await self._sql.session.execute(
            _PRUNE,
            {
                "dispatched_before": dispatched_before,
                "parked_before": parked_before,
                "limit": limit,
            },
        )
        return int(result.rowcount)  # type: ignore[attr-defined] # a DML result has a rowcount
