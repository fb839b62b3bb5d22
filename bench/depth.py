"""What depth costs a page of ``GET /notes/``: by cursor and by offset, through the service.

    python bench/depth.py [--notes 1000000] [--depth 900000] [--limit 20] [--repeat 9]

Runs against the server of ``NOTES_DATABASE_URL`` (``make bench_depth`` sets it to the embedded
one) in a database of its own, ``notes_bench_depth``, migrated and filled with live notes once
(INSERT ... SELECT over generate_series) and kept for later runs. Each page is read through
``NotesService.list`` on the real SQL repository, as a request would, minus HTTP; the figure is
the median of ``--repeat`` reads after one warm-up read.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable

import localpg
import psycopg
from common import bench_account, migrate
from notes.connectors.database import create_engine
from notes.connectors.unit_of_work import SqlUnitOfWork
from notes.core.config import Settings
from notes.entities import Position
from notes.services.cursors import CursorCodec
from notes.services.notes import NotesService
from sqlalchemy import text

DATABASE = "notes_bench_depth"


def prepare(url: str, notes: int) -> uuid.UUID:
    """Migrate the bench database and fill it with ``notes`` live notes of one owner unless it
    has them; the owner."""
    migrate(url)
    with psycopg.connect(localpg.libpq_url(url), autocommit=True) as conn:
        owners = conn.execute("SELECT DISTINCT owner_id FROM notes").fetchall()
        row = conn.execute("SELECT count(*) FROM notes WHERE deleted_at IS NULL").fetchone()
        if row is not None and row[0] == notes and len(owners) == 1:
            print(f"reusing {notes:,} notes in {DATABASE}")
            owner: uuid.UUID = owners[0][0]
            return owner
        print(f"filling {DATABASE} with {notes:,} notes ...", flush=True)
        started = time.perf_counter()
        conn.execute("TRUNCATE notes CASCADE")
        owner = bench_account(url).id
        # Two notes per second, so half the positions tie on creation_date and need the id.
        conn.execute(
            "INSERT INTO notes (id, owner_id, contents, category, creation_date, updated_at)"
            " SELECT gen_random_uuid(), %s,"
            "  'note ' || i || ' about ' || (ARRAY['gardens', 'running', 'cooking'])[i %% 3 + 1],"
            "  (ARRAY['work', 'home', 'ideas', ''])[i %% 4 + 1],"
            "  t, t"
            " FROM generate_series(1, %s) AS i,"
            "  LATERAL (SELECT timestamptz '2020-01-01Z' + (i / 2) * interval '1 s') AS c(t)",
            (owner, notes),
        )
        conn.execute("VACUUM ANALYZE notes")
        print(f"filled in {time.perf_counter() - started:.0f} s")
    return owner


async def median_ms(read: Callable[[], Awaitable[object]], repeat: int) -> float:
    """Median wall time of ``await read()`` in milliseconds, after one warm-up call."""
    await read()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await read()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def measure(
    url: str, owner: uuid.UUID, depth: int, limit: int, repeat: int
) -> list[tuple[str, float]]:
    """Median times of the first page and of a page ``depth`` notes deep, both ways."""
    engine = create_engine(Settings(database_url=url, db_pool_size=1, db_max_overflow=0))
    codec = CursorCodec(secrets.token_bytes(32))
    service = NotesService(lambda: SqlUnitOfWork(engine.connect), cursors=codec)
    try:
        async with engine.connect() as conn:
            # The last note of the page before the deep one: where a walk by cursor stands.
            row = (
                await conn.execute(
                    text(
                        "SELECT creation_date, id FROM notes"
                        " WHERE owner_id = :owner AND deleted_at IS NULL"
                        " ORDER BY creation_date DESC, id DESC OFFSET :skip LIMIT 1"
                    ),
                    {"owner": owner, "skip": depth - 1},
                )
            ).one()
        cursor = codec.encode(Position(row.creation_date, row.id), owner)
        by_cursor = await service.list(owner, limit=limit, cursor=cursor)
        by_offset = await service.list(owner, limit=limit, offset=depth)
        if [n.id for n in by_cursor.notes] != [n.id for n in by_offset.notes]:
            sys.exit("the deep page by cursor and by offset differ: the benchmark is wrong")
        return [
            ("first page", await median_ms(lambda: service.list(owner, limit=limit), repeat)),
            (
                f"{depth:,} deep, by cursor",
                await median_ms(lambda: service.list(owner, limit=limit, cursor=cursor), repeat),
            ),
            (
                f"{depth:,} deep, by offset",
                await median_ms(lambda: service.list(owner, limit=limit, offset=depth), repeat),
            ),
        ]
    finally:
        await engine.dispose()


def main() -> int:
    """Prepare the data, measure, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=1_000_000)
    parser.add_argument("--depth", type=int, default=900_000)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=9)
    options = parser.parse_args()
    if not 0 < options.depth < options.notes:
        parser.error("--depth must be between 0 and --notes")
    server = os.environ.get("NOTES_DATABASE_URL")
    if not server:
        sys.exit("NOTES_DATABASE_URL is not set; run `make bench_depth`")
    localpg.create_database(server, DATABASE)
    url = localpg.with_database(server, DATABASE)
    owner = prepare(url, options.notes)
    results = asyncio.run(measure(url, owner, options.depth, options.limit, options.repeat))

    first = results[0][1]
    print(
        f"\n{options.notes:,} live notes, pages of {options.limit}, "
        f"median of {options.repeat} reads through NotesService.list (no HTTP)\n"
    )
    print(f"{'page':<28} {'ms':>9} {'x first page':>13}")
    for name, ms in results:
        print(f"{name:<28} {ms:>9.2f} {ms / first:>13.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
