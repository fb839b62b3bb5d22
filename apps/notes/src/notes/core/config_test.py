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
