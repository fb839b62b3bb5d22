"""note versions and full-text search

Existing notes get version 1 and updated_at = creation_date; nothing else about them changes.

Revision ID: 0002_note_versions_and_search
Revises: 0001_create_notes
Created: 2026-11-26 04:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_note_versions_and_search"
down_revision: str | None = "0001_create_notes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A constant default is stored once in the catalogue: no table rewrite for the version.
    op.add_column("notes", sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    op.create_check_constraint(op.f("ck_notes_version_positive"), "notes", "version >= 1")
    op.add_column("notes", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE notes SET updated_at = creation_date")
    op.alter_column("notes", "updated_at", nullable=False)
    op.add_column(
        "notes",
        sa.Column(
            "contents_tsv",
            postgresql.TSVECTOR(),
            sa.Computed("to_tsvector('english'::regconfig, contents)", persisted=True),
            nullable=True,
        ),
    )
    op.create_index(
        "ix_notes_live_contents_tsv",
        "notes",
        ["contents_tsv"],
        unique=False,
        postgresql_using="gin",
        postgresql_where=sa.text("deleted_at IS NULL"),
    )


# Upgrade only: a downgrade risks losing data in a live system. Fix a mistake with a new
# migration instead.
