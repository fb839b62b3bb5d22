"""Waking the event worker when events are committed: NOTIFY after the commit, LISTEN.

The writer's side, ``Announcer``, sends NOTIFY after a commit that recorded events, never from
inside the transaction: PostgreSQL makes a transaction that has notified hold a database-wide
lock through its commit, so writers that notify commit one at a time. Notifications are a
hint: the worker also polls, so one that is lost delays events, it never loses them.

The listener's connection is opened outside the pool, in autocommit mode, and lives as long as the
listening session. PostgreSQL never replays a notification sent while nobody listened, so
whoever listens must catch up from the ``events`` table after every (re)connection.
LISTEN needs a session of its own on the server: behind PgBouncer in transaction pooling
mode it silently receives nothing; connect the worker to PostgreSQL directly (or through a
session-mode pool).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import psycopg
from psycopg import sql

from notes.connectors.database import ReadPool, libpq_url
from notes.connectors.event_log import CHANNEL

_logger = logging.getLogger(__name__)


class Announcer:
    """Tells listeners that events were committed, coalescing the news of many commits.

    Call it after each commit that recorded events. At most one NOTIFY is in flight, and the
    next is sent no sooner than ``interval`` seconds after the last: under load, one
    notification covers every commit made meanwhile; when idle, the first goes out at once.
    A NOTIFY that fails is logged and dropped: the worker's polling finds those events.
    """

    def __init__(self, notify: Callable[[], Awaitable[None]], *, interval: float = 0.005) -> None:
        self._notify = notify
        self._interval = interval
        self._pending = False
        self._task: asyncio.Task[None] | None = None
        self.sent = 0

    def __call__(self) -> None:
        self._pending = True
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            while self._pending:
                self._pending = False
                try:
                    await self._notify()
                    self.sent += 1
                except Exception as error:  # noqa: BLE001 - a hint lost; the worker polls
                    _logger.warning("could not notify the event worker: %s", error)
                await asyncio.sleep(self._interval)
        finally:
            # No await between the last check of _pending and here: a call made meanwhile
            # either was seen by the loop or finds no task and starts one.
            self._task = None

    async def close(self) -> None:
        """Wait until the news already given has been sent."""
        if self._task is not None:
            await asyncio.shield(self._task)


def notify_on(pool: ReadPool) -> Callable[[], Awaitable[None]]:
    """A NOTIFY on ``CHANNEL`` on a connection of ``pool`` (autocommit: sent at once)."""

    async def notify() -> None:
        async with pool.connection() as connection:
            await connection.execute("SELECT pg_notify(%s, '')", (CHANNEL,))

    return notify


class PgWakeups:
    """Notifications on one autocommit psycopg connection that has run LISTEN."""

    def __init__(self, connection: psycopg.AsyncConnection[object]) -> None:
        self._connection = connection

    async def wait(self, seconds: float) -> bool:
        # Notifications that arrived while nobody waited are kept by psycopg and come first.
        async for _ in self._connection.notifies(timeout=seconds, stop_after=1):
            return True
        return False


@asynccontextmanager
async def listen(database_url: str, *, application_name: str) -> AsyncIterator[PgWakeups]:
    """Connect, LISTEN for committed events, and yield the wake-ups until the block ends."""
    connection = await psycopg.AsyncConnection.connect(
        libpq_url(database_url),
        autocommit=True,
        connect_timeout=5,
        application_name=application_name,
    )
    async with connection:
        await connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
        yield PgWakeups(connection)
