"""The async engine and the read pool; one transaction on a connection for a unit of work."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, TypeVar

import psycopg
from psycopg.rows import AsyncRowFactory, TupleRow
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    AsyncTransaction,
    create_async_engine,
)
from sqlalchemy.sql.expression import ClauseElement

from notes.core.config import Settings

_logger = logging.getLogger(__name__)


class DatabaseUnavailableError(RuntimeError):
    """The database did not answer within the configured attempts."""


def create_engine(settings: Settings) -> AsyncEngine:
    """An engine with a bounded pool; nothing connects until first use."""
    return create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_recycle=3600,
        connect_args={"connect_timeout": 5, "application_name": settings.app_name},
    )


ReadPool = AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]]


def create_read_pool(settings: Settings) -> ReadPool:
    """A psycopg pool of autocommit connections, for statements that need no transaction.

    Single-statement reads and the NOTIFY after a commit run here, each in one round trip:
    no BEGIN, no ROLLBACK, and none of SQLAlchemy's pool and connection layers. It grows
    from one connection to ``db_pool_size`` as requests wait. Opened by ``bootstrap``.
    """
    return AsyncConnectionPool(
        libpq_url(settings.database_url),
        min_size=1,
        max_size=settings.db_pool_size,
        kwargs={
            "autocommit": True,
            "connect_timeout": 5,
            "application_name": settings.app_name,
        },
        open=False,
        name=f"{settings.app_name}-reads",
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
        except (OperationalError, DBAPIError, OSError) as error:
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
        """Write the session's pending changes, then commit everything."""
        if self._session is not None:
            await self._session.commit()
        if self._savepoint is not None:
            await self._savepoint.commit()
        else:
            await self.driver.commit()  # nothing left to do if the session committed

    async def end(self) -> None:
        """Roll back whatever was not committed; forget the session's objects."""
        try:
            if self._session is not None:
                await self._session.close()
        finally:
            if self._savepoint is None:
                await self.driver.rollback()  # sends nothing when there is nothing to undo
            elif self._savepoint.is_active:
                await self._savepoint.rollback()


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
