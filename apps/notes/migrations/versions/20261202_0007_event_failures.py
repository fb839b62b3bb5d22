"""event failures: retries and dead letters per (event, listener); indexes for pruning and counts

Revision ID: 0007_event_failures
Revises: 0006_accounts
Created: 2026-12-03 09:00:00

``event_failures`` counts each listener's failures on an event and parks the event for that
listener after the configured number of attempts; ``events.retry_at`` holds an event back
until its next attempt is due. The pending-events index leaves out the events waiting for a
retry, a second index serves the retries, and a third the pruning of dispatched events. The
counts get indexes in the order ``/tags/`` and ``/categories/`` page through (most used first,
ties by name). Only new columns, tables and indexes: nothing existing is rewritten.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_event_failures"
down_revision: str | None = "0006_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("events", sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True))
    op.drop_index("ix_events_pending", table_name="events")
    op.create_index(
        "ix_events_pending",
        "events",
        ["id"],
        unique=False,
        postgresql_where=sa.text("dispatched_at IS NULL AND retry_at IS NULL"),
    )
    op.create_index(
        "ix_events_retrying",
        "events",
        ["retry_at"],
        unique=False,
        postgresql_where=sa.text("dispatched_at IS NULL AND retry_at IS NOT NULL"),
    )
    op.create_index(
        "ix_events_dispatched_at",
        "events",
        ["dispatched_at"],
        unique=False,
        postgresql_where=sa.text("dispatched_at IS NOT NULL"),
    )
    op.create_table(
        "event_failures",
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("listener", sa.String(length=100), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("event_id", "listener", name=op.f("pk_event_failures")),
    )
    op.create_index(
        "ix_event_failures_parked_at",
        "event_failures",
        ["parked_at"],
        unique=False,
        postgresql_where=sa.text("parked_at IS NOT NULL"),
    )
    op.create_index(
        "ix_tag_counts_owner_most_used",
        "tag_counts",
        ["owner_id", sa.literal_column("count DESC"), "name"],
        unique=False,
    )
    op.create_index(
        "ix_category_counts_owner_most_used",
        "category_counts",
        ["owner_id", sa.literal_column("count DESC"), "name"],
        unique=False,
    )


# Upgrade only: a downgrade risks losing data in a live system. Fix a mistake with a new
# migration instead.
