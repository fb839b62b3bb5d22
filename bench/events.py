"""Event dispatch benchmark: throughput through the worker, and the delay to the last listener.

Runs against a database of its own (``notes_bench_events``, created, migrated and dropped) on
the server ``NOTES_DATABASE_URL`` names (``make bench_events`` points it at the embedded one).

1. Throughput: records ``--backlog`` notes (each a ``NoteCreated`` event with hashtags and a
   category) with no worker running, then starts ``python -m notes.worker`` (batches of
   ``--batch-size`` events) and waits until every event is dispatched. Events/s = events /
   (last ``dispatched_at`` - first ``processed_at``): from the moment the first listener took
   up the first batch to the moment the last batch was marked dispatched, every listener
   having handled it.
2. Delay: with that worker running, creates ``--paced`` notes one at a time, ``--rate`` per
   second, and measures from each commit to its event's ``dispatched_at`` (set once the last
   listener has committed).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import time
import uuid

import localpg
from common import bench_account, machine, migrate
from notes.bootstrap import Container, bootstrap
from notes.core.config import Settings
from sqlalchemy import text

DATABASE = "notes_bench_events"
TAGS = [f"tag{i}" for i in range(50)]
CATEGORIES = [f"category{i}" for i in range(10)]


def contents(rng: random.Random) -> str:
    """A note with one to three hashtags."""
    tags = " ".join(f"#{tag}" for tag in rng.sample(TAGS, rng.randint(1, 3)))
    return f"benchmark note {secrets.token_hex(4)} {tags}"


async def pending(container: Container) -> int:
    async with container.engine.connect() as conn:
        result = await conn.scalar(text("SELECT count(*) FROM events WHERE dispatched_at IS NULL"))
    return int(result or 0)


async def wait_until_dispatched(container: Container, worker: subprocess.Popen[bytes]) -> None:
    while await pending(container):
        if worker.poll() is not None:
            msg = f"the worker exited with {worker.returncode}"
            raise RuntimeError(msg)
        await asyncio.sleep(0.02)


async def throughput(
    container: Container, owner: uuid.UUID, backlog: int, batch_size: int, rng: random.Random
) -> subprocess.Popen[bytes]:
    print(f"recording {backlog} events with no worker running ...", flush=True)
    for start in range(0, backlog, 50):
        await asyncio.gather(
            *(
                container.notes.create(
                    owner, contents=contents(rng), category=rng.choice(CATEGORIES)
                )
                for _ in range(min(50, backlog - start))
            )
        )
    env = {
        **os.environ,
        "NOTES_DATABASE_URL": container.settings.database_url,
        "NOTES_WORKER_BATCH_SIZE": str(batch_size),
    }
    started = time.monotonic()
    worker = subprocess.Popen([sys.executable, "-m", "notes.worker"], env=env)
    await wait_until_dispatched(container, worker)
    wall = time.monotonic() - started
    async with container.engine.connect() as conn:
        first, last, events, records = (
            await conn.execute(
                text(
                    "SELECT (SELECT min(processed_at) FROM processed_events), "
                    "max(dispatched_at), count(*), "
                    "(SELECT count(*) FROM processed_events) FROM events"
                )
            )
        ).one()
    seconds = (last - first).total_seconds()
    print(
        f"throughput: {events} events in {seconds:.2f} s = {events / seconds:,.0f} events/s "
        f"through 3 listeners ({records} listener records; batches of up to {batch_size}; "
        f"wall time from starting the worker: {wall:.2f} s)",
        flush=True,
    )
    return worker


async def delay(
    container: Container, owner: uuid.UUID, count: int, rate: float, rng: random.Random
) -> None:
    print(f"creating {count} notes one at a time, {rate:g}/s, with the worker running ...")
    committed: dict[object, float] = {}
    for _ in range(count):
        note = await container.notes.create(
            owner, contents=contents(rng), category=rng.choice(CATEGORIES)
        )
        committed[note.id] = time.time()
        await asyncio.sleep(1 / rate)
    while await pending(container):
        await asyncio.sleep(0.02)
    async with container.engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT note_id, extract(epoch FROM dispatched_at) "
                    "FROM events WHERE note_id = ANY(:ids)"
                ),
                {"ids": list(committed)},
            )
        ).all()
    delays = sorted((float(done) - committed[note_id]) * 1000 for note_id, done in rows)
    quantiles = statistics.quantiles(delays, n=100)
    print(
        f"commit -> last listener done (dispatched_at) over {len(delays)} events: "
        f"p50 {quantiles[49]:.1f} ms, p99 {quantiles[98]:.1f} ms, max {delays[-1]:.1f} ms"
    )


async def run(url: str, options: argparse.Namespace) -> None:
    settings = Settings(database_url=url)
    container = await bootstrap(settings)
    rng = random.Random(42)  # noqa: S311 - benchmark data, not security
    worker = None
    try:
        owner = bench_account(url).id
        worker = await throughput(container, owner, options.backlog, options.batch_size, rng)
        await delay(container, owner, options.paced, options.rate, rng)
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
        await container.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=5000, help="events for the throughput run")
    parser.add_argument(
        "--batch-size", type=int, default=100, help="NOTES_WORKER_BATCH_SIZE of the worker"
    )
    parser.add_argument("--paced", type=int, default=300, help="notes for the delay run")
    parser.add_argument("--rate", type=float, default=50, help="notes per second in the delay run")
    options = parser.parse_args()

    server = os.environ["NOTES_DATABASE_URL"]
    localpg.drop_database(server, DATABASE)
    localpg.create_database(server, DATABASE)
    url = localpg.with_database(server, DATABASE)
    migrate(url)
    print(f"machine: {machine()}")
    try:
        asyncio.run(run(url, options))
    finally:
        localpg.drop_database(server, DATABASE)


if __name__ == "__main__":
    main()
