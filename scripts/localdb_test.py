# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Which database the Makefile's commands get."""

import os
import secrets

import localdb
import localpg
import psycopg
import pytest


@pytest.fixture
def server_url():
    configured = os.environ.get("NOTES_DATABASE_URL")
    if configured:
        return configured
    return localpg.ensure_running(localdb.DATA_DIR).url()


@pytest.mark.integrated
def test_configured_database_is_used_and_created_when_missing(server_url, monkeypatch):
    name = f"notes_localdb_{secrets.token_hex(4)}"
    url = localpg.with_database(server_url, name)
    monkeypatch.setenv("NOTES_DATABASE_URL", url)
    try:
        assert localdb.database_url() == url
        with psycopg.connect(localpg.libpq_url(url)) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (name,)
    finally:
        localpg.drop_database(server_url, name)


@pytest.mark.integrated
def test_without_configuration_the_embedded_notes_database_is_used(monkeypatch):
    monkeypatch.delenv("NOTES_DATABASE_URL", raising=False)
    url = localdb.database_url()
    assert url == localpg.ensure_running(localdb.DATA_DIR).url("notes")
    with psycopg.connect(localpg.libpq_url(url)) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("notes",)
