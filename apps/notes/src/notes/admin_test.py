# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Notes stored before accounts existed: the migration gives them an owner, whose password an
operator sets with ``python -m notes.admin set-password``; then that owner logs in and sees them.
"""

import os
import subprocess
import sys
from datetime import UTC, datetime

import localpg
import psycopg
import pytest
from alembic import command
from alembic.config import Config

from notes.bootstrap import bootstrap
from notes.core.config import MIGRATIONS_DIR, Settings
from notes.core.ids import uuid7
from notes.services.errors import InvalidCredentialsError

pytestmark = pytest.mark.integrated

LEGACY_OWNER = "owner@notes.invalid"
NEW_PASSWORD = "the owner's new password"


def _migrate(url, revision):
    config = Config(str(MIGRATIONS_DIR.parent / "alembic.ini"))
    config.attributes["database_url"] = url
    config.attributes["configure_logging"] = False
    command.upgrade(config, revision)


@pytest.fixture
def old_database(server_url, make_unique):
    """A database at the last revision before accounts, holding notes, tags, counts and a key."""
    name = make_unique("notes_test_accounts").replace("-", "_")
    localpg.create_database(server_url, name)
    url = localpg.with_database(server_url, name)
    try:
        _migrate(url, "0005_events_for_existing_notes")
        yield url
    finally:
        localpg.drop_database(server_url, name)


def _fill(url):
    live, deleted = uuid7(), uuid7()
    with psycopg.connect(localpg.libpq_url(url)) as conn:
        conn.cursor().executemany(
            "INSERT INTO notes (id, contents, category, creation_date, updated_at, deleted_at)"
            " VALUES (%s, %s, %s, now(), now(), %s)",
            [
                (live, "plant #tomatoes", "garden", None),
                (deleted, "gone", "old", datetime(2025, 2, 1, tzinfo=UTC)),
            ],
        )
        conn.execute(
            "INSERT INTO events (type, note_id, occurred_at, payload)"
            ' VALUES (\'NoteCreated\', %s, now(), \'{"category": "garden", "tags": []}\')',
            (live,),
        )
        conn.execute("INSERT INTO note_tags (note_id, tag) VALUES (%s, 'tomatoes')", (live,))
        conn.execute("INSERT INTO tag_counts (name, count) VALUES ('tomatoes', 1)")
        conn.execute("INSERT INTO category_counts (name, count) VALUES ('garden', 1)")
        conn.execute(
            "INSERT INTO idempotency_keys"
            " (key, fingerprint, response_status, response_body, created_at, expires_at)"
            " VALUES ('k', %s, 201, '{}', now(), now() + interval '1 day')",
            ("f" * 64,),
        )
    return live, deleted


def _set_password(url, email, password):
    return subprocess.run(
        [sys.executable, "-m", "notes.admin", "set-password", email],
        input=password + "\n",
        capture_output=True,
        text=True,
        env={**os.environ, "NOTES_DATABASE_URL": url},
        timeout=60,
        check=False,
    )


async def test_notes_from_before_accounts_belong_to_an_owner_who_logs_in_once_given_a_password(
    old_database,
):
    live, _deleted = _fill(old_database)
    _migrate(old_database, "head")

    with psycopg.connect(localpg.libpq_url(old_database)) as conn:
        [(owner, password_hash)] = conn.execute(
            "SELECT id, password_hash FROM users WHERE email = %s", (LEGACY_OWNER,)
        ).fetchall()
        owners = {
            table: conn.execute(f"SELECT DISTINCT owner_id FROM {table}").fetchall()  # noqa: S608
            for table in ("notes", "events", "tag_counts", "category_counts", "idempotency_keys")
        }
        counts = conn.execute(
            "SELECT owner_id, name, count FROM tag_counts"
            " UNION ALL SELECT owner_id, name, count FROM category_counts ORDER BY 2"
        ).fetchall()
    assert password_hash is None
    assert owners == {table: [(owner,)] for table in owners}
    assert counts == [(owner, "garden", 1), (owner, "tomatoes", 1)]

    container = await bootstrap(Settings(database_url=old_database))
    try:
        with pytest.raises(InvalidCredentialsError):
            await container.accounts.issue_token(email=LEGACY_OWNER, password=NEW_PASSWORD)
        done = _set_password(old_database, LEGACY_OWNER, NEW_PASSWORD)
        assert (done.returncode, done.stdout.strip()) == (0, f"password set for {LEGACY_OWNER}")
        issued = await container.accounts.issue_token(email=LEGACY_OWNER, password=NEW_PASSWORD)
        principal = await container.accounts.authenticate(issued.value)
        page = await container.notes.list(principal.user_id)
        tags = await container.counts.list_tags(principal.user_id)
    finally:
        await container.close()
    assert principal.user_id == owner
    assert [note.id for note in page.notes] == [live]
    assert [(t.name, t.count) for t in tags.counts] == [("tomatoes", 1)]


def test_a_database_with_no_notes_gets_no_legacy_account(old_database):
    _migrate(old_database, "head")
    with psycopg.connect(localpg.libpq_url(old_database)) as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (0,)


def test_setting_a_password_refuses_a_weak_one_and_an_unknown_email(old_database):
    _fill(old_database)
    _migrate(old_database, "head")
    weak = _set_password(old_database, LEGACY_OWNER, "short")
    unknown = _set_password(old_database, "nobody@example.com", NEW_PASSWORD)
    assert (weak.returncode, weak.stderr.strip()) == (
        1,
        "password refused: it must have at least 12 characters",
    )
    assert (unknown.returncode, unknown.stderr.strip()) == (
        1,
        "no account has the email 'nobody@example.com'",
    )
