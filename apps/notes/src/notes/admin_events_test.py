# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""``python -m notes.admin parked-events`` and ``requeue-events`` against a real database."""

import os
import subprocess
import sys

import pytest
from testkit import OWNER

from notes.services.dispatch import Dispatcher
from notes.services.listeners import build_bus

pytestmark = pytest.mark.integrated


def _admin(database_url, *args):
    return subprocess.run(
        [sys.executable, "-m", "notes.admin", *args],
        env={**os.environ, "NOTES_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_an_operator_lists_a_parked_event_and_requeues_it(database_url, sql, committing_uow):
    await sql.execute(
        "INSERT INTO events (type, note_id, owner_id, occurred_at, payload)"
        " VALUES ('NoteArchived', :note, :owner, now(), '{}')",
        note=OWNER,
        owner=OWNER,
    )
    event_id = await sql.scalar("SELECT max(id) FROM events WHERE type = 'NoteArchived'")
    await Dispatcher(committing_uow, build_bus(committing_uow)).dispatch_pending()

    listed = _admin(database_url, "parked-events", "--listener", "*", "--limit", "100000")
    assert listed.returncode == 0, listed.stderr
    [line] = [row for row in listed.stdout.splitlines() if row.startswith(f"{event_id}\t")]
    assert line.split("\t")[1:3] == ["*", "NoteArchived"]
    assert line.endswith("unknown event type 'NoteArchived'")

    refused = _admin(database_url, "requeue-events")
    assert refused.returncode == 2
    assert "give event ids, or --all" in refused.stderr
    done = _admin(database_url, "requeue-events", str(event_id))
    assert (done.returncode, done.stdout.strip()) == (0, "1 event(s) requeued")
    assert await sql.scalar("SELECT dispatched_at FROM events WHERE id = :id", id=event_id) is None
    await sql.execute("DELETE FROM events WHERE id = :id", id=event_id)  # no other test trips on it
