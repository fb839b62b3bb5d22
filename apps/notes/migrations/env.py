"""Alembic's entry: runs migrations on the service's database, synchronously, with psycopg 3."""

from logging.config import fileConfig

from alembic import context
from notes.connectors.migrations import include_name
from notes.core.config import Settings
from notes.entities import Base
from sqlalchemy import create_engine, pool

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def database_url() -> str:
    """The URL handed in by the caller, else the service's own setting."""
    url = config.attributes.get("database_url")
    if url:
        return Settings(database_url=url).database_url
    return Settings().database_url  # type: ignore[call-arg]  # from NOTES_DATABASE_URL


def run_migrations_online() -> None:
    """Migrate in one transaction, holding an advisory lock so two migrators never race."""
    engine = create_engine(database_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            compare_server_default=True,
            include_name=include_name,
            transaction_per_migration=False,
        )
        with context.begin_transaction():
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7316001)")
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    msg = "offline (SQL script) migrations are not supported; run against a database"
    raise SystemExit(msg)
run_migrations_online()
