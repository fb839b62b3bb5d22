# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
import ast
from datetime import UTC, datetime

import localpg
import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, pool

from notes.connectors import database
from notes.connectors.migrations import SqlDatabaseState, head_revision, include_name
from notes.core.config import MIGRATIONS_DIR, Settings
from notes.core.errors import DatabaseUnavailableError
from notes.core.ids import uuid7
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
                MigrationContext.configure(
                    conn, opts={"compare_server_default": True, "include_name": include_name}
                ),
                Base.metadata,
            )
    finally:
        engine.dispose()
    assert diff == [], f"models and migrations differ; run make db_migration_create: {diff}"


def test_only_the_job_queues_own_tables_are_left_out_of_the_comparison():
    for name in ("pgqueuer", "pgqueuer_log", "pgqueuer_statistics", "pgqueuer_schedules"):
        assert not include_name(name, "table", {})
    for table in Base.metadata.tables:
        assert include_name(table, "table", {})
    assert include_name("pgqueuer_ep_ea_idx", "index", {})


@pytest.mark.integrated
async def test_the_job_queue_tables_exist_as_pgqueuer_expects_them(database_url):
    from pgqueuer import PsycopgDriver, Queries, QueueManager  # noqa: PLC0415

    async with await psycopg.AsyncConnection.connect(
        localpg.libpq_url(database_url), autocommit=True
    ) as conn:
        queries = Queries(PsycopgDriver(conn))
        await QueueManager(queries).verify_structure()  # raises, naming what is missing
        plan = await queries.plan_upgrade()
    assert not plan.statements, f"pgqueuer would change the schema: {plan}"


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


def _alembic_config(url):
    config = Config(str(MIGRATIONS_DIR.parent / "alembic.ini"))
    config.attributes["database_url"] = url
    config.attributes["configure_logging"] = False
    return config


@pytest.mark.integrated
def test_upgrading_keeps_the_notes_of_the_first_schema_intact(server_url, make_unique):
    name = make_unique("notes_test_upgrade").replace("-", "_")
    localpg.create_database(server_url, name)
    url = localpg.with_database(server_url, name)
    rows = [
        (uuid7(), "I was running late", "work", datetime(2025, 1, 1, 8, tzinfo=UTC), None),
        (uuid7(), "x" * 100_000, "", datetime(2025, 1, 2, 9, 30, 15, 123456, tzinfo=UTC), None),
        (
            uuid7(),
            "deleted but kept",
            "home",
            datetime(2025, 1, 3, tzinfo=UTC),
            datetime(2025, 2, 1, tzinfo=UTC),
        ),
    ]
    columns = "id, contents, category, creation_date, deleted_at"
    try:
        command.upgrade(_alembic_config(url), "0001_create_notes")
        with psycopg.connect(localpg.libpq_url(url)) as conn:
            conn.cursor().executemany(
                f"INSERT INTO notes ({columns}) VALUES (%s, %s, %s, %s, %s)",  # noqa: S608
                rows,
            )
        command.upgrade(_alembic_config(url), "head")
        with psycopg.connect(localpg.libpq_url(url)) as conn:
            kept = conn.execute(
                f"SELECT {columns}, version, updated_at FROM notes ORDER BY creation_date"  # noqa: S608
            ).fetchall()
            found = conn.execute(
                "SELECT id FROM notes WHERE contents_tsv @@ websearch_to_tsquery('english', 'run')"
            ).fetchall()
    finally:
        localpg.drop_database(server_url, name)
    assert [tuple(row[:5]) for row in kept] == rows
    assert [(row[5], row[6]) for row in kept] == [(1, row[3]) for row in rows]
    assert found == [(rows[0][0],)]


@pytest.mark.integrated
def test_upgrading_records_an_event_for_every_live_note_stored_before_the_event_log(
    server_url, make_unique
):
    name = make_unique("notes_test_backfill").replace("-", "_")
    localpg.create_database(server_url, name)
    url = localpg.with_database(server_url, name)
    live = uuid7()
    deleted = uuid7()
    try:
        command.upgrade(_alembic_config(url), "0001_create_notes")
        with psycopg.connect(localpg.libpq_url(url)) as conn:
            conn.cursor().executemany(
                "INSERT INTO notes (id, contents, category, creation_date, deleted_at)"
                " VALUES (%s, %s, %s, now(), %s)",
                [
                    (live, "planting #Tomatoes and #herbs", "garden", None),
                    (deleted, "gone #away", "old", datetime(2025, 2, 1, tzinfo=UTC)),
                ],
            )
        command.upgrade(_alembic_config(url), "head")
        with psycopg.connect(localpg.libpq_url(url)) as conn:
            events = conn.execute(
                "SELECT type, note_id, payload, dispatched_at FROM events ORDER BY id"
            ).fetchall()
    finally:
        localpg.drop_database(server_url, name)
    assert events == [
        ("NoteCreated", live, {"category": "garden", "tags": ["herbs", "tomatoes"]}, None)
    ]


async def test_the_state_of_a_database_that_does_not_answer_is_a_connection_error():
    settings = Settings(database_url="postgresql://nobody@127.0.0.1:1/none", db_pool_timeout=0.5)
    engine = database.create_engine(settings)
    read_pool = database.create_read_pool(settings)
    await read_pool.open(wait=False)
    try:
        state = SqlDatabaseState(engine, read_pool)
        assert state.describe() == "127.0.0.1:1/none"
        with pytest.raises(DatabaseUnavailableError, match=r"127\.0\.0\.1"):
            await state.current_revision()
        with pytest.raises(DatabaseUnavailableError, match="no database connection in time"):
            await state.check_reads()
    finally:
        await read_pool.close()
        await engine.dispose()


@pytest.mark.integrated
def test_upgrading_gives_the_events_already_stored_a_position_before_every_new_one(
    server_url, make_unique
):
    name = make_unique("notes_test_positions").replace("-", "_")
    localpg.create_database(server_url, name)
    url = localpg.with_database(server_url, name)
    insert = (
        "INSERT INTO events (type, note_id, owner_id, occurred_at, payload)"
        " VALUES ('NoteCreated', gen_random_uuid(), gen_random_uuid(), now(), '{}')"
    )
    try:
        command.upgrade(_alembic_config(url), "0009_webhooks")
        with psycopg.connect(localpg.libpq_url(url)) as conn:
            conn.execute(insert)
            conn.execute(insert)
        command.upgrade(_alembic_config(url), "head")
        with psycopg.connect(localpg.libpq_url(url)) as conn:
            conn.execute(insert)
        with psycopg.connect(localpg.libpq_url(url)) as conn:
            positions = conn.execute(
                "SELECT xact_id::text::numeric, id FROM events ORDER BY xact_id, id"
            ).fetchall()
            indexes = {
                row[0]
                for row in conn.execute(
                    "SELECT indexname FROM pg_indexes WHERE tablename = 'events'"
                )
            }
    finally:
        localpg.drop_database(server_url, name)
    assert [row[1] for row in positions] == [1, 2, 3]
    assert positions[0][0] == positions[1][0] < positions[2][0]  # the migration's transaction
    assert {"ix_events_xact_id_id", "ix_events_owner_id_xact_id_id"} <= indexes
