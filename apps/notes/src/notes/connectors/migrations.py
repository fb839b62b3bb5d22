"""What the code expects of the schema (the migration head) and what the database has."""

from __future__ import annotations

from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from notes.connectors.database import describe

# The job queue's objects (pgqueuer, pgqueuer_log, ...) are the library's, installed by their
# own migration (0007_job_queue) and not described by models of ours.
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


class SqlSchemaState:
    """The ``SchemaState`` port on the service's engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def describe(self) -> str:
        """The server and database, without the password."""
        return describe(self._engine)

    async def current_revision(self) -> str | None:
        """The schema's revision; ``ConnectionError`` when the database cannot be asked."""
        try:
            return await current_revision(self._engine)
        except (SQLAlchemyError, OSError) as error:
            raise ConnectionError(
                str(error).splitlines()[0] if str(error) else repr(error)
            ) from error
