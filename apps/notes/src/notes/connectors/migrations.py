"""What the code expects of the schema (the migration head) and what the database has."""

from __future__ import annotations

from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from notes.connectors.database import ReadPool, describe, read_connection, service_error
from notes.core.errors import DatabaseUnavailableError, UnavailableError

# The job queue's objects (pgqueuer, pgqueuer_log, ...) are the library's, installed by their
# own migration (0008_job_queue) and not described by models of ours.
LIBRARY_PREFIX = "pgqueuer"


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's ``include_name`` hook: leave the job queue's tables out of comparisons, or
    autogenerate would propose dropping them."""
    return not (type_ == "table" and name is not None and name.startswith(LIBRARY_PREFIX))


def head_revision(migrations_dir: Path) -> str:
    """The single head revision of the migrations in ``migrations_dir``."""
    heads = ScriptDirectory(str(migrations_dir)).get_heads()
    if len(heads) != 1:
        msg = f"expected one migration head in {migrations_dir}, found {heads}"
        raise RuntimeError(msg)
    return heads[0]


def _current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database's schema is at; None when it has never been migrated."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


class SqlDatabaseState:
    """The ``DatabaseState`` port on the service's engine and read pool."""

    def __init__(self, engine: AsyncEngine, read_pool: ReadPool) -> None:
        self._engine = engine
        self._read_pool = read_pool

    def describe(self) -> str:
        """The server and database, without the password."""
        return describe(self._engine)

    async def current_revision(self) -> str | None:
        """The schema's revision, read where writes go, on a server that takes them.

        ``DatabaseUnavailableError`` when the database cannot be asked or is a standby.
        """
        try:
            async with self._engine.connect() as conn:
                await _refuse_a_standby(conn)
                return await conn.run_sync(_current)
        except UnavailableError:
            raise
        except Exception as error:
            raise _unavailable(error) from error

    async def check_reads(self) -> None:
        """One statement on a connection of the read pool."""
        try:
            async with read_connection(self._read_pool) as conn:
                await conn.execute("SELECT 1")
        except UnavailableError:
            raise
        except Exception as error:
            raise _unavailable(error) from error


async def _refuse_a_standby(conn: AsyncConnection) -> None:
    if await conn.scalar(text("SELECT pg_is_in_recovery()")):
        msg = "the database takes no writes: it is a standby, in recovery"
        raise DatabaseUnavailableError(msg)


def _unavailable(error: Exception) -> UnavailableError:
    """The service's error for ``error``; any failure to answer counts as unavailable here."""
    text_ = str(error).strip()
    return service_error(error) or DatabaseUnavailableError(
        text_.splitlines()[0] if text_ else repr(error)
    )
