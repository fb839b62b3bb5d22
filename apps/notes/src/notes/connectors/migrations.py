"""What the code expects of the schema (the migration head) and what the database has."""

from __future__ import annotations

from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine


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
