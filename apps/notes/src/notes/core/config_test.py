# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
import pytest
from pydantic import ValidationError

from notes.core.config import MIGRATIONS_DIR, Settings


@pytest.mark.parametrize(
    "given",
    ["postgresql://u@h/db", "postgres://u@h/db", "postgresql+psycopg://u@h/db"],
)
def test_database_url_is_pointed_at_psycopg(given):
    assert Settings(database_url=given).database_url == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize("given", ["mysql://u@h/db", "postgresql+asyncpg://u@h/db", ""])
def test_other_database_urls_are_refused(given):
    with pytest.raises(ValidationError, match="database_url"):
        Settings(database_url=given)


def test_settings_are_read_from_notes_environment_variables(monkeypatch):
    monkeypatch.setenv("NOTES_DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("NOTES_DB_POOL_SIZE", "3")
    monkeypatch.setenv("NOTES_LOG_LEVEL", "debug")
    settings = Settings()
    assert settings.db_pool_size == 3
    assert settings.log_level == "DEBUG"


def test_unknown_log_level_is_refused():
    with pytest.raises(ValidationError, match="log level"):
        Settings(database_url="postgresql://u@h/db", log_level="loud")


def test_migrations_are_found_beside_the_package():
    assert (MIGRATIONS_DIR / "env.py").is_file()


def test_the_connection_budget_counts_every_pool_of_every_process():
    settings = Settings(
        database_url="postgresql://u@h/db",
        db_pool_size=7,
        db_max_overflow=3,
        api_processes=4,
        worker_processes=2,
    )
    assert settings.connections_per_process() == 2 * 7 + 3
    # And what each opens besides: an API process's feed, a worker's LISTEN and consumer.
    assert settings.connection_budget() == (4 + 2) * 17 + 4 * 1 + 2 * 3


def test_the_default_deployment_fits_a_default_postgresql(monkeypatch):
    for variable in ("NOTES_DB_POOL_SIZE", "NOTES_DB_MAX_OVERFLOW", "NOTES_WORKER_PROCESSES"):
        monkeypatch.delenv(variable, raising=False)
    # max_connections 100, less superuser_reserved_connections 3: two API workers and a worker.
    assert Settings(database_url="postgresql://u@h/db", api_processes=2).connection_budget() <= 97


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("NOTES_DB_POOL_TIMEOUT", "0"),
        ("NOTES_DB_STATEMENT_TIMEOUT", "-1"),
        ("NOTES_DB_LOCK_TIMEOUT", "-1"),
        ("NOTES_DB_IDLE_IN_TRANSACTION_TIMEOUT", "-1"),
        ("NOTES_DB_MAX_WAITING", "0"),
        ("NOTES_RETRY_AFTER", "0"),
        ("NOTES_API_PROCESSES", "0"),
        ("NOTES_WORKER_PROCESSES", "-1"),
        ("NOTES_CURSOR_SECRET", "too short"),
    ],
)
def test_settings_out_of_bounds_are_refused(monkeypatch, variable, value):
    monkeypatch.setenv("NOTES_DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError):
        Settings()


def test_without_a_cursor_secret_none_is_made_up_here(monkeypatch):
    monkeypatch.delenv("NOTES_CURSOR_SECRET", raising=False)
    assert Settings(database_url="postgresql://u@h/db").cursor_secret is None
