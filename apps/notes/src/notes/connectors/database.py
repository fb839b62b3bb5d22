"""The async engine: creating it, waiting for the server, asking for the schema's revision."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from notes.core.config import Settings

_logger = logging.getLogger(__name__)


class DatabaseUnavailableError(RuntimeError):
    """The database did not answer within the configured attempts."""


def create_engine(settings: Settings, *, autocommit: bool = False) -> AsyncEngine:
    """An engine with a bounded pool; nothing connects until first use.

    An ``autocommit`` engine runs each statement as its own transaction and skips the rollback
    a pool normally sends when a connection comes back: right for reads of a single statement,
    which then cost one round trip (no BEGIN, no ROLLBACK). It must not be used for anything
    that needs a transaction (writes, locks, several statements that must agree).
    """
    return create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_recycle=3600,
        connect_args={"connect_timeout": 5, "application_name": settings.app_name},
        **({"isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None} if autocommit else {}),
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded attributes after commit, so entities outlive the transaction."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


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
