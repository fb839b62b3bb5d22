"""events for existing notes: a NoteCreated for every live note stored before the event log

Revision ID: 0005_events_for_existing_notes
Revises: 0004_events
Created: 2026-11-26 05:30:00

Notes written before 0004 have no events, so the worker never derived their tags and counts.
This records one ``NoteCreated`` per live note, in the shape the service records them; the
worker picks them up like any other pending event (at start-up, or on its next poll). Tags are
read with the service's own rule (``notes.entities.tags.extract_tags``) as it is when this runs.
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from notes.entities.tags import extract_tags

revision: str = "0005_events_for_existing_notes"
down_revision: str | None = "0004_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000


def upgrade() -> None:
    connection = op.get_bind()
    insert = sa.text(
        "INSERT INTO events (type, note_id, occurred_at, payload)"
        " VALUES ('NoteCreated', :note_id, now(), CAST(:payload AS jsonb))"
    )
    notes = connection.execute(
        sa.text(
            "SELECT id, contents, category FROM notes WHERE deleted_at IS NULL"
            " ORDER BY creation_date, id"
        ).execution_options(yield_per=BATCH)
    )
    for rows in notes.partitions():
        connection.execute(
            insert,
            [
                {
                    "note_id": note_id,
                    "payload": json.dumps(
                        {"category": category, "tags": list(extract_tags(contents))}
                    ),
                }
                for note_id, contents, category in rows
            ],
        )


# Upgrade only: a downgrade risks losing data in a live system. Fix a mistake with a new
# migration instead.
