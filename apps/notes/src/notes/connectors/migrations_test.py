# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
import ast

import localpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, pool

from notes.connectors.migrations import head_revision
from notes.core.config import MIGRATIONS_DIR, Settings
from notes.entities import Base


def test_there_is_exactly_one_head():
    assert head_revision(MIGRATIONS_DIR)


def test_migrations_only_upgrade():
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        functions = {
            node.name
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.FunctionDef)
        }
        assert "upgrade" in functions, path.name
        assert "downgrade" not in functions, f"{path.name} has a downgrade"


@pytest.mark.integrated
def test_models_and_migrations_agree(database_url):
    engine = create_engine(
        Settings(database_url=database_url).database_url, poolclass=pool.NullPool
    )
    try:
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_server_default": True}),
                Base.metadata,
            )
    finally:
        engine.dispose()
    assert diff == [], f"models and migrations differ; run make db_migration_create: {diff}"


@pytest.mark.integrated
async def test_fresh_database_is_not_at_head_until_migrated(server_url, make_unique):
    from sqlalchemy.ext.asyncio import create_async_engine  # noqa: PLC0415

    from notes.connectors.migrations import current_revision  # noqa: PLC0415

    name = make_unique("notes_test_fresh").replace("-", "_")
    localpg.create_database(server_url, name)
    url = Settings(database_url=localpg.with_database(server_url, name)).database_url
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        assert await current_revision(engine) is None
    finally:
        await engine.dispose()
        localpg.drop_database(server_url, name)
