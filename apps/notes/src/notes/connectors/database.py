"""The async engine and the read pool; one transaction on a connection for a unit of work;
the driver's failures in the service's own terms.

Every connection of the service carries the same bounds (``connect_options``): a time limit on
connecting, on each statement, on each lock wait and on idling inside a transaction. A pooled
connection that the server has closed (a restart, a shutdown, a terminated backend) is found
before it is handed out, without a round trip (``closed_by_server``), and replaced. What goes
wrong with the connection or against a limit leaves the connectors as one of the errors of
``notes.core.errors`` (``service_error``), never as a driver's exception.
"""

from __future__ import annotations

import asyncio
import logging
import math
import select
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, NoReturn, TypeVar

import psycopg
from psycopg.rows import AsyncRowFactory, TupleRow
from psycopg_pool import AsyncConnectionPool, PoolClosed, PoolTimeout, TooManyRequests
from sqlalchemy import event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    AsyncTransaction,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from sqlalchemy.sql.expression import ClauseElement

from notes.core.config import API_OWN_CONNECTIONS, WORKER_OWN_CONNECTIONS, Settings
from notes.core.errors import (
    CommitOutcomeUnknownError,
    DatabaseTimeoutError,
    DatabaseUnavailableError,
    OverloadedError,
    UnavailableError,
)

_logger = logging.getLogger(__name__)


class ConnectionBudgetError(RuntimeError):
    """The settings let the deployment open more connections than the server accepts."""


def connect_options(settings: Settings) -> dict[str, Any]:
    """The libpq parameters of every connection of the service.

    Connecting gives up after ``db_pool_timeout`` (libpq counts whole seconds, 2 at least), and
    so does a TCP connection whose sent data the server leaves unacknowledged (a server gone
    without closing its connections). The server ends a statement, a lock wait and a
    transaction left idle at their limits (``options``, read once when the session starts).
    """
    seconds = max(2, math.ceil(settings.db_pool_timeout))
    limits = {
        "statement_timeout": settings.db_statement_timeout,
        "lock_timeout": settings.db_lock_timeout,
        "idle_in_transaction_session_timeout": settings.db_idle_in_transaction_timeout,
    }
    return {
        "application_name": settings.app_name,
        "connect_timeout": seconds,
        "tcp_user_timeout": seconds * 1000,
        "options": " ".join(f"-c {name}={round(value * 1000)}" for name, value in limits.items()),
    }


def create_engine(settings: Settings) -> AsyncEngine:
    """An engine with a bounded pool; nothing connects until first use.

    A connection the server has closed is replaced at checkout (see ``closed_by_server``),
    and a checkout waits at most ``db_pool_timeout`` for a connection when all are in use.
    """
    engine = create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        pool_recycle=3600,
        connect_args=connect_options(settings),
    )
    event.listen(engine.sync_engine.pool, "checkout", _replace_if_closed_by_server)
    return engine


def _replace_if_closed_by_server(
    dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry, proxy: PoolProxiedConnection
) -> None:
    """SQLAlchemy's pool, at checkout: a connection the server closed is swapped for a new
    one (raising ``DisconnectionError`` here makes the pool connect again, its documented
    way of refusing a connection at checkout)."""
    del dbapi_connection, proxy
    driver = record.driver_connection
    if driver is None or closed_by_server(driver):
        raise sa_exc.DisconnectionError("the server closed this pooled connection")


def closed_by_server(connection: psycopg.AsyncConnection[Any]) -> bool:
    """Whether an idle connection is closed, or has data waiting from the server.

    A connection at rest in a pool has nothing to read: every statement's results were read
    in full. When the server ends the session (it stops or restarts, or the backend is
    terminated) it sends an error and closes the socket, which makes the socket readable.
    So one ``poll`` with no wait (a system call, no round trip) finds the connections that
    died with the old server. A server that vanished without closing its sockets is not
    found here; ``tcp_user_timeout`` bounds the first statement sent on such a connection.
    """
    if connection.closed:
        return True
    try:
        descriptor = connection.fileno()
    except psycopg.Error:
        return True
    poller = select.poll()
    poller.register(descriptor, select.POLLIN)
    return bool(poller.poll(0))


ReadPool = AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]]


class _ReadPoolCheck:
    """The read pool's ``check``: a connection the server closed is discarded before use.

    Only a connection that ``closed_by_server`` suspects costs a round trip (psycopg_pool's
    own ``check_connection``), which discards it if it is dead. The pool then waits a little
    (its back-off) before handing out another; meanwhile every idle connection of the pool is
    checked at once (``pool.check()``, in the background), since a server that closed one
    likely closed them all.
    """

    def __init__(self) -> None:
        self.pool: ReadPool | None = None
        self._sweep: asyncio.Task[None] | None = None

    async def __call__(self, connection: psycopg.AsyncConnection[TupleRow]) -> None:
        if not closed_by_server(connection):
            return
        if self.pool is not None and self._sweep is None:
            self._sweep = asyncio.get_running_loop().create_task(self._check_all(self.pool))
        await AsyncConnectionPool.check_connection(connection)

    async def _check_all(self, pool: ReadPool) -> None:
        try:
            await pool.check()
        except Exception as error:  # noqa: BLE001 - a sweep that fails leaves the per-use check
            _logger.info("could not check the read pool's connections: %s", error)
        finally:
            self._sweep = None


def create_read_pool(settings: Settings) -> ReadPool:
    """A psycopg pool of autocommit connections, for statements that need no transaction.

    Single-statement reads and the NOTIFY after a commit run here, each in one round trip:
    no BEGIN, no ROLLBACK, and none of SQLAlchemy's pool and connection layers. It grows
    from one connection to ``db_pool_size`` as requests wait. Opened by ``bootstrap``.

    A request waits at most ``db_pool_timeout`` for a connection, and at most
    ``db_max_waiting`` requests wait at once. A connection that fails to open is tried again
    with psycopg_pool's back-off for ``db_pool_timeout`` seconds, then given up (and tried
    anew when a request needs it), so the pool finds a restarted server within seconds.
    """
    check = _ReadPoolCheck()
    pool: ReadPool = AsyncConnectionPool(
        libpq_url(settings.database_url),
        min_size=1,
        max_size=settings.db_pool_size,
        kwargs={"autocommit": True, **connect_options(settings)},
        check=check,
        timeout=settings.db_pool_timeout,
        max_waiting=settings.db_max_waiting,
        reconnect_timeout=settings.db_pool_timeout,
        open=False,
        name=f"{settings.app_name}-reads",
    )
    check.pool = pool
    return pool


@asynccontextmanager
async def read_connection(pool: ReadPool) -> AsyncIterator[psycopg.AsyncConnection[TupleRow]]:
    """A connection of the read pool for the block; failures come out as ``service_error``s."""
    try:
        async with pool.connection() as connection:
            yield connection
    except Exception as error:  # noqa: BLE001 - translated, or raised as it was
        raise_service_error(error)


# SQLSTATEs of a limit the server enforced: statement_timeout (and a cancelled statement),
# lock_timeout, idle_in_transaction_session_timeout, transaction_timeout.
_TIMEOUTS = frozenset({"57014", "55P03", "25P03", "25P04"})
# Classes of SQLSTATE that mean the server or the connection failed: connection exception,
# insufficient resources (too many connections, out of memory or disk) and operator
# intervention (shutdown, crash, not yet accepting connections).
_UNAVAILABLE = ("08", "53", "57P")


def service_error(error: BaseException) -> UnavailableError | None:
    """The service's error for a database failure that is not the request's fault, or None.

    Lost or refused connections, a server shutting down, a pool that hands out no connection
    in time become ``DatabaseUnavailableError``; a statement or a lock wait past its limit
    becomes ``DatabaseTimeoutError``; a full queue of waiting reads, ``OverloadedError``.
    Anything else (a unique violation, a failed check, a bug) is None: not an outage.
    """
    if isinstance(error, UnavailableError):
        return error
    cause: BaseException = error
    if isinstance(error, sa_exc.DBAPIError) and error.orig is not None:
        cause = error.orig
    translated = _pool_error(cause) or _server_error(cause)
    if translated is None and isinstance(error, sa_exc.TimeoutError):
        translated = DatabaseUnavailableError(f"no database connection in time: {error}")
    if translated is None and isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        translated = DatabaseUnavailableError(_first_line(cause))
    return translated


def _pool_error(error: BaseException) -> UnavailableError | None:
    if isinstance(error, TooManyRequests):
        return OverloadedError(_first_line(error))
    if isinstance(error, PoolTimeout | PoolClosed):
        return DatabaseUnavailableError(f"no database connection in time: {_first_line(error)}")
    return None


def _server_error(error: BaseException) -> UnavailableError | None:
    if not isinstance(error, psycopg.Error):
        return None
    state = error.sqlstate or ""
    if state in _TIMEOUTS:
        return DatabaseTimeoutError(_first_line(error))
    if isinstance(error, psycopg.OperationalError) and (
        not state or state.startswith(_UNAVAILABLE)
    ):
        return DatabaseUnavailableError(_first_line(error))
    return None


def raise_service_error(error: Exception) -> NoReturn:
    """Raise ``error`` as the service's error it stands for, or as it is if none."""
    translated = service_error(error)
    if translated is None or translated is error:
        raise error
    raise translated from error


def _first_line(error: BaseException) -> str:
    text_ = str(error).strip()
    return text_.splitlines()[0] if text_ else type(error).__name__


async def check_connection_budget(engine: AsyncEngine, settings: Settings) -> None:
    """Raise ``ConnectionBudgetError`` unless the server accepts every connection the
    deployment may open (``Settings.connection_budget``), besides those it reserves."""
    query = text(
        "SELECT current_setting('max_connections')::int,"
        " current_setting('superuser_reserved_connections')::int,"
        " coalesce(current_setting('reserved_connections', true), '0')::int"
    )
    async with engine.connect() as conn:
        limit, superuser, reserved = (await conn.execute(query)).one()
    available = limit - superuser - reserved
    budget = settings.connection_budget()
    if budget > available:
        per_process = settings.connections_per_process()
        msg = (
            f"the settings let this deployment open up to {budget} connections, more than the "
            f"{available} that {describe(engine)} accepts (max_connections {limit} - "
            f"superuser_reserved_connections {superuser} - reserved_connections {reserved}): "
            f"(NOTES_API_PROCESSES {settings.api_processes} + NOTES_WORKER_PROCESSES "
            f"{settings.worker_processes}) x {per_process} (2 x NOTES_DB_POOL_SIZE "
            f"{settings.db_pool_size} + NOTES_DB_MAX_OVERFLOW {settings.db_max_overflow}) + "
            f"{settings.api_processes} x {API_OWN_CONNECTIONS} (an API process's live event "
            f"feed) + {settings.worker_processes} x {WORKER_OWN_CONNECTIONS} (a worker's "
            "dispatch LISTEN and its delivery consumer's two). Lower the pool settings, or "
            "raise max_connections"
        )
        raise ConnectionBudgetError(msg)
    _logger.info(
        "connection budget: up to %d of the %d connections %s accepts",
        budget,
        available,
        describe(engine),
    )


def libpq_url(database_url: str) -> str:
    """The service's SQLAlchemy URL as a plain libpq URL (no ``+psycopg``)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def describe(engine: AsyncEngine) -> str:
    """The server and database an engine points at, without the password."""
    url = make_url(str(engine.url))
    host = url.host or url.query.get("host") or "local socket"
    return f"{host}:{url.port or 5432}/{url.database}"


async def wait_for_database(engine: AsyncEngine, *, attempts: int, interval: float) -> None:
    """Return once the database answers; raise DatabaseUnavailableError after ``attempts``."""
    last_error: Exception | None = None
    for attempt in range(1, attempts + 1):
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (sa_exc.DBAPIError, OSError) as error:
            last_error = error
            _logger.warning(
                "database %s not reachable (attempt %d of %d): %s",
                describe(engine),
                attempt,
                attempts,
                str(error).splitlines()[0] if str(error) else type(error).__name__,
            )
            if attempt < attempts:
                await asyncio.sleep(interval)
        else:
            return
    msg = f"database {describe(engine)} did not answer after {attempts} attempts: {last_error}"
    raise DatabaseUnavailableError(msg)


_DIALECT = PGDialect_psycopg()  # type: ignore[no-untyped-call] # SQLAlchemy leaves it untyped
Row = TypeVar("Row")


def driver_sql(statement: ClauseElement) -> tuple[str, dict[str, Any]]:
    """``statement`` as psycopg SQL (``%(name)s`` placeholders) and its constant parameters.

    Compile once, at import or per statement shape, and run the text on the driver
    connection with the parameters merged in: SQLAlchemy builds the statement, psycopg runs
    it without SQLAlchemy's per-execution machinery.
    """
    compiled = statement.compile(dialect=_DIALECT)
    return str(compiled), dict(compiled.params)


class SqlTransaction:
    """One connection in one transaction, shared by the repositories of a unit of work.

    Statements on the hot paths run on ``driver``, the psycopg connection itself: for a
    statement of a few rows SQLAlchemy's async execution layer costs more CPU than the
    statement. Everything else goes through ``session``, an ORM session created on first use
    on the same connection, so both kinds of statement commit or roll back together.

    The transaction is psycopg's own: it begins with the first statement and ends with
    ``commit`` or ``end``. On a connection already in a transaction (a test's, rolled back
    afterwards) it is a SAVEPOINT inside that one instead.
    """

    def __init__(
        self,
        connection: AsyncConnection,
        driver: psycopg.AsyncConnection[Any],
        savepoint: AsyncTransaction | None = None,
    ) -> None:
        self.connection = connection
        self.driver = driver
        self._savepoint = savepoint
        self._session: AsyncSession | None = None

    @classmethod
    async def begin(cls, connection: AsyncConnection) -> SqlTransaction:
        """A transaction on ``connection``."""
        savepoint = await connection.begin_nested() if connection.in_transaction() else None
        driver = (await connection.get_raw_connection()).driver_connection
        if driver is None:  # pragma: no cover - only a closed connection has none
            msg = "the pooled connection has no driver connection"
            raise RuntimeError(msg)
        return cls(connection, driver, savepoint)

    @property
    def session(self) -> AsyncSession:
        """The ORM session of this transaction."""
        if self._session is None:
            # Inside a SAVEPOINT the session only flushes at commit ("rollback_only");
            # otherwise it begins the connection's transaction itself and commits it.
            self._session = AsyncSession(
                bind=self.connection,
                expire_on_commit=False,
                autoflush=False,
                join_transaction_mode="rollback_only",
            )
        return self._session

    async def commit(self) -> None:
        """Write the session's pending changes, then commit everything.

        ``CommitOutcomeUnknownError`` when the connection fails once the commit is on its
        way: the server may have committed or not, and nobody can tell from here.
        """
        if self._session is not None:
            await self._session.flush()  # a statement failing here commits nothing
        try:
            if self._session is not None:
                await self._session.commit()
            if self._savepoint is not None:
                await self._savepoint.commit()
            else:
                await self.driver.commit()  # nothing left to do if the session committed
        except Exception as error:
            if isinstance(service_error(error), DatabaseUnavailableError):
                msg = f"the connection failed during the commit: {_first_line(error)}"
                raise CommitOutcomeUnknownError(msg) from error
            raise

    async def end(self) -> None:
        """Roll back whatever was not committed; forget the session's objects.

        A connection that broke is invalidated instead, so the pool never lends it again.
        """
        try:
            try:
                if self._session is not None:
                    await self._session.close()
            finally:
                if self._savepoint is None:
                    if not self.driver.broken:
                        await self.driver.rollback()  # sends nothing when nothing is to undo
                elif self._savepoint.is_active:
                    await self._savepoint.rollback()
        except Exception:
            if not self._lost():
                raise
        if self._lost():
            await self.connection.invalidate()

    def _lost(self) -> bool:
        return self.driver.broken or self.driver.closed


async def fetch_one(
    driver: psycopg.AsyncConnection[Any],
    sql: str,
    params: dict[str, Any],
    row: AsyncRowFactory[Row],
) -> Row | None:
    """The first row of ``sql`` on ``driver``, built by ``row``, or None."""
    async with driver.cursor(row_factory=row) as cursor:
        await cursor.execute(sql, params)
        return await cursor.fetchone()


async def fetch_all(
    driver: psycopg.AsyncConnection[Any],
    sql: str,
    params: dict[str, Any],
    row: AsyncRowFactory[Row],
) -> list[Row]:
    """Every row of ``sql`` on ``driver``, each built by ``row``."""
    async with driver.cursor(row_factory=row) as cursor:
        await cursor.execute(sql, params)
        return await cursor.fetchall()
