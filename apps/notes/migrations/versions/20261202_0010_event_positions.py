"""event positions in commit order: ``events.xact_id``, the writing transaction's id

Revision ID: 0010_event_positions
Revises: 0009_webhooks
Created: 2026-12-02 16:10:00

``events.id`` is given at insert, and transactions commit in another order, so "the events
after id N" can miss one that commits later with a smaller id. ``xact_id`` (``xid8``, the
64-bit transaction id, which never wraps) is the id of the transaction that recorded the
event, filled in by its default. Read in ``(xact_id, id)`` order and only below the oldest
transaction still running (``pg_snapshot_xmin(pg_current_snapshot())``), the events come in
an order that no later commit can slip into: the live feed's position (docs/streams.md).

The index by ``(owner_id, id)`` goes: what read an owner's events by id now reads them by
position. Existing rows get the id of this migration's transaction. A volatile default makes
PostgreSQL rewrite the table, under an exclusive lock, once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_event_positions"
down_revision: str | None = "0009_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE events ADD COLUMN xact_id xid8 NOT NULL DEFAULT pg_current_xact_id()"
    )
    op.create_index("ix_events_xact_id_id", "events", ["xact_id", "id"], unique=False)
    op.create_index(
        "ix_events_owner_id_xact_id_id", "events", ["owner_id", "xact_id", "id"], unique=False
    )
    # An owner's events are read in position order now: the index by (owner_id, id) would only
    # cost every insert.
    op.drop_index("ix_events_owner_id_id", table_name="events")


# Upgrade only: a downgrade risks losing data in a live system. Fix a mistake with a new
# migration instead.
