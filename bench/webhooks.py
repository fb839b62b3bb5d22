"""Webhook delivery benchmark: deliveries/s to a local receiver, and the delay from a note's
commit to its delivery, beside the job queue's bare rate on the same machine.

Runs against a database of its own (``notes_bench_webhooks``, created, migrated and dropped) on
the server ``NOTES_DATABASE_URL`` names, else on the embedded one (``make bench_webhooks``).

1. Bare queue: 2 worker processes of pgqueuer alone (``bare-worker`` below: no-op jobs, the
   same concurrency as the delivery workers) and ``--deliveries`` jobs enqueued in
   transactions of 100; jobs/s from the first enqueue until the queue is seen empty. The
   limit the deliveries can approach.
2. Throughput: a receiver process on 127.0.0.1 that answers ``204`` at once and records the
   arrival of each ``webhook-id``; one subscription to it; 2 ``python -m notes.worker``
   processes; ``--deliveries`` notes created as fast as the API's service creates them (each
   a ``NoteCreated`` event, so one delivery). Deliveries/s = deliveries / (last arrival -
   first arrival).
3. Delay: with the same workers, ``--rate`` notes a second for ``--paced-seconds``; the delay
   from each create's commit (its return) to its delivery's arrival (p50, p99).

Everything runs on this machine's cores together (PostgreSQL, the workers, the receiver and
this script), so the figures are the machine's, not the service's alone: compare the ratio to
the bare queue measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import localpg
import psycopg
from common import ROOT, bench_account, fresh_database, machine, migrate, server_url, table
from pgqueuer import Job, PsycopgDriver, Queries, QueueManager

DATABASE = "notes_bench_webhooks"
BARE_ENTRYPOINT = "bench_noop"

# --------------------------------------------------------------------------------------------
# The receiver process: answers 204 at once, records when each webhook-id arrived.


class ReceiverProtocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive and Content-Length bodies: just enough for the deliveries."""

    def __init__(self, arrivals: dict[str, float]) -> None:
        self._arrivals = arrivals
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # noqa: S101 - TCP
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self._buffer[:end].decode("latin-1").lower()
            length = 0
            message_id = ""
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name == "content-length":
                    length = int(value)
                elif name == "webhook-id":
                    message_id = value.strip()
            if len(self._buffer) < end + 4 + length:
                return
            self._buffer = self._buffer[end + 4 + length :]
            self._arrivals.setdefault(message_id, time.time())
            assert self._transport is not None  # noqa: S101 - connected
            self._transport.write(b"HTTP/1.1 204 No Content\r\n\r\n")


async def run_receiver(port: int, output: Path) -> None:
    arrivals: dict[str, float] = {}
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: ReceiverProtocol(arrivals), "127.0.0.1", port)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await stop.wait()
    server.close()
    output.write_text(json.dumps(arrivals))  # noqa: ASYNC240 - once, at the end


# --------------------------------------------------------------------------------------------
# The bare queue: pgqueuer with no-op jobs, as the delivery workers run it.


async def run_bare_worker(conninfo: str, concurrency: int) -> None:
    connection = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
    async with connection:
        manager = QueueManager(Queries(PsycopgDriver(connection)))

        @manager.entrypoint(BARE_ENTRYPOINT)
        async def noop(job: Job) -> None:
            return None

        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, manager.shutdown.set)
        print("ready", flush=True)
        batch = max(1, concurrency // 2)
        await manager.run(
            batch_size=batch,
            max_concurrent_tasks=batch * 2,
            dequeue_timeout=timedelta(seconds=0.5),
        )


# --------------------------------------------------------------------------------------------
# The benchmark side.


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start(args: list[str], env: dict[str, str], log: Path, ready: str) -> subprocess.Popen[bytes]:
    """Start a child process; return once ``ready`` shows up in its log."""
    with log.open("wb") as out:
        process = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)  # noqa: S603 - our own command lines
    deadline = time.monotonic() + 60
    while ready not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            msg = f"{args} did not start:\n{log.read_text(errors='replace')}"
            raise RuntimeError(msg)
        time.sleep(0.05)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def bare_queue_rate(url: str, jobs: int, concurrency: int, logs: Path) -> float:
    conninfo = localpg.libpq_url(url)
    workers = [
        start(
            [sys.executable, __file__, "bare-worker", conninfo, str(concurrency)],
            dict(os.environ),
            logs / f"bare-{i}.log",
            "ready",
        )
        for i in range(2)
    ]
    try:
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
            queries = Queries(PsycopgDriver(conn))
            started = time.perf_counter()
            for first in range(0, jobs, 100):
                count = min(100, jobs - first)
                await queries.enqueue([BARE_ENTRYPOINT] * count, [None] * count, [0] * count)
            while True:
                left = await (
                    await conn.execute(
                        "SELECT count(*) FROM pgqueuer WHERE entrypoint = %s", (BARE_ENTRYPOINT,)
                    )
                ).fetchone()
                if left is not None and left[0] == 0:
                    break
                await asyncio.sleep(0.01)
            return jobs / (time.perf_counter() - started)
    finally:
        for worker in workers:
            stop(worker)


async def create_notes(container: object, owner: uuid.UUID, count: int) -> dict[str, float]:
    """``count`` notes as fast as concurrent creates go; each note's commit time."""
    from notes.bootstrap import Container  # noqa: PLC0415 - after the path is set

    assert isinstance(container, Container)  # noqa: S101
    committed: dict[str, float] = {}
    semaphore = asyncio.Semaphore(64)

    async def one(i: int) -> None:
        async with semaphore:
            note = await container.notes.create(owner, contents=f"bench note {i}")
            committed[str(note.id)] = time.time()

    await asyncio.gather(*(one(i) for i in range(count)))
    return committed


async def paced_notes(
    container: object, owner: uuid.UUID, rate: float, seconds: float
) -> dict[str, float]:
    from notes.bootstrap import Container  # noqa: PLC0415

    assert isinstance(container, Container)  # noqa: S101
    committed: dict[str, float] = {}
    tasks = []

    async def one(i: int) -> None:
        note = await container.notes.create(owner, contents=f"paced note {i}")
        committed[str(note.id)] = time.time()

    began = time.perf_counter()
    for i in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, began + i / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return committed


async def delivery_notes(url: str) -> dict[str, tuple[str, float]]:
    """Each delivery's id -> the id of the note whose event it carries, and when the listener
    made the delivery (Unix time)."""
    async with await psycopg.AsyncConnection.connect(localpg.libpq_url(url)) as conn:
        rows = await (
            await conn.execute(
                "SELECT d.id, e.note_id, extract(epoch FROM d.created_at)::float8"
                " FROM webhook_deliveries AS d JOIN events AS e ON e.id = d.event_id"
            )
        ).fetchall()
    return {str(d): (str(n), made) for d, n, made in rows}


async def count_delivered(url: str) -> int:
    async with await psycopg.AsyncConnection.connect(localpg.libpq_url(url)) as conn:
        row = await (
            await conn.execute("SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'")
        ).fetchone()
    return int(row[0]) if row else 0


async def until_delivered(url: str, total: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while await count_delivered(url) < total:
        if time.monotonic() > deadline:
            msg = f"not every delivery was made within {seconds} s"
            raise RuntimeError(msg)
        await asyncio.sleep(0.1)


async def bench(args: argparse.Namespace) -> None:
    url = fresh_database(DATABASE)
    logs = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    try:
        migrate(url)
        print(f"machine: {machine()}; logs in {logs}")
        bare = await bare_queue_rate(url, args.deliveries, args.concurrency, logs)
        print(f"bare queue: {bare:,.0f} jobs/s")

        from notes.bootstrap import bootstrap  # noqa: PLC0415 - the service, as the API wires it
        from notes.core.config import Settings  # noqa: PLC0415

        env = {
            **os.environ,
            "NOTES_DATABASE_URL": url,
            "NOTES_WEBHOOK_ALLOW_HTTP": "true",
            "NOTES_WEBHOOK_ALLOW_LOOPBACK": "true",
            "NOTES_WEBHOOK_CONCURRENCY": str(args.concurrency),
            "NOTES_WORKER_POLL_INTERVAL": "0.5",
            "NOTES_LOG_LEVEL": "WARNING",
        }
        port = free_port()
        receiver_out = logs / "arrivals.json"
        receiver = start(
            [sys.executable, __file__, "receiver", str(port), str(receiver_out)],
            env,
            logs / "receiver.log",
            "ready",
        )
        settings = Settings(database_url=url, webhook_allow_http=True, webhook_allow_loopback=True)
        container = await bootstrap(settings)
        workers: list[subprocess.Popen[bytes]] = []
        try:
            account = bench_account(url)
            await container.webhooks.create(account.id, url=f"http://127.0.0.1:{port}/hook")
            workers = [
                start(
                    [sys.executable, "-m", "notes.worker"],
                    {**env, "NOTES_LOG_LEVEL": "INFO"},
                    logs / f"worker-{i}.log",
                    "taking webhook deliveries",
                )
                for i in range(2)
            ]
            burst = await create_notes(container, account.id, args.deliveries)
            await until_delivered(url, args.deliveries, 600)
            paced = await paced_notes(container, account.id, args.rate, args.paced_seconds)
            await until_delivered(url, args.deliveries + len(paced), 600)
        finally:
            for worker in workers:
                stop(worker)
            stop(receiver)
            await container.close()
        arrivals: dict[str, float] = json.loads(receiver_out.read_text())
        made = await delivery_notes(url)
        notes_of = {d: n for d, (n, _) in made.items()}
        burst_times = sorted(t for d, t in arrivals.items() if notes_of.get(d) in burst)
        rate = (len(burst_times) - 1) / (burst_times[-1] - burst_times[0])
        made_times = sorted(t for n, t in made.values() if n in burst)
        made_rate = (len(made_times) - 1) / (made_times[-1] - made_times[0])
        delays = sorted(
            (arrivals[d] - paced[n]) * 1000
            for d, n in notes_of.items()
            if n in paced and d in arrivals
        )
        p50 = statistics.median(delays)
        p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
        print()
        print(
            table(
                [
                    "bare queue, 2 workers (jobs/s)",
                    "deliveries queued by the listener (/s)",
                    "deliveries, 2 workers (deliveries/s)",
                    "ratio deliveries / bare queue",
                    f"commit->delivery p50 at {args.rate:g}/s (ms)",
                    "p99 (ms)",
                ],
                [
                    [
                        f"{bare:,.0f}",
                        f"{made_rate:,.0f}",
                        f"{rate:,.0f}",
                        f"{rate / bare:.2f}",
                        f"{p50:.1f}",
                        f"{p99:.1f}",
                    ]
                ],
            )
        )
    finally:
        localpg.drop_database(server_url(), DATABASE)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "receiver":
        asyncio.run(run_receiver(int(sys.argv[2]), Path(sys.argv[3])))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "bare-worker":
        asyncio.run(run_bare_worker(sys.argv[2], int(sys.argv[3])))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=5000, help="notes (and jobs) per run")
    parser.add_argument("--concurrency", type=int, default=50, help="per worker process")
    parser.add_argument("--rate", type=float, default=100, help="paced notes a second")
    parser.add_argument("--paced-seconds", type=float, default=10)
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
