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
3. Poison, side by side with 1: in a second database of its own, the same ``--backlog`` notes
   plus ``--poison`` notes tagged ``#poison``, one in every ``(backlog + poison) / poison``
   events (``--layout interleaved``) or all recorded first (``--layout first``). With
   ``--poison-in listener`` (the default) the worker is ``bench/poison_worker.py``: the real
   listeners plus one that raises in Python for every poisoned event. With ``--poison-in
   database`` it is the real worker, and a trigger on ``note_tags`` raises for the tag, so
   the tag listener's own statement fails inside PostgreSQL. The worker runs with 3 attempts and
   short delays (0.5 s doubling to 2 s), so the poisoned events are parked within seconds.
   Reported: the throughput of the normal events (normal events / time from the first
   listener record to the last normal event dispatched), its ratio to run 1, and when the
   last poisoned event was parked.
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
from pathlib import Path

import localpg
from common import bench_account, machine, migrate
from notes.bootstrap import Container, bootstrap
from notes.core.config import Settings
from poison_worker import POISON_TAG
from sqlalchemy import text

DATABASE = "notes_bench_events"
POISON_DATABASE = "notes_bench_events_poison"
# In the poison run's database only: the tag listener's statement fails for a poisoned note.
POISON_TRIGGER = f"""
CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.tag = '{POISON_TAG}' THEN
        RAISE EXCEPTION 'poisoned note % (a benchmark trigger)', NEW.note_id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_poison BEFORE INSERT ON note_tags
    FOR EACH ROW EXECUTE FUNCTION refuse_poison();
"""
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


async def record_backlog(  # noqa: PLR0913 - the shape of the backlog
    container: Container,
    owner: uuid.UUID,
    backlog: int,
    poison: int,
    rng: random.Random,
    *,
    layout: str = "interleaved",
) -> None:
    total = backlog + poison
    every = total // poison if poison else 0

    def poisoned(i: int) -> bool:
        if layout == "first":
            return i < poison
        return bool(every) and i % every == 0 and i // every < poison

    print(f"recording {backlog} events and {poison} poisoned ones ({layout}), no worker ...")
    for start in range(0, total, 50):
        await asyncio.gather(
            *(
                container.notes.create(
                    owner,
                    contents=f"{contents(rng)} #{POISON_TAG}" if poisoned(i) else contents(rng),
                    category=rng.choice(CATEGORIES),
                )
                for i in range(start, min(start + 50, total))
            )
        )


POISON_WORKER = str(Path(__file__).resolve().parent / "poison_worker.py")


def start_worker(
    container: Container, batch_size: int, *command: str, **env: str
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - this interpreter, with a fixed module or script
        [sys.executable, *(command or ("-m", "notes.worker"))],
        env={
            **os.environ,
            "NOTES_DATABASE_URL": container.settings.database_url,
            "NOTES_WORKER_BATCH_SIZE": str(batch_size),
            **env,
        },
    )


async def throughput(
    container: Container, owner: uuid.UUID, backlog: int, batch_size: int, rng: random.Random
) -> tuple[subprocess.Popen[bytes], float]:
    await record_backlog(container, owner, backlog, 0, rng)
    started = time.monotonic()
    worker = start_worker(container, batch_size)
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
    return worker, events / seconds


async def poisoned_throughput(  # noqa: PLR0913 - the run's settings
    url: str,
    backlog: int,
    poison: int,
    batch_size: int,
    *,
    clean_rate: float,
    layout: str,
    poison_in: str,
) -> None:
    settings = Settings(database_url=url)
    container = await bootstrap(settings)
    rng = random.Random(42)  # noqa: S311 - benchmark data, not security
    worker = None
    try:
        if poison_in == "database":
            async with container.engine.begin() as conn:
                await conn.execute(text(POISON_TRIGGER))
        await record_backlog(container, bench_account(url).id, backlog, poison, rng, layout=layout)
        started = time.monotonic()
        worker = start_worker(
            container,
            batch_size,
            *((POISON_WORKER,) if poison_in == "listener" else ()),
            NOTES_EVENT_MAX_ATTEMPTS="3",
            NOTES_EVENT_RETRY_BASE_SECONDS="0.5",
            NOTES_EVENT_RETRY_MAX_SECONDS="2",
            NOTES_WORKER_POLL_INTERVAL="0.2",
            NOTES_LOG_LEVEL="ERROR",
        )
        await wait_until_dispatched(container, worker)
        wall = time.monotonic() - started
        async with container.engine.connect() as conn:
            first, first_normal, last_normal, normal, parked, last_parked = (
                await conn.execute(
                    text(
                        "SELECT (SELECT min(processed_at) FROM processed_events), "
                        "(SELECT min(p.processed_at) FROM processed_events p "
                        "JOIN events e ON e.id = p.event_id WHERE NOT e.payload->'tags' ? :tag), "
                        "max(dispatched_at) FILTER (WHERE NOT payload->'tags' ? :tag), "
                        "count(*) FILTER (WHERE NOT payload->'tags' ? :tag), "
                        "(SELECT count(*) FROM event_failures WHERE parked_at IS NOT NULL), "
                        "(SELECT max(parked_at) FROM event_failures) FROM events"
                    ),
                    {"tag": POISON_TAG},
                )
            ).one()
        seconds = (last_normal - first).total_seconds()
        rate = normal / seconds
        steady = normal / (last_normal - first_normal).total_seconds()
        print(
            f"poison ({layout}, in the {poison_in}): {normal} normal events in {seconds:.2f} s "
            f"= {rate:,.0f} events/s "
            f"({clean_rate / rate:.2f}x slower than without poison) among {poison} poisoned "
            f"ones; {parked} parked after 3 attempts each, the last "
            f"{(last_parked - first).total_seconds():.1f} s after the first listener record "
            f"(wall time from starting the worker: {wall:.2f} s); from the first normal event "
            f"handled on: {steady:,.0f} events/s ({clean_rate / steady:.2f}x)",
            flush=True,
        )
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
        await container.close()


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
        worker, rate = await throughput(container, owner, options.backlog, options.batch_size, rng)
        await delay(container, owner, options.paced, options.rate, rng)
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
        await container.close()
    if options.poison:
        server = os.environ["NOTES_DATABASE_URL"]
        poisoned = fresh_database(server, POISON_DATABASE)
        try:
            await poisoned_throughput(
                poisoned,
                options.backlog,
                options.poison,
                options.batch_size,
                clean_rate=rate,
                layout=options.layout,
                poison_in=options.poison_in,
            )
        finally:
            localpg.drop_database(server, POISON_DATABASE)


def fresh_database(server: str, name: str) -> str:
    localpg.drop_database(server, name)
    localpg.create_database(server, name)
    url = localpg.with_database(server, name)
    migrate(url)
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=5000, help="events for the throughput run")
    parser.add_argument(
        "--batch-size", type=int, default=100, help="NOTES_WORKER_BATCH_SIZE of the worker"
    )
    parser.add_argument("--paced", type=int, default=300, help="notes for the delay run")
    parser.add_argument("--rate", type=float, default=50, help="notes per second in the delay run")
    parser.add_argument(
        "--poison", type=int, default=500, help="poisoned events in the poison run (0: none)"
    )
    parser.add_argument(
        "--layout",
        choices=["interleaved", "first"],
        default="interleaved",
        help="poisoned events spread evenly among the others, or all recorded first",
    )
    parser.add_argument(
        "--poison-in",
        choices=["listener", "database"],
        default="listener",
        help="what fails on a poisoned event: a listener raising in Python, or a trigger "
        "failing the tag listener's statement in PostgreSQL",
    )
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
