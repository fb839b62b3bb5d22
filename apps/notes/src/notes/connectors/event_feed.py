"""The live feed's reader of the event log: events in commit order, on the read pool.

An event's position is ``(xact_id, id)``: the id of the transaction that recorded it (``xid8``,
filled in by the column's default, ``pg_current_xact_id()``) and its own id. Only events of
transactions below ``pg_snapshot_xmin(pg_current_snapshot())``, the oldest transaction still
running, are read: every one of those has committed (or rolled back), and any transaction that
commits later has a larger id, so its events stand after every event read so far. Reading on
from the last position read therefore never misses an event. A transaction that stays open
holds that horizon back, and with it the feed (docs/streams.md).
"""

from __future__ import annotations

import uuid
from typing import Any

from psycopg.rows import dict_row

from notes.connectors.database import ReadPool, fetch_all, read_connection
from notes.entities import NoteEvent
from notes.entities.events import EventPosition, FeedEvent

# xid8 has no cast from or to bigint: it goes through text both ways. (Under another name than
# the column's, or ORDER BY xact_id would sort the text.)
_COLUMNS = "xact_id::text AS xact_id_text, id, type, note_id, owner_id, occurred_at, payload"
_FINISHED = "xact_id < pg_snapshot_xmin(pg_current_snapshot())"
_AFTER = (
    f"SELECT {_COLUMNS} FROM events "  # noqa: S608 - constant
    f"WHERE (xact_id, id) > (%(xact_id)s::text::xid8, %(id)s) AND {_FINISHED} "
    "ORDER BY events.xact_id, events.id LIMIT %(limit)s"
)
_OWNER_AFTER = (
    f"SELECT {_COLUMNS} FROM events "  # noqa: S608 - constant
    "WHERE owner_id = %(owner_id)s "
    # The position compared with owner_id in front: a condition only the index
    # (owner_id, xact_id, id) serves, so the planner never reads every owner's events after
    # the position to keep this owner's.
    "AND (owner_id, xact_id, id) > (%(owner_id)s, %(xact_id)s::text::xid8, %(id)s) "
    f"AND {_FINISHED} "
    "ORDER BY events.xact_id, events.id LIMIT %(limit)s"
)
_HORIZON = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text"
_POSITION = "SELECT xact_id::text FROM events WHERE id = %(id)s AND owner_id = %(owner_id)s"


def _feed_event(row: dict[str, Any]) -> FeedEvent:
    position = (int(row.pop("xact_id_text")), int(row["id"]))
    return FeedEvent(position=position, owner_id=row["owner_id"], event=NoteEvent.decode(row))


class PooledEventFeed:
    """Reads the event log in commit order on autocommit connections of the read pool."""

    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def horizon(self) -> EventPosition:
        async with read_connection(self._pool) as connection:
            [(xmin,)] = await (await connection.execute(_HORIZON)).fetchall()
        # Every event still to be read has xact_id >= the horizon, and an id above 0.
        return (int(xmin), 0)

    async def after(
        self,
        position: EventPosition,
        *,
        limit: int,
        owner_id: uuid.UUID | None = None,
    ) -> list[FeedEvent]:
        params: dict[str, Any] = {"xact_id": position[0], "id": position[1], "limit": limit}
        sql = _AFTER
        if owner_id is not None:
            sql, params["owner_id"] = _OWNER_AFTER, owner_id
        async with read_connection(self._pool) as connection:
            rows = await fetch_all(connection, sql, params, dict_row)
        return [_feed_event(row) for row in rows]

    async def position_of(self, owner_id: uuid.UUID, event_id: int) -> EventPosition | None:
        if not 0 < event_id < 2**63:
            return None
        async with read_connection(self._pool) as connection:
            cursor = await connection.execute(_POSITION, {"id": event_id, "owner_id": owner_id})
            row = await cursor.fetchone()
        return None if row is None else (int(row[0]), event_id)
