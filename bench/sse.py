"""Live event fan-out benchmark: many SSE clients of one app process, each receiving every event.

Runs against a database of its own (``notes_bench_sse``, created, migrated and dropped) on the
server ``NOTES_DATABASE_URL`` names, else on the embedded one (``make bench_streams``).

One app process (``python -m notes``, one worker, no access log) serves ``GET /events/``. This
script opens ``--clients`` streams of one account on it (each waits for its ``: open``
comment, so it is subscribed), then creates notes at ``--rate`` a second for ``--seconds``
through the notes service (as the API does: each create commits a ``NoteCreated`` event and
sends the NOTIFY after its commit). For each event it records when its create returned (the
commit) and when the last client received it; the figure is that delay, p50 and p99 over the
events, with how many clients got every event, and the app process's peak RSS
(``/proc/PID/status``, sampled every 0.2 s).

It measures at the client counts of ``--sweep`` and at ``--clients``, in increasing order,
adding streams between steps, until p99 passes 1 s (or a client is dropped) at or past
``--clients``, or ``--max-seconds`` are near: how many clients one process holds. The
clients are raw asyncio protocols that only look for each event's ``id:`` line, so that this
script's side costs little; it still shares the machine's cores with the app and PostgreSQL
(the CPU columns show each one's share).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import localpg
import psycopg
from common import (
    bench_account,
    cpu_seconds,
    free_port,
    fresh_database,
    machine,
    migrate,
    rss_mb,
    server_url,
    start_server,
    stop,
    table,
    wait_ready,
)

DATABASE = "notes_bench_sse"


@dataclass
class Arrivals:
    """For each event id: how many clients received it, and when the last one did."""

    count: dict[int, int] = field(default_factory=dict)
    last: dict[int, float] = field(default_factory=dict)
    dropped: int = 0


class SseClient(asyncio.Protocol):
    """One ``GET /events/`` on a connection of its own, noting each ``id:`` line's arrival."""

    def __init__(self, request: bytes, arrivals: Arrivals) -> None:
        self._request = request
        self._arrivals = arrivals
        self._tail = b""
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # noqa: S101 - TCP
        self.transport = transport
        transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        text = self._tail + data
        if not self.opened.done() and b": open\n" in text:
            self.opened.set_result(None)
        if b"event: dropped" in text:
            self._arrivals.dropped += 1
        start = 0
        while (found := text.find(b"\nid: ", start)) >= 0:
            end = text.find(b"\n", found + 5)
            if end < 0:
                break
            event_id = int(text[found + 5 : end])
            self._arrivals.count[event_id] = self._arrivals.count.get(event_id, 0) + 1
            self._arrivals.last[event_id] = now
            start = end
        self._tail = text[max(start, len(text) - 200) :]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed before it opened: {exc}"))


async def open_clients(
    port: int, token: str, count: int, arrivals: Arrivals, batch: int = 100
) -> list[SseClient]:
    """``count`` subscribed streams, opened ``batch`` at a time."""
    request = (
        f"GET /events/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    clients: list[SseClient] = []
    for first in range(0, count, batch):
        made = []
        for _ in range(min(batch, count - first)):
            client = SseClient(request, arrivals)
            await loop.create_connection(lambda c=client: c, "127.0.0.1", port)  # type: ignore[misc]
            made.append(client)
        async with asyncio.timeout(60):
            await asyncio.gather(*(c.opened for c in made))
        clients += made
    return clients


async def sample_rss(pid: int, peak: list[float], stop_sampling: asyncio.Event) -> None:
    while not stop_sampling.is_set():
        peak[0] = max(peak[0], rss_mb(pid))
        try:
            async with asyncio.timeout(0.2):
                await stop_sampling.wait()
        except TimeoutError:
            pass


async def paced_notes(
    container: object, owner: uuid.UUID, rate: float, seconds: float
) -> dict[uuid.UUID, float]:
    """Notes created at ``rate`` a second; when each create returned (its commit)."""
    from notes.bootstrap import Container  # noqa: PLC0415 - after the path is set

    assert isinstance(container, Container)  # noqa: S101
    committed: dict[uuid.UUID, float] = {}
    tasks = []

    async def one(i: int) -> None:
        note = await container.notes.create(owner, contents=f"fan-out note {i}")
        committed[note.id] = time.time()

    began = time.perf_counter()
    for i in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, began + i / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return committed


def event_ids(url: str, notes: set[uuid.UUID]) -> dict[int, uuid.UUID]:
    with psycopg.connect(localpg.libpq_url(url)) as conn:
        rows = conn.execute("SELECT id, note_id FROM events").fetchall()
    return {event_id: note_id for event_id, note_id in rows if note_id in notes}


@dataclass
class Step:
    clients: int
    events: int
    complete: int  # events every client received
    dropped: int
    p50_ms: float
    p99_ms: float
    peak_rss_mb: float
    app_cpu: float  # the app process's CPU time over the step's wall time (1.0: one core)
    bench_cpu: float  # this script's


async def measure(  # noqa: PLR0913 - one step's settings
    url: str,
    container: object,
    owner: uuid.UUID,
    *,
    clients: int,
    arrivals: Arrivals,
    app_pid: int,
    rate: float,
    seconds: float,
) -> Step:
    arrivals.count.clear()
    arrivals.last.clear()
    peak = [rss_mb(app_pid)]
    app_cpu, own_cpu, wall = cpu_seconds(app_pid), time.process_time(), time.monotonic()
    stop_sampling = asyncio.Event()
    sampler = asyncio.create_task(sample_rss(app_pid, peak, stop_sampling))
    try:
        committed = await paced_notes(container, owner, rate, seconds)
        ids = event_ids(url, set(committed))
        deadline = time.monotonic() + 10  # the stragglers, at most this long after the last
        while time.monotonic() < deadline and any(arrivals.count.get(e, 0) < clients for e in ids):
            await asyncio.sleep(0.05)
    finally:
        stop_sampling.set()
        await sampler
    wall = time.monotonic() - wall
    app_share = (cpu_seconds(app_pid) - app_cpu) / wall
    own_share = (time.process_time() - own_cpu) / wall
    delays = sorted(
        (arrivals.last[e] - committed[n]) * 1000 for e, n in ids.items() if e in arrivals.last
    )
    complete = sum(1 for e in ids if arrivals.count.get(e, 0) >= clients)
    missing = len(ids) - len(delays)
    # An event no client received counts as slower than every other.
    delays += [float("inf")] * missing
    return Step(
        clients=clients,
        events=len(ids),
        complete=complete,
        dropped=arrivals.dropped,
        p50_ms=statistics.median(delays),
        p99_ms=delays[min(len(delays) - 1, int(len(delays) * 0.99))],
        peak_rss_mb=peak[0],
        app_cpu=app_share,
        bench_cpu=own_share,
    )


def raise_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def bench(args: argparse.Namespace) -> None:
    started = time.monotonic()
    raise_file_limit()  # the app process inherits it
    url = fresh_database(DATABASE)
    logs = Path(tempfile.mkdtemp(prefix="bench-sse-"))
    migrate(url)
    print(f"machine: {machine()}; logs in {logs}")
    account = bench_account(url)
    port = free_port()
    env = {**os.environ, "NOTES_DATABASE_URL": url, "NOTES_LOG_LEVEL": "WARNING"}
    log = logs / "app.log"
    app = start_server(
        [
            sys.executable,
            *os.environ.get("BENCH_APP_PREFIX", "").split(),
            "-m",
            "notes",
            "--port",
            str(port),
            "--no-access-log",
        ],
        port,
        log,
        env,
    )
    from notes.bootstrap import bootstrap  # noqa: PLC0415 - the service, as the API wires it
    from notes.core.config import Settings  # noqa: PLC0415

    steps: list[Step] = []
    clients: list[SseClient] = []
    container = None
    try:
        wait_ready(app, port, log)
        container = await bootstrap(Settings(database_url=url))
        arrivals = Arrivals()
        counts = sorted({*args.sweep, args.clients})
        for target in counts:
            clients += await open_clients(port, account.token, target - len(clients), arrivals)
            step = await measure(
                url,
                container,
                account.id,
                clients=len(clients),
                arrivals=arrivals,
                app_pid=app.pid,
                rate=args.rate,
                seconds=args.seconds,
            )
            steps.append(step)
            print(
                f"{step.clients} clients: p50 {step.p50_ms:.0f} ms, p99 {step.p99_ms:.0f} ms, "
                f"{step.complete}/{step.events} events to every client, {step.dropped} dropped,"
                f" peak RSS {step.peak_rss_mb:.0f} MB, CPU app {step.app_cpu:.2f} bench"
                f" {step.bench_cpu:.2f}",
                flush=True,
            )
            elapsed = time.monotonic() - started
            overloaded = step.p99_ms > 1000 or step.dropped
            if (overloaded and target >= args.clients) or (
                elapsed + 2 * args.seconds + 30 > args.max_seconds
            ):
                break
    finally:
        for client in clients:
            if client.transport is not None:
                client.transport.close()
        if container is not None:
            await container.close()
        stop(app)
        localpg.drop_database(server_url(), DATABASE)
    print()
    print(
        table(
            [
                "clients",
                "events",
                "to every client",
                "dropped",
                "commit->last client p50 (ms)",
                "p99 (ms)",
                "app peak RSS (MB)",
                "app / bench CPU (cores)",
            ],
            [
                [
                    s.clients,
                    s.events,
                    s.complete,
                    s.dropped,
                    f"{s.p50_ms:.0f}",
                    f"{s.p99_ms:.0f}",
                    f"{s.peak_rss_mb:.0f}",
                    f"{s.app_cpu:.2f} / {s.bench_cpu:.2f}",
                ]
                for s in steps
            ],
        )
    )
    first = next((s for s in steps if s.clients == args.clients), steps[-1])
    met = first.p99_ms < 250 and first.peak_rss_mb < 200 and first.complete == first.events
    print(
        f"\ngoal at {first.clients} clients and {args.rate:g} events/s (p99 < 250 ms, RSS < 200"
        f" MB, every event to every client): {'met' if met else 'NOT met'}"
    )
    over = [s.clients for s in steps if s.p99_ms > 1000 or s.dropped]
    held = [s.clients for s in steps if s.clients < min(over, default=10**9)]
    print(
        f"held with p99 <= 1 s: {max(held) if held else 0} clients; "
        + (f"p99 passed 1 s at {min(over)}" if over else "p99 stayed under 1 s at every step")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000, help="clients of the goal's step")
    parser.add_argument("--rate", type=float, default=20.0, help="events a second")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each step")
    parser.add_argument(
        "--sweep",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[100, 250, 500, 750, 1500, 2000, 3000, 4000],
        help="the other client counts measured, in increasing order, until p99 passes 1 s",
    )
    parser.add_argument("--max-seconds", type=float, default=300.0, help="bound on the run")
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
