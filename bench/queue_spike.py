"""Job-queue spike: procrastinate and pgqueuer side by side, on the webhook-delivery workload.

Runs against a database of its own (``notes_bench_queue_spike``, created and dropped) on the
server ``NOTES_DATABASE_URL`` names, else on the embedded one (``make bench_queue_spike``).
Both libraries' schemas are installed there the way an Alembic migration would do it: their
SQL, run by ``exec_driver_sql`` on a SQLAlchemy connection in one transaction.

1. Checks, once: what each library does with a psycopg connection that is in a transaction,
   as the unit of work's ``SqlTransaction.driver`` is (a job deferred there is seen by
   others only after the commit, and not at all after a rollback).
2. For each library, ``--rounds`` times, the libraries taking turns to go first:

   - enqueue rate in transactions of 1 job and of 100 jobs (BEGIN, enqueue, COMMIT on one
     non-autocommit psycopg connection), each for ``--enqueue-seconds``, no worker running;
   - drain: with 2 worker processes waiting, ``--backlog`` no-op jobs committed in one
     transaction; jobs/s from the commit to the moment the queue is seen empty (every job
     finished in the database);
   - flow: with the 2 workers running, ``--backlog`` more jobs enqueued in transactions of
     100 as fast as one producer can; jobs/s from the first enqueue to the queue seen empty;
   - latency: one job per transaction, ``--rate`` a second for ``--paced-seconds``; the delay
     from each commit's return to the start of the job function in a worker (p50, p99).

3. Failure behaviour, once for each library: a worker killed with SIGKILL in the middle of a
   job, and how long until another worker starts that job again; a worker sent SIGTERM in
   the middle of a 2-second job, and whether it finishes the job before it exits.

Workers are ``python bench/queue_spike.py worker ...`` child processes; each records the
start time of every job it runs and writes them to a file when it stops.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, LiteralString, Protocol, Self

import localpg
import procrastinate
import psycopg
from common import fresh_database, machine, table
from pgqueuer import PgQueuer, Queries
from pgqueuer.adapters.persistence.qb import QueryBuilderEnvironment
from pgqueuer.core.tm import TaskManager
from pgqueuer.models import Job
from pgqueuer.ports.driver import NotifyCallback
from procrastinate.schema import SchemaManager
from procrastinate.types import JSONDict
from psycopg import AsyncRawCursor
from psycopg.rows import dict_row
from sqlalchemy import create_engine

DATABASE = "notes_bench_queue_spike"
TASK = "spike_noop"
WORKERS = 2
STALLED_AFTER = 5.0
"""Seconds without a heartbeat after which a running job counts as abandoned (both libraries)."""
POLL = 1.0
"""Seconds between a worker's polls for jobs when no notification came (both libraries)."""
SETTLE = 1.0
"""Seconds given to a started worker to enter its loop: it says "ready" just before."""

Connection = psycopg.AsyncConnection[Any]

# --------------------------------------------------------------------------------------------
# The worker process side: one library's worker running no-op jobs.


@dataclass
class Record:
    """What a worker process saw: when each job first started (number -> Unix time), repeats."""

    starts: dict[int, float] = field(default_factory=dict)
    repeats: list[int] = field(default_factory=list)

    def job(self, number: int) -> None:
        if number in self.starts:
            self.repeats.append(number)
        else:
            self.starts[number] = time.time()


def procrastinate_app(
    conninfo: str, record: Record, *, min_size: int = 1, max_size: int = 1
) -> procrastinate.App:
    """An app with the no-op task; the task sleeps ``sleep`` seconds when asked to."""
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=conninfo, min_size=min_size, max_size=max_size
        ),
    )

    @app.task(name=TASK)
    async def noop(n: int, sleep: float = 0) -> None:
        record.job(n)
        if sleep:
            await asyncio.sleep(sleep)

    return app


async def retry_stalled_jobs(app: procrastinate.App, *, every: float) -> None:
    """Put jobs of workers silent for STALLED_AFTER seconds back in the queue, forever.

    procrastinate finds such jobs (``get_stalled_jobs``) but leaves the retrying to us: its
    documentation does it from a periodic task; here a side task of each worker does it.
    """
    while True:
        await asyncio.sleep(every)
        for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER):
            await app.job_manager.retry_job(job)


async def run_procrastinate_worker(conninfo: str, record: Record, concurrency: int) -> None:
    app = procrastinate_app(conninfo, record, min_size=2, max_size=concurrency + 2)
    async with app.open_async():
        sweeper = asyncio.create_task(retry_stalled_jobs(app, every=1.0))
        print("ready", flush=True)
        try:
            await app.run_worker_async(
                concurrency=concurrency,
                fetch_job_polling_interval=POLL,
                update_heartbeat_interval=1.0,
                stalled_worker_timeout=STALLED_AFTER,
                install_signal_handlers=True,
            )
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper


async def run_pgqueuer_worker(conninfo: str, record: Record, concurrency: int) -> None:
    connection = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
    async with connection:
        pgq = PgQueuer.from_psycopg_connection(connection)

        @pgq.entrypoint(TASK)
        async def noop(job: Job) -> None:
            number, sleep = (job.payload or b"0 0").split()
            record.job(int(number))
            if float(sleep):
                await asyncio.sleep(float(sleep))

        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, pgq.shutdown.set)
        print("ready", flush=True)
        await pgq.run(
            batch_size=concurrency,
            dequeue_timeout=timedelta(seconds=POLL),
            heartbeat_timeout=timedelta(seconds=STALLED_AFTER),
        )


def worker_main(library: str, conninfo: str, output: Path, concurrency: int) -> None:
    record = Record()
    run = run_procrastinate_worker if library == "procrastinate" else run_pgqueuer_worker
    try:
        asyncio.run(run(conninfo, record, concurrency))
    finally:
        output.write_text(json.dumps({"starts": record.starts, "repeats": record.repeats}))


# --------------------------------------------------------------------------------------------
# The benchmark side: enqueueing on a connection in a transaction, and watching the tables.


class TransactionDriver:
    """pgqueuer's Driver port on a psycopg connection that is in a transaction.

    pgqueuer's own ``PsycopgDriver`` refuses a connection that is not in autocommit mode
    (checked below). Its ``Queries`` take any object of the ``Driver`` protocol, so enqueueing
    in the caller's transaction takes this adapter: it runs the statements on the
    connection and never commits. It cannot listen; it is for enqueueing only.
    """

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._shutdown = asyncio.Event()
        self._tm = TaskManager()

    async def fetch(self, query: str, *args: object) -> list[dict[str, object]]:
        cursor = AsyncRawCursor(self._connection, row_factory=dict_row)
        await cursor.execute(query, args or None)
        return await cursor.fetchall()

    async def execute(self, query: str, *args: object) -> str:
        cursor = AsyncRawCursor(self._connection)
        await cursor.execute(query, args or None)
        return cursor.statusmessage or ""

    async def add_listener(self, channel: str, callback: NotifyCallback) -> None:
        msg = f"a transaction cannot listen on {channel}"
        raise NotImplementedError(msg)

    async def notify(self, channel: str, payload: str) -> None:
        await self.execute("SELECT pg_notify($1, $2)", channel, payload)

    @property
    def shutdown(self) -> asyncio.Event:
        return self._shutdown

    @property
    def tm(self) -> TaskManager:
        return self._tm

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None


class Library(Protocol):
    """One library, as the benchmark drives it from outside the workers."""

    name: str

    async def enqueue(self, connection: Connection, numbers: Sequence[int], sleep: float) -> None:
        """Enqueue one no-op job per number on ``connection``, in its transaction."""

    def unfinished_sql(self) -> LiteralString:
        """SQL giving true while some job is queued or running."""

    def running_sql(self) -> LiteralString:
        """SQL giving the worker holding job ``%(n)s`` while it runs, else null."""

    def finished_sql(self) -> LiteralString:
        """SQL giving true once job ``%(n)s`` (the only one in the table) succeeded."""

    def truncate_sql(self) -> LiteralString:
        """SQL emptying the library's tables."""


class Procrastinate:
    name = "procrastinate"

    def __init__(self, conninfo: str) -> None:
        self._app = procrastinate_app(conninfo, Record())
        self._task = self._app.tasks[TASK]

    async def enqueue(self, connection: Connection, numbers: Sequence[int], sleep: float) -> None:
        deferrer = self._task.configure(connection=connection)
        if len(numbers) == 1:
            await deferrer.defer_async(n=numbers[0], sleep=sleep)
        else:
            jobs: list[JSONDict] = [{"n": n, "sleep": sleep} for n in numbers]
            await deferrer.batch_defer_async(*jobs)

    def unfinished_sql(self) -> LiteralString:
        return "SELECT EXISTS (SELECT FROM procrastinate_jobs WHERE status IN ('todo', 'doing'))"

    def running_sql(self) -> LiteralString:
        return (
            "SELECT worker_id::text FROM procrastinate_jobs "
            "WHERE (args->>'n')::int = %(n)s AND status = 'doing'"
        )

    def finished_sql(self) -> LiteralString:
        return (
            "SELECT EXISTS (SELECT FROM procrastinate_jobs "
            "WHERE (args->>'n')::int = %(n)s AND status = 'succeeded')"
        )

    def truncate_sql(self) -> LiteralString:
        return "TRUNCATE procrastinate_jobs, procrastinate_events, procrastinate_periodic_defers"


class PgQueuerLibrary:
    name = "pgqueuer"

    async def enqueue(self, connection: Connection, numbers: Sequence[int], sleep: float) -> None:
        queries = Queries(TransactionDriver(connection))
        if len(numbers) == 1:
            await queries.enqueue(TASK, f"{numbers[0]} {sleep}".encode())
        else:
            await queries.enqueue(
                [TASK] * len(numbers),
                [f"{n} {sleep}".encode() for n in numbers],
                [0] * len(numbers),
            )

    def unfinished_sql(self) -> LiteralString:
        return "SELECT EXISTS (SELECT FROM pgqueuer WHERE status IN ('queued', 'picked'))"

    def running_sql(self) -> LiteralString:
        return (
            "SELECT queue_manager_id::text FROM pgqueuer "
            "WHERE split_part(convert_from(payload, 'UTF8'), ' ', 1)::int = %(n)s "
            "AND status = 'picked'"
        )

    def finished_sql(self) -> LiteralString:
        # The job's row is deleted when it ends; its number is only in the payload, so this
        # holds for a table with one job in it, as in the failure runs.
        return (
            "SELECT NOT EXISTS (SELECT FROM pgqueuer) AND EXISTS (SELECT FROM pgqueuer_log "
            "WHERE status = 'successful' AND %(n)s IS NOT NULL)"
        )

    def truncate_sql(self) -> LiteralString:
        return "TRUNCATE pgqueuer, pgqueuer_log, pgqueuer_statistics, pgqueuer_schedules"


@dataclass
class Worker:
    """A worker child process, and the file it leaves its job start times in."""

    process: asyncio.subprocess.Process
    output: Path

    async def stop(self, *, seconds: float = 60) -> Record:
        """SIGTERM, wait for the exit, and read what it recorded."""
        self.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.process.wait(), seconds)
        if code != 0:
            msg = f"a worker exited with {code} after SIGTERM"
            raise RuntimeError(msg)
        saved = json.loads(self.output.read_text())
        return Record(
            starts={int(k): float(v) for k, v in saved["starts"].items()},
            repeats=[int(n) for n in saved["repeats"]],
        )

    async def kill(self) -> None:
        self.process.kill()
        await self.process.wait()


@dataclass
class Bench:
    conninfo: str
    options: argparse.Namespace
    scratch: Path

    @contextlib.asynccontextmanager
    async def connection(self, *, autocommit: bool = False) -> AsyncIterator[Connection]:
        connection = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=autocommit)
        async with connection:
            yield connection

    async def sql(self, query: LiteralString, params: dict[str, object] | None = None) -> object:
        """The first column of the first row of ``query`` in a session of its own, or None."""
        async with self.connection(autocommit=True) as connection:
            row = await (await connection.execute(query, params)).fetchone()
        return None if row is None else row[0]

    async def empty(self, library: Library) -> None:
        """Empty the library's tables."""
        async with self.connection(autocommit=True) as connection:
            await connection.execute(library.truncate_sql())

    async def count(self, query: LiteralString) -> int:
        value = await self.sql(query)
        if not isinstance(value, int):
            msg = f"{query!r} gave {value!r}, not a count"
            raise TypeError(msg)
        return value

    async def start_worker(self, library: Library, index: int) -> Worker:
        output = self.scratch / f"{library.name}-{index}-{time.monotonic_ns()}.json"
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "worker",
            library.name,
            self.conninfo,
            str(output),
            "--concurrency",
            str(self.options.concurrency),
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None  # noqa: S101 - asked for above
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        if line.strip() != b"ready":
            msg = f"a {library.name} worker did not start: {line!r}"
            raise RuntimeError(msg)
        return Worker(process, output)

    async def wait_until(
        self, check: Callable[[], Awaitable[bool]], *, seconds: float, what: str
    ) -> float:
        """Poll ``check`` every 10 ms until true; the time it was first seen true."""
        deadline = time.monotonic() + seconds
        while not await check():
            if time.monotonic() > deadline:
                msg = f"timed out after {seconds} s waiting for {what}"
                raise TimeoutError(msg)
            await asyncio.sleep(0.01)
        return time.time()

    async def drained(self, library: Library, *, seconds: float = 300) -> float:
        async with self.connection(autocommit=True) as connection:

            async def empty() -> bool:
                row = await (await connection.execute(library.unfinished_sql())).fetchone()
                return row is not None and not row[0]

            return await self.wait_until(empty, what=f"{library.name} to drain", seconds=seconds)

    async def enqueue_rate(self, library: Library, batch: int) -> float:
        """Jobs per second enqueued in transactions of ``batch`` for --enqueue-seconds."""
        numbers = list(range(batch))
        jobs = 0
        async with self.connection() as connection:
            started = time.monotonic()
            deadline = started + self.options.enqueue_seconds
            while time.monotonic() < deadline:
                await library.enqueue(connection, numbers, 0)
                await connection.commit()
                jobs += batch
            elapsed = time.monotonic() - started
        await self.empty(library)
        return jobs / elapsed

    async def measure(self, library: Library) -> dict[str, float]:
        """One round of every figure for ``library``."""
        figures = {
            "enqueue_1": await self.enqueue_rate(library, 1),
            "enqueue_100": await self.enqueue_rate(library, 100),
        }
        backlog = self.options.backlog
        workers = [await self.start_worker(library, i) for i in range(WORKERS)]
        await asyncio.sleep(SETTLE)
        records: list[Record] = []
        try:
            async with self.connection() as connection:
                for start in range(0, backlog, 100):
                    await library.enqueue(connection, range(start, min(start + 100, backlog)), 0)
                await connection.commit()
                released = time.time()
            drained = await self.drained(library)

            flow_started = time.time()
            async with self.connection() as connection:
                for start in range(backlog, 2 * backlog, 100):
                    await library.enqueue(
                        connection, range(start, min(start + 100, 2 * backlog)), 0
                    )
                    await connection.commit()
            flowed = await self.drained(library)

            committed = await self.paced(library, first=2 * backlog)
            await self.drained(library)
        finally:
            records = [await worker.stop() for worker in workers]
        await self.empty(library)
        starts: dict[int, float] = {}
        repeated = sum(len(record.repeats) for record in records)
        for record in records:
            repeated += len(starts.keys() & record.starts.keys())
            starts |= record.starts

        missing = [n for n in range(2 * backlog) if n not in starts]
        missing += [n for n in committed if n not in starts]
        if missing:
            msg = f"{library.name}: {len(missing)} jobs never started, e.g. {missing[:5]}"
            raise RuntimeError(msg)
        delays = sorted((starts[n] - at) * 1000 for n, at in committed.items())
        quantiles = statistics.quantiles(delays, n=100)
        figures |= {
            "drain": backlog / (drained - released),
            "flow": backlog / (flowed - flow_started),
            "p50": quantiles[49],
            "p99": quantiles[98],
            "repeated": repeated,
        }
        return figures

    async def paced(self, library: Library, *, first: int) -> dict[int, float]:
        """One job per transaction at --rate for --paced-seconds; commit times by number."""
        count = int(self.options.rate * self.options.paced_seconds)
        committed: dict[int, float] = {}
        async with self.connection() as connection:
            started = time.monotonic()
            for i in range(count):
                await asyncio.sleep(max(0.0, started + i / self.options.rate - time.monotonic()))
                await library.enqueue(connection, [first + i], 0)
                await connection.commit()
                committed[first + i] = time.time()
        return committed

    async def sigkill_recovery(self, library: Library) -> float:
        """Seconds from SIGKILL of the worker running a job to another worker running it."""
        async with self.connection() as connection:
            await library.enqueue(connection, [0], 30)
            await connection.commit()
        first = await self.start_worker(library, 0)
        try:

            async def running() -> bool:
                return await self.sql(library.running_sql(), {"n": 0}) is not None

            await self.wait_until(running, seconds=30, what="the slow job to start")
            holder = await self.sql(library.running_sql(), {"n": 0})
            second = await self.start_worker(library, 1)
            await asyncio.sleep(SETTLE)
        except BaseException:
            await first.kill()
            raise
        try:
            await first.kill()
            killed = time.time()

            async def taken_again() -> bool:
                now = await self.sql(library.running_sql(), {"n": 0})
                return now is not None and now != holder

            picked = await self.wait_until(taken_again, seconds=90, what="the job to be retaken")
        finally:
            await second.kill()
        await self.empty(library)
        return picked - killed

    async def sigterm_drain(self, library: Library) -> tuple[float, bool]:
        """SIGTERM while a 2-second job runs: seconds until exit, and whether the job succeeded."""
        worker = await self.start_worker(library, 0)
        try:
            async with self.connection() as connection:
                await library.enqueue(connection, [1], 2)
                await connection.commit()

            async def running() -> bool:
                return await self.sql(library.running_sql(), {"n": 1}) is not None

            await self.wait_until(running, seconds=30, what="the 2-second job to start")
        except BaseException:
            await worker.kill()
            raise
        signalled = time.monotonic()
        await worker.stop()
        exited = time.monotonic() - signalled
        finished = bool(await self.sql(library.finished_sql(), {"n": 1}))
        await self.empty(library)
        return exited, finished


# --------------------------------------------------------------------------------------------
# Checks of enqueueing in the caller's transaction.


async def visible_after(
    bench: Bench, library: Library, count_sql: LiteralString, *, commit: bool
) -> tuple[int, int]:
    """Jobs another session sees while the enqueueing transaction is open, and after it."""
    async with bench.connection() as connection:
        await library.enqueue(connection, [7], 0)
        during = await bench.count(count_sql)
        if commit:
            await connection.commit()
        else:
            await connection.rollback()
    after = await bench.count(count_sql)
    await bench.empty(library)
    return during, after


async def checks(bench: Bench, libraries: Sequence[Library]) -> list[list[str]]:
    rows: list[list[str]] = []
    counts: dict[str, LiteralString] = {
        "procrastinate": "SELECT count(*) FROM procrastinate_jobs",
        "pgqueuer": "SELECT count(*) FROM pgqueuer",
    }
    for library in libraries:
        for commit in (False, True):
            during, after = await visible_after(bench, library, counts[library.name], commit=commit)
            how = (
                "task.configure(connection=conn).defer_async()"
                if library.name == "procrastinate"
                else "Queries(TransactionDriver(conn)).enqueue()"
            )
            ending = "commit" if commit else "rollback"
            rows.append([library.name, how, ending, f"{during} before, {after} after the {ending}"])
    async with bench.connection() as connection:
        try:
            PgQueuer.from_psycopg_connection(connection)
        except RuntimeError as error:
            found = re.search(r"must have autocommit enabled", str(error))
            refused = f"RuntimeError: ... {found.group() if found else error}"
        else:
            refused = "accepted"
    rows.append(["pgqueuer", "PgQueuer.from_psycopg_connection(conn)", "-", refused])
    # pgqueuer's own way: an autocommit connection, and a transaction block on it.
    async with bench.connection(autocommit=True) as connection:
        queries = Queries.from_psycopg_connection(connection)
        async with connection.transaction(force_rollback=True):
            await queries.enqueue(TASK, b"8 0")
            during = await bench.count(counts["pgqueuer"])
        after = await bench.count(counts["pgqueuer"])
    rows.append(
        [
            "pgqueuer",
            "autocommit conn, `async with conn.transaction()`: Queries.enqueue()",
            "rollback",
            f"{during} before, {after} after the rollback",
        ]
    )
    return rows


# --------------------------------------------------------------------------------------------


def install_schemas(url: str) -> None:
    """Both libraries' schemas, as an Alembic migration would apply them (``%`` doubled)."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for schema in (
                SchemaManager.get_schema(),
                QueryBuilderEnvironment().build_install_query(),
            ):
                connection.exec_driver_sql(schema.replace("%", "%%"))
    finally:
        engine.dispose()


async def conditions(bench: Bench) -> str:
    """The server's version and durability settings, and the machine's load now."""
    settings = [
        f"{name} {await bench.sql('SELECT current_setting(%(name)s)', {'name': name})}"
        for name in ("server_version", "fsync", "synchronous_commit", "shared_buffers")
    ]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"PostgreSQL {', '.join(settings)}; load average {load}"


COLUMNS = [
    ("enqueue_1", "enqueue, 1 job/tx (jobs/s)", "{:,.0f}"),
    ("enqueue_100", "enqueue, 100 jobs/tx (jobs/s)", "{:,.0f}"),
    ("drain", "drain backlog, 2 workers (jobs/s)", "{:,.0f}"),
    ("flow", "enqueue+run, 2 workers (jobs/s)", "{:,.0f}"),
    ("p50", "commit->start p50 (ms)", "{:.1f}"),
    ("p99", "commit->start p99 (ms)", "{:.1f}"),
    ("repeated", "jobs started twice", "{:.0f}"),
]


async def run(url: str, options: argparse.Namespace) -> None:
    conninfo = localpg.libpq_url(url)
    with tempfile.TemporaryDirectory(prefix="queue-spike-") as scratch:
        bench = Bench(conninfo, options, Path(scratch))
        print(f"machine: {machine()}")
        print(f"conditions: {await conditions(bench)}", flush=True)
        libraries: list[Library] = [Procrastinate(conninfo), PgQueuerLibrary()]

        print("\nEnqueueing on a psycopg connection in a transaction (seen by another session):")
        print(table(["library", "call", "ending", "jobs seen"], await checks(bench, libraries)))

        results: dict[str, list[dict[str, float]]] = {lib.name: [] for lib in libraries}
        for round_ in range(options.rounds):
            order = libraries if round_ % 2 == 0 else libraries[::-1]
            for library in order:
                print(f"round {round_ + 1}: {library.name} ...", flush=True)
                results[library.name].append(await bench.measure(library))
        print(f"\nafter the rounds: {await conditions(bench)}")

        rows: list[list[str]] = []
        for round_ in range(options.rounds):
            for library in libraries:
                figures = results[library.name][round_]
                rows.append(
                    [
                        str(round_ + 1),
                        library.name,
                        *(fmt.format(figures[key]) for key, _, fmt in COLUMNS),
                    ]
                )
            mine, theirs = results["pgqueuer"][round_], results["procrastinate"][round_]
            ratio = [
                f"{mine[key] / theirs[key]:.2f}" if theirs[key] else "-" for key, _, _ in COLUMNS
            ]
            rows.append([str(round_ + 1), "ratio pgqueuer/procrastinate", *ratio])
        print(
            f"\nFigures (backlog {options.backlog} jobs, {WORKERS} workers x concurrency "
            f"{options.concurrency}; paced {options.rate:g} jobs/s "
            f"for {options.paced_seconds:g} s):"
        )
        print(table(["round", "library", *(title for _, title, _ in COLUMNS)], rows))

        if options.failures:
            failure_rows: list[list[str]] = []
            for library in libraries:
                print(f"failure behaviour: {library.name} ...", flush=True)
                recovered = await bench.sigkill_recovery(library)
                exited, finished = await bench.sigterm_drain(library)
                failure_rows.append(
                    [
                        library.name,
                        f"{recovered:.1f}",
                        f"{exited:.1f}",
                        "yes" if finished else "NO",
                    ]
                )
            print(
                f"\nFailure behaviour (abandoned after {STALLED_AFTER:g} s without heartbeat, "
                f"polls every {POLL:g} s):"
            )
            print(
                table(
                    [
                        "library",
                        "SIGKILL mid-job -> job running again (s)",
                        "SIGTERM mid-job -> worker exited (s)",
                        "that job finished",
                    ],
                    failure_rows,
                )
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="rounds of every figure")
    parser.add_argument("--enqueue-seconds", type=float, default=3.0)
    parser.add_argument("--backlog", type=int, default=5_000, help="jobs for drain and flow")
    parser.add_argument("--rate", type=float, default=200, help="jobs/s in the latency run")
    parser.add_argument("--paced-seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=10, help="jobs at once per worker")
    parser.add_argument(
        "--no-failures", dest="failures", action="store_false", help="skip SIGKILL/SIGTERM"
    )
    commands = parser.add_subparsers(dest="command")
    worker = commands.add_parser("worker", help="(internal) one worker process")
    worker.add_argument("library", choices=["procrastinate", "pgqueuer"])
    worker.add_argument("conninfo")
    worker.add_argument("output", type=Path)
    worker.add_argument("--concurrency", type=int, default=10)
    options = parser.parse_args()
    # procrastinate warns of an app made in __main__, where tasks named after their module
    # would be misnamed; the task here has a name of its own.
    logging.getLogger("procrastinate.blueprints").setLevel(logging.ERROR)

    if options.command == "worker":
        worker_main(options.library, options.conninfo, options.output, options.concurrency)
        return

    url = fresh_database(DATABASE)
    try:
        install_schemas(url)
        asyncio.run(run(url, options))
    finally:
        localpg.drop_database(url, DATABASE)


if __name__ == "__main__":
    main()
