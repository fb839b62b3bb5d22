"""Soak: a mixed, authenticated workload on the API (2 workers) and the event worker, for a
bounded time; errors, memory of every process, and how fast the event backlog drains.

Runs against a database of its own (``notes_soak``, created, migrated and dropped) on the
server ``NOTES_DATABASE_URL`` names (``make soak`` points it at the embedded one). Signs up
``--accounts`` accounts through the API, then ``--connections`` clients, each on a connection
of its own, send requests for ``--seconds`` seconds, each picking an account and an operation
in these proportions: create 25%, get 25%, list 20%, edit 12%, delete 5%, tags 8%,
categories 5%. An answer other than the one expected (201 for a create, 200 otherwise), a 5xx,
or a failed request counts as an error. Every second it samples the resident memory (VmRSS)
of the API's processes and the worker. After the load stops it waits until no event is
pending and reports how long that took.

    python bench/soak.py [--seconds 60] [--connections 64] [--accounts 8]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import localpg
import psycopg
from common import (
    ROOT,
    free_port,
    fresh_database,
    machine,
    migrate,
    rss_kib,
    start_server,
    table,
    wait_ready,
)

DATABASE = "notes_soak"
PASSWORD = "soak test password, long enough"  # noqa: S105 - an account made for the soak
OPERATIONS = {
    "create": 25,
    "get": 25,
    "list": 20,
    "edit": 12,
    "delete": 5,
    "tags": 8,
    "categories": 5,
}


@dataclass
class Account:
    """A signed-up account and its token."""

    token: str


@dataclass
class Tally:
    """Answers by operation and status, and the errors."""

    answers: collections.Counter[tuple[str, int]] = field(default_factory=collections.Counter)
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    latencies: list[float] = field(default_factory=list)


def rss_mib(pid: int) -> float | None:
    """The resident memory of process ``pid`` in MiB, or None once it is gone."""
    kib = rss_kib(pid)
    return None if kib is None else kib / 1024


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (uvicorn's workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


async def sign_up(client: httpx.AsyncClient, count: int) -> list[Account]:
    accounts = []
    for i in range(count):
        email = f"soak-{i}-{os.getpid()}@example.com"
        created = await client.post("/users/", json={"email": email, "password": PASSWORD})
        created.raise_for_status()
        token = await client.post("/tokens/", json={"email": email, "password": PASSWORD})
        token.raise_for_status()
        accounts.append(Account(token.json()["access_token"]))
    return accounts


async def one_request(  # noqa: PLR0911 - one branch per operation
    client: httpx.AsyncClient,
    account: Account,
    notes: list[str],
    operation: str,
    rng: random.Random,
) -> tuple[httpx.Response, int] | None:
    """One request; ``notes`` are the live notes this client made in ``account``."""
    headers = {"Authorization": f"Bearer {account.token}"}
    tags = " ".join(f"#t{rng.randrange(40)}" for _ in range(rng.randint(0, 3)))
    body = {"contents": f"soak note {rng.random():.6f} {tags}", "category": f"c{rng.randrange(8)}"}
    if operation == "create" or (operation in {"get", "edit", "delete"} and not notes):
        response = await client.post("/notes/", json=body, headers=headers)
        if response.status_code == 201:
            notes.append(response.json()["id"])
        return response, 201
    if operation == "get":
        note = rng.choice(notes)
        return await client.get(f"/notes/{note}/", headers=headers), 200
    if operation == "edit":
        note = rng.choice(notes)
        return await client.patch(f"/notes/{note}/", json=body, headers=headers), 200
    if operation == "delete":
        note = notes.pop(rng.randrange(len(notes)))
        return await client.delete(f"/notes/{note}/", headers=headers), 200
    if operation == "list":
        params: dict[str, str | int] = {"limit": 20}
        if rng.random() < 0.5:
            params["tag"] = f"t{rng.randrange(40)}"
        return await client.get("/notes/", params=params, headers=headers), 200
    if operation == "tags":
        return await client.get("/tags/", headers=headers), 200
    if operation == "categories":
        return await client.get("/categories/", headers=headers), 200
    return None


async def client_loop(
    base_url: str, accounts: list[Account], deadline: float, tally: Tally, seed: int
) -> None:
    rng = random.Random(seed)  # noqa: S311 - a workload, not security
    names, weights = list(OPERATIONS), list(OPERATIONS.values())
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        # Each client edits and deletes only the notes it created (in whichever account), so no
        # note is deleted by one client while another edits it: every expected answer is exact.
        mine: dict[int, list[str]] = collections.defaultdict(list)
        while time.monotonic() < deadline:
            which = seed % len(accounts) if rng.random() < 0.8 else rng.randrange(len(accounts))
            operation = rng.choices(names, weights)[0]
            started = time.monotonic()
            try:
                result = await one_request(client, accounts[which], mine[which], operation, rng)
            except httpx.HTTPError as error:
                tally.errors[f"{operation}: {type(error).__name__}"] += 1
                continue
            tally.latencies.append(time.monotonic() - started)
            if result is None:
                continue
            response, expected = result
            tally.answers[operation, response.status_code] += 1
            if response.status_code != expected:
                tally.errors[f"{operation}: {response.status_code}"] += 1


def pending(url: str) -> int:
    with psycopg.connect(localpg.libpq_url(url), autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM events WHERE dispatched_at IS NULL").fetchone()
    return int(row[0]) if row else 0


def slope_mib_per_min(samples: list[tuple[float, float]]) -> float:
    """The least-squares slope of (seconds, MiB) samples, in MiB per minute."""
    if len(samples) < 2:
        return 0.0
    xs, ys = [t for t, _ in samples], [m for _, m in samples]
    return statistics.linear_regression(xs, ys).slope * 60


def start_api(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    """The API with 2 workers, without access logs; returns once it is ready."""
    env = {**os.environ, "NOTES_DATABASE_URL": url, "NOTES_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "notes", "--port", str(port), "--workers", "2"]
    api = start_server([*command, "--no-access-log"], port, log, env)
    wait_ready(api, port, log)
    return api


async def run(url: str, options: argparse.Namespace, workdir: Path) -> int:
    port = free_port()
    api = start_api(url, port, workdir / "api.log")
    worker = subprocess.Popen(
        [sys.executable, "-m", "notes.worker"],
        cwd=ROOT,
        env={**os.environ, "NOTES_DATABASE_URL": url, "NOTES_LOG_LEVEL": "WARNING"},
        stdout=(workdir / "worker.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    memory: dict[str, list[tuple[float, float]]] = collections.defaultdict(list)
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            accounts = await sign_up(client, options.accounts)
        processes = {"api (master)": api.pid, "event worker": worker.pid}
        processes |= {f"api worker {i + 1}": pid for i, pid in enumerate(children(api.pid))}
        tally = Tally()
        started = time.monotonic()
        deadline = started + options.seconds

        async def sample() -> None:
            while time.monotonic() < deadline:
                for name, pid in processes.items():
                    mib = rss_mib(pid)
                    if mib is not None:
                        memory[name].append((time.monotonic() - started, mib))
                await asyncio.sleep(1)

        print(
            f"{options.connections} clients, {options.accounts} accounts, {options.seconds} s ...",
            flush=True,
        )
        await asyncio.gather(
            sample(),
            *(
                client_loop(base_url, accounts, deadline, tally, seed)
                for seed in range(options.connections)
            ),
        )
        stopped = time.monotonic()
        backlog = pending(url)
        while pending(url) and time.monotonic() - stopped < 120:
            await asyncio.sleep(0.05)
        drained = time.monotonic() - stopped
        return report(
            options, tally=tally, memory=memory, backlog=backlog, drained=drained, workdir=workdir
        )
    finally:
        for process in (worker, api):
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def report(  # noqa: PLR0913 - every figure of the run
    options: argparse.Namespace,
    *,
    tally: Tally,
    memory: dict[str, list[tuple[float, float]]],
    backlog: int,
    drained: float,
    workdir: Path,
) -> int:
    total = sum(tally.answers.values())
    five_xx = sum(n for (_, status), n in tally.answers.items() if status >= 500)
    errors = sum(tally.errors.values())
    latencies = sorted(tally.latencies)
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    print(f"machine: {machine()}")
    print(
        f"requests: {total} in {options.seconds} s ({total / options.seconds:,.0f}/s), "
        f"p50 {quantiles[49] * 1000:.1f} ms, p99 {quantiles[98] * 1000:.1f} ms; "
        f"errors: {errors}; 5xx: {five_xx}"
    )
    for kind, count in tally.errors.most_common(10):
        print(f"  error {kind}: {count}")
    rows = []
    half = options.seconds / 2
    for name, samples in sorted(memory.items()):
        second = [(t, m) for t, m in samples if t >= half]
        if not second:
            continue
        rows.append(
            (
                name,
                f"{samples[0][1]:.1f}",
                f"{second[0][1]:.1f}",
                f"{second[-1][1]:.1f}",
                f"{max(m for _, m in second) - min(m for _, m in second):.1f}",
                f"{slope_mib_per_min(second):+.2f}",
            )
        )
    print(
        table(
            [
                "process",
                "RSS at start, MiB",
                "at half time",
                "at the end",
                "range in 2nd half",
                "slope in 2nd half, MiB/min",
            ],
            rows,
        )
    )
    print(f"events pending when the load stopped: {backlog}; drained {drained:.2f} s later")
    if errors or five_xx:
        print(f"logs kept in {workdir}")
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="how long the load runs")
    parser.add_argument("--connections", type=int, default=64, help="concurrent clients")
    parser.add_argument("--accounts", type=int, default=8, help="accounts signed up")
    options = parser.parse_args()
    url = fresh_database(DATABASE)
    migrate(url)
    workdir = Path(tempfile.mkdtemp(prefix="notes-soak-"))
    try:
        return asyncio.run(run(url, options, workdir))
    finally:
        server = os.environ.get("NOTES_DATABASE_URL") or url
        localpg.drop_database(server, DATABASE)


if __name__ == "__main__":
    sys.exit(main())
