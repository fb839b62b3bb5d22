"""What checking a pooled connection before lending it costs, per borrow, on this machine.

Compares the check the service makes (``closed_by_server``: one ``poll`` with no wait) with
a round trip (psycopg_pool's ``check_connection``, what ``pool_pre_ping`` also costs), and
borrowing a connection from each pool as the service does with borrowing it bare. The
figures are CPU microseconds of this process (and wall time for the round trip), medians of
5 runs, on an idle connection to the local database.

    python bench/pool_checks.py
"""

from __future__ import annotations

import asyncio
import functools
import statistics
import time
from collections.abc import Awaitable, Callable

import psycopg
from common import machine, server_url, table
from notes.connectors.database import (
    closed_by_server,
    create_engine,
    create_read_pool,
    libpq_url,
    read_connection,
)
from notes.core.config import Settings
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

RUNS = 5


def _median_us(run: Callable[[], float]) -> float:
    return statistics.median(run() for _ in range(RUNS))


async def _per_call(call: Callable[[], Awaitable[object]], count: int) -> tuple[float, float]:
    """CPU and wall microseconds per awaited call, medians of RUNS runs of ``count`` calls."""
    cpu, wall = [], []
    for _ in range(RUNS):
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        for _ in range(count):
            await call()
        cpu.append((time.process_time() - started_cpu) / count * 1e6)
        wall.append((time.perf_counter() - started_wall) / count * 1e6)
    return statistics.median(cpu), statistics.median(wall)


async def _checkout(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.get_raw_connection()


async def main() -> None:
    """Measure and print the table."""
    settings = Settings(database_url=server_url())
    rows: list[list[str]] = []
    conn = await psycopg.AsyncConnection.connect(libpq_url(settings.database_url), autocommit=True)
    try:

        def poll_once() -> float:
            started = time.process_time()
            for _ in range(20_000):
                closed_by_server(conn)
            return (time.process_time() - started) / 20_000 * 1e6

        rows.append(["the service's check (`poll`, no wait)", f"{_median_us(poll_once):.1f}", ""])
        cpu, wall = await _per_call(lambda: AsyncConnectionPool.check_connection(conn), 4000)
        rows.append(["a round trip (`check_connection`)", f"{cpu:.1f}", f"{wall:.1f}"])
    finally:
        await conn.close()

    bare = AsyncConnectionPool(
        libpq_url(settings.database_url),
        min_size=1,
        max_size=1,
        kwargs={"autocommit": True},
        open=False,
    )
    ours = create_read_pool(settings)
    await bare.open(wait=True)
    await ours.open(wait=True)
    try:

        async def bare_borrow() -> None:
            async with bare.connection():
                pass

        async def our_borrow() -> None:
            async with read_connection(ours):
                pass

        for name, borrow in (
            ("read pool: bare `connection()`", bare_borrow),
            ("read pool: `read_connection()` (check, translation)", our_borrow),
        ):
            cpu, wall = await _per_call(borrow, 20_000)
            rows.append([name, f"{cpu:.1f}", f"{wall:.1f}"])
    finally:
        await bare.close()
        await ours.close()

    engines = (
        ("engine: bare checkout", create_async_engine(settings.database_url, pool_size=1)),
        ("engine: checkout with the `checkout` check", create_engine(settings)),
    )
    try:
        for name, engine in engines:
            await _checkout(engine)
            cpu, wall = await _per_call(functools.partial(_checkout, engine), 5000)
            rows.append([name, f"{cpu:.1f}", f"{wall:.1f}"])
    finally:
        for _, engine in engines:
            await engine.dispose()

    print(f"Checking pooled connections: {machine()}; medians of {RUNS} runs\n")
    print(table(["per call", "CPU µs", "wall µs"], rows))


if __name__ == "__main__":
    asyncio.run(main())
