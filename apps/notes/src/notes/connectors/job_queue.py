"""The job queue of webhook deliveries, on pgqueuer: jobs queued in a unit of work's
transaction, and the worker that takes them (docs/job-queue.md, docs/webhooks.md).

A job carries a delivery's id only (16 bytes); what to send and where is read when the job
runs, so a subscription disabled, deleted or given a new URL meanwhile is honoured.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, LiteralString, Self

import psycopg
from pgqueuer import Job, PsycopgDriver, Queries, QueueManager, RetryRequested
from pgqueuer.adapters.persistence import qb
from pgqueuer.core.tm import TaskManager
from pgqueuer.ports.driver import NotifyCallback
from psycopg import AsyncRawCursor
from psycopg.rows import dict_row

from notes.connectors.database import SqlTransaction

_logger = logging.getLogger(__name__)

ENTRYPOINT = "deliver_webhook"
"""The pgqueuer entrypoint of webhook deliveries."""

# Built once: pgqueuer renders its statements from these builders.
_ENVIRONMENT = qb.QueryBuilderEnvironment()
_QUEUE_QUERIES = qb.QueryQueueBuilder()


class TransactionDriver:
    """pgqueuer's ``Driver`` port on a psycopg connection that is in a transaction.

    pgqueuer's own ``PsycopgDriver`` refuses a connection that is not in autocommit mode: its
    documented way to enqueue in a transaction is an autocommit connection with an explicit
    transaction block, which a unit of work's pooled connection is not. ``Queries`` accept any
    ``Driver``, so this adapter runs their statements on the unit of work's connection and
    never commits: the jobs exist exactly when the unit of work commits
    (``job_queue_test.py`` holds it to that on PostgreSQL). It cannot listen: it enqueues only.
    """

    def __init__(self, connection: psycopg.AsyncConnection[Any]) -> None:
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
        msg = f"a connection in a transaction cannot listen on {channel}"
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


class PgQueuerDeliveryQueue:
    """The ``DeliveryQueue`` port: pgqueuer jobs queued in the unit of work's transaction."""

    def __init__(self, sql: SqlTransaction) -> None:
        self._sql = sql

    async def defer(self, delivery_ids: Sequence[uuid.UUID]) -> None:
        if not delivery_ids:
            return
        queries = Queries(TransactionDriver(self._sql.driver), qbe=_ENVIRONMENT, qbq=_QUEUE_QUERIES)
        count = len(delivery_ids)
        await queries.enqueue([ENTRYPOINT] * count, [d.bytes for d in delivery_ids], [0] * count)

    async def purge_log(self, before: datetime, *, limit: int) -> int:
        purged = 0
        async with self._sql.driver.cursor() as cursor:
            for table in ("pgqueuer_log", "pgqueuer_statistics"):
                await cursor.execute(_PURGE[table], {"before": before, "limit": limit})
                purged += cursor.rowcount
        return purged


# Only aggregated log rows: the others are still to be counted into the statistics.
_PURGE: dict[str, LiteralString] = {
    "pgqueuer_log": (
        "DELETE FROM pgqueuer_log WHERE id IN (SELECT id FROM pgqueuer_log"
        " WHERE created < %(before)s AND aggregated ORDER BY created LIMIT %(limit)s)"
    ),
    "pgqueuer_statistics": (
        "DELETE FROM pgqueuer_statistics WHERE id IN (SELECT id FROM pgqueuer_statistics"
        " WHERE created < %(before)s ORDER BY created LIMIT %(limit)s)"
    ),
}


class SplitDriver:
    """pgqueuer's ``Driver`` port on two autocommit connections: its statements on one, its
    LISTEN on the other.

    pgqueuer's ``PsycopgDriver`` waits for notifications with psycopg's
    ``notifies(timeout=1.0)``, which holds the connection's lock while it waits, so every
    statement pgqueuer sends on that connection (dequeues, heartbeats, completions) waits up to
    a second for it. With jobs that take a while, a worker then refilled a free slot about
    every two seconds: 4 deliveries/s with 8 slots, measured. On a connection of its own the
    LISTEN holds up no statement.
    """

    def __init__(self, statements: PsycopgDriver, notifications: PsycopgDriver) -> None:
        self._statements = statements
        self._notifications = notifications

    async def fetch(self, query: str, *args: object) -> list[dict[str, object]]:
        return await self._statements.fetch(query, *args)

    async def execute(self, query: str, *args: object) -> str:
        return await self._statements.execute(query, *args)

    async def add_listener(self, channel: str, callback: NotifyCallback) -> None:
        await self._notifications.add_listener(channel, callback)

    async def notify(self, channel: str, payload: str) -> None:
        await self._statements.notify(channel, payload)

    @property
    def shutdown(self) -> asyncio.Event:
        return self._statements.shutdown

    @property
    def tm(self) -> TaskManager:
        return self._statements.tm

    async def __aenter__(self) -> Self:
        await self._statements.__aenter__()
        await self._notifications.__aenter__()
        return self

    async def __aexit__(self, *_: object) -> None:
        try:
            await self._notifications.__aexit__()
        finally:
            await self._statements.__aexit__()


Attempt = Callable[[uuid.UUID], Awaitable[timedelta | None]]
"""Makes one attempt at a delivery; the wait before the next one, or None when it is done."""

# When an attempt fails in an unexpected way (the database went away while recording it),
# its job is tried again after this long, not parked.
UNEXPECTED_FAILURE_DELAY = timedelta(seconds=5)


class DeliveryWorker:
    """Takes delivery jobs from pgqueuer and makes an attempt at each, until told to stop.

    It holds two autocommit connections of its own, outside the pools: pgqueuer dequeues,
    heartbeats and logs on one and LISTENs on the other (``SplitDriver`` says why). At most
    ``concurrency`` deliveries run at once, so a slow receiver holds up at most that many. A
    job whose attempt asks for another is put back by pgqueuer with its delay
    (``RetryRequested``). Stopping sets pgqueuer's ``shutdown``: it takes no more jobs and
    waits for the running ones, each bounded by the attempt's own timeout; its run task is
    never cancelled, which would delete the jobs in flight. A worker killed instead leaves its
    jobs picked; another worker takes them again once their heartbeat is older than
    ``heartbeat_timeout`` (at its next poll). A lost connection is reopened every
    ``reconnect_interval`` seconds.
    """

    def __init__(  # noqa: PLR0913 - each is a setting of its own
        self,
        conninfo: str,
        attempt: Attempt,
        *,
        concurrency: int = 20,
        poll_interval: float = 2.0,
        heartbeat_timeout: float = 30.0,
        reconnect_interval: float = 1.0,
        application_name: str = "notes-deliveries",
    ) -> None:
        if concurrency < 2:
            msg = "concurrency must be at least 2"
            raise ValueError(msg)
        self._conninfo = conninfo
        self._attempt = attempt
        self._concurrency = concurrency
        self._poll_interval = poll_interval
        self._heartbeat_timeout = heartbeat_timeout
        self._reconnect_interval = reconnect_interval
        self._application_name = application_name
        self.started = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set; the deliveries running then are finished first."""
        while not stop.is_set():
            try:
                await self._run_connected(stop)
            except Exception as error:  # noqa: BLE001 - any database failure: reconnect, never die
                _logger.warning(
                    "delivery worker lost the database (%s: %s); reconnecting in %s s",
                    type(error).__name__,
                    str(error).strip().splitlines()[0] if str(error).strip() else "",
                    self._reconnect_interval,
                )
                try:
                    async with asyncio.timeout(self._reconnect_interval):
                        await stop.wait()
                except TimeoutError:
                    pass

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(
            self._conninfo,
            autocommit=True,
            connect_timeout=5,
            application_name=self._application_name,
        )

    async def _run_connected(self, stop: asyncio.Event) -> None:
        async with await self._connect() as statements, await self._connect() as listening:
            driver = SplitDriver(PsycopgDriver(statements), PsycopgDriver(listening))
            manager = QueueManager(Queries(driver))
            manager.entrypoint(ENTRYPOINT, on_failure="hold")(self._handle)
            batch = max(1, self._concurrency // 2)
            running = asyncio.create_task(
                manager.run(
                    batch_size=batch,
                    max_concurrent_tasks=batch * 2,
                    dequeue_timeout=timedelta(seconds=self._poll_interval),
                    heartbeat_timeout=timedelta(seconds=self._heartbeat_timeout),
                )
            )
            stopping = asyncio.create_task(stop.wait())
            _logger.info("taking webhook deliveries (up to %d at once)", batch * 2)
            self.started.set()
            await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not running.done():
                _logger.info("delivery worker stopping: finishing the deliveries in flight")
                manager.shutdown.set()
            else:
                stopping.cancel()
            await running

    async def _handle(self, job: Job) -> None:
        if job.payload is None:  # pragma: no cover - every job of ours carries a delivery id
            return
        delivery_id = uuid.UUID(bytes=job.payload)
        try:
            delay = await self._attempt(delivery_id)
        except Exception:
            _logger.exception("delivery %s: the attempt failed unexpectedly; retrying", delivery_id)
            raise RetryRequested(
                delay=UNEXPECTED_FAILURE_DELAY, reason="unexpected failure"
            ) from None
        if delay is not None:
            raise RetryRequested(delay=delay, reason="the receiver did not take it")
