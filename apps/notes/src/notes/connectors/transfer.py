"""The export's PostgreSQL adapter: ``COPY (the list query) TO STDOUT``, read as it comes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator

import psycopg
from psycopg import pq

from notes.connectors.database import ReadPool, read_connection
from notes.connectors.notes_repository import export_sql
from notes.entities import NoteFilter

# The binary format passes each line as the server rendered it, behind a header of its own.
# (The text format would double the JSON's backslashes, and CSV makes the server scan every
# line for quote characters: 5% to 12% slower, docs/benchmarks.md.) A binary COPY begins with
# a file header, gives each row as a field count (2 bytes), a length (4) and the value, and
# ends with a field count of -1.
_COPY_OPTIONS = "(FORMAT binary)"
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_ROW_HEADER = 6
_TRAILER_LENGTH = 2

# The most bytes of lines one chunk holds (besides ``batch_size`` lines at most).
CHUNK_BYTES = 256 * 1024

# Every export's transaction: UTC timestamps (``...+00:00``), UTF-8 lines, and no
# ``statement_timeout``, since the export is one statement.
_EVERY_EXPORT = {"TimeZone": "UTC", "client_encoding": "UTF8", "statement_timeout": "0"}

# Without a text or tag filter, the export walks the owner's index in the list's order, and
# these settings make that walk a parallel index scan under a Gather Merge: the lines are
# rendered on two or three processes. The planner's defaults price a row as a plain one and
# charge for starting workers and passing rows between processes, so they keep the walk on
# one process; a row of the export renders JSON (``cpu_tuple_cost`` ten times the default
# tells it so), and sorts are ruled out so that the planner does not trade the index for a
# parallel scan and a sort spilled to disk. PostgreSQL's own least sizes for a parallel scan
# still keep small exports on one process. A text or tag filter keeps the planner's own plan,
# as the list does: a search may match few notes of many.
_PARALLEL_IN_INDEX_ORDER = {
    "parallel_setup_cost": "0",
    "parallel_tuple_cost": "0",
    "cpu_tuple_cost": "0.1",
    "enable_sort": "off",
}


class PooledNoteExporter:
    """Exports on a connection of the read pool, in a read-only transaction of its own.

    The server renders each note as a line of JSON (``to_json`` of each field) and sends the
    lines with ``COPY ... TO STDOUT``, each row one line; the exporter passes them on in chunks
    of up to ``batch_size`` lines (and ``CHUNK_BYTES``), or fewer when no more has arrived. It
    reads libpq's buffer directly (``get_copy_data``): psycopg's ``Copy.read`` costs a
    generator and a wait per row, more than the rest of the export's work in the app. The
    consumer not asking for the next chunk stops the reading, so TCP's flow control pauses the
    server: the process holds one chunk and what the socket holds, whatever the export's size.

    Leaving early (``aclose``, a cancelled consumer) cancels the COPY and ends the transaction
    before the connection goes back to the pool. The export is one statement, so the session's
    ``statement_timeout`` is lifted for it; a client that stops reading is the route's to drop.
    The transaction's ``TimeZone`` is UTC, so the timestamps read ``...+00:00``.
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
            # One round trip for the rest: set_config(..., true) is SET LOCAL.
            settings = _settings(where)
            await connection.execute(
                "SELECT " + ", ".join(["set_config(%s, %s, true)"] * len(settings)),
                [value for pair in settings.items() for value in pair],
            )
            cursor = connection.cursor()
            # COPY takes no server-side parameters: psycopg binds them into the text.
            async with cursor.copy(f"COPY ({sql}) TO STDOUT {_COPY_OPTIONS}", params):
                async for chunk in _copied(connection, batch_size, CHUNK_BYTES):
                    yield chunk


def _settings(where: NoteFilter) -> dict[str, str]:
    """The settings of the export's transaction, by name."""
    if where.text is None and where.tag is None:
        return _EVERY_EXPORT | _PARALLEL_IN_INDEX_ORDER
    return _EVERY_EXPORT


async def _copied(
    connection: psycopg.AsyncConnection[object], max_lines: int, max_bytes: int
) -> AsyncGenerator[bytes, None]:
    """The lines of the running binary ``COPY TO``, in chunks; ends with the COPY."""
    pgconn = connection.pgconn
    lines: list[memoryview] = []
    size = 0
    first = True
    while True:
        length, row = pgconn.get_copy_data(1)  # 1: return 0 rather than wait
        if length == 0:
            # libpq reads 16 KB or so at a time: take what the socket already holds, without
            # waiting, before passing a part of a chunk on.
            pgconn.consume_input()
            length, row = pgconn.get_copy_data(1)
        if length > 0:
            if first:
                row = row[_header_length(row) :]
                first = False
            if len(row) == _TRAILER_LENGTH:  # a row is longer: this is the end
                continue
            lines.append(row[_ROW_HEADER:])
            size += length
            if len(lines) < max_lines and size < max_bytes:
                continue
            yield b"\n".join(lines) + b"\n"  # a full chunk
            lines, size = [], 0
            continue
        if lines:  # all that has arrived, or the last lines
            yield b"\n".join(lines) + b"\n"
            lines, size = [], 0
        if length == 0:
            await _readable(pgconn)
            continue
        # -1: the rows are over, the statement's result follows.
        try:
            await _finish(pgconn)
        except psycopg.Error:
            raise  # the server's answer was read whole: the connection is fit for reuse
        except BaseException:
            # Interrupted between the rows and the result: psycopg cannot tell where the
            # protocol stands, so the connection is closed and the pool replaces it.
            await connection.close()
            raise
        return


def _header_length(data: memoryview) -> int:
    """The length of the binary COPY header that ``data``, the first message, begins with."""
    if data[: len(_SIGNATURE)] != _SIGNATURE:
        msg = "a binary COPY did not begin with its signature"
        raise psycopg.DataError(msg)
    extension = int.from_bytes(data[len(_SIGNATURE) + 4 : len(_SIGNATURE) + 8], "big")
    return len(_SIGNATURE) + 8 + extension


async def _readable(pgconn: pq.abc.PGconn) -> None:
    """Wait until the server's socket has data, then take it into libpq's buffer."""
    loop = asyncio.get_running_loop()
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(pgconn.socket, wake)
    try:
        await ready
    finally:
        loop.remove_reader(pgconn.socket)
    pgconn.consume_input()


async def _finish(pgconn: pq.abc.PGconn) -> None:
    """Read the COPY's result; raise the server's error if it failed."""
    while pgconn.is_busy():
        await _readable(pgconn)
    failures = []
    while (result := pgconn.get_result()) is not None:
        if result.status != pq.ExecStatus.COMMAND_OK:
            failures.append(result)
    if failures:
        result = failures[0]
        state = (result.error_field(pq.DiagnosticField.SQLSTATE) or b"").decode()
        try:
            error = psycopg.errors.lookup(state)
        except KeyError:  # no SQLSTATE: a lost connection, or one psycopg does not know
            lost = pgconn.status == pq.ConnStatus.BAD
            error = psycopg.OperationalError if lost else psycopg.DatabaseError
        raise error(result.get_error_message(), info=result)
