"""Being woken when events are committed: LISTEN on a dedicated PostgreSQL connection.

The connection is opened outside the pool, in autocommit mode, and lives as long as the
listening session. PostgreSQL never replays a notification sent while nobody listened, so
whoever listens must catch up from the ``events`` table after every (re)connection.
LISTEN needs a session of its own on the server: behind PgBouncer in transaction pooling
mode it silently receives nothing; connect the worker to PostgreSQL directly (or through a
session-mode pool).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from notes.connectors.event_log import CHANNEL


class Wakeups(Protocol):
    """News that events were committed."""

    async def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for news; True if some came, False on timeout."""


Listen = Callable[[], AbstractAsyncContextManager[Wakeups]]
"""Opens a listening session; leaving it disconnects."""


class PgWakeups(Wakeups):
    """Notifications on one autocommit psycopg connection that has run LISTEN."""

    def __init__(self, connection: psycopg.AsyncConnection[object]) -> None:
        self._connection = connection

    async def wait(self, seconds: float) -> bool:
        # Notifications that arrived while nobody waited are kept by psycopg and come first.
        async for _ in self._connection.notifies(timeout=seconds, stop_after=1):
            return True
        return False


def libpq_url(database_url: str) -> str:
    """The service's SQLAlchemy URL as a plain libpq URL (no ``+psycopg``)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def listen(database_url: str, *, application_name: str) -> AsyncIterator[Wakeups]:
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
