"""The export's PostgreSQL adapter: a server-side cursor over the list query, read in batches."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator

from psycopg.rows import tuple_row

from notes.connectors.database import ReadPool, read_connection
from notes.connectors.notes_repository import export_sql
from notes.entities import NoteFilter

# The name of the export's cursor, in its own session (visible in pg_cursors there).
CURSOR_NAME = "notes_export"


class PooledNoteExporter:
    """Exports on a connection of the read pool, in a read-only transaction of its own.

    The server renders each note as a line of JSON (``to_json`` of each field) and keeps the
    result behind a server-side cursor (``DECLARE``); each batch is one ``FETCH``, and the
    next one is asked for while the consumer handles the current one (one batch read ahead). So the
    process holds one batch at a time whatever the export's size, and the server's own
    process does the JSON work beside it. Leaving early (``aclose``, a cancelled consumer)
    closes the cursor and ends the transaction before the connection goes back to the pool.

    The transaction's ``TimeZone`` is UTC, so the timestamps read ``...+00:00``. While the
    consumer holds a batch the transaction is idle: a consumer that holds one longer than
    ``NOTES_DB_IDLE_IN_TRANSACTION_TIMEOUT`` loses the export (the server ends the session).
    """

    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def export(
        self, owner_id: uuid.UUID, *, where: NoteFilter, batch_size: int
    ) -> AsyncGenerator[bytes, None]:
        sql, params = export_sql(owner_id, where)
        # read_connection turns a failure of the database into the service's error.
        async with read_connection(self._pool) as connection, connection.transaction():
            await connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            await connection.execute("SET LOCAL TimeZone = 'UTC'")
            async with connection.cursor(CURSOR_NAME, row_factory=tuple_row) as cursor:
                await cursor.execute(sql, params)
                rows = await cursor.fetchmany(batch_size)
                while rows:
                    # The next FETCH runs while the consumer sends this batch.
                    ahead = asyncio.ensure_future(cursor.fetchmany(batch_size))
                    try:
                        yield ("\n".join([row[0] for row in rows]) + "\n").encode()
                    except BaseException:
                        await asyncio.wait([ahead])  # let it end before the CLOSE
                        if not ahead.cancelled():
                            ahead.exception()  # retrieved: the export ends anyway
                        raise
                    rows = await ahead
