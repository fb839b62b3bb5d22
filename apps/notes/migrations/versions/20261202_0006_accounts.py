"""accounts: users, tokens, login failures; every note, event, count and key gets an owner

Revision ID: 0006_accounts
Revises: 0005_events_for_existing_notes
Created: 2026-12-02 13:00:00

Notes stored before accounts existed get an owner: when there is any data to own, this creates
one account, ``owner@notes.invalid``, with no password, and gives it every existing note, event,
count and idempotency key. It cannot log in until an operator sets its password:
``make set_password EMAIL=owner@notes.invalid``. With no data, no account is created.
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_accounts"
down_revision: str | None = "0005_events_for_existing_notes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEGACY_OWNER_EMAIL = "owner@notes.invalid"
OWNED = ("notes", "events", "tag_counts", "category_counts", "idempotency_keys")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("email_key", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email_key", name=op.f("uq_users_email_key")),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_tokens_token_hash")),
    )
    op.create_index("ix_tokens_user_id", "tokens", ["user_id"], unique=False)
    op.create_index("ix_tokens_expires_at", "tokens", ["expires_at"], unique=False)
    op.create_table(
        "login_failures",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("email_key", sa.String(length=254), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index(
        "ix_login_failures_email_key_failed_at",
        "login_failures",
        ["email_key", "failed_at"],
        unique=False,
    )
    op.create_index("ix_login_failures_failed_at", "login_failures", ["failed_at"], unique=False)

    for table in OWNED:
        op.add_column(table, sa.Column("owner_id", sa.Uuid(), nullable=True))
    connection = op.get_bind()
    if any(connection.scalar(sa.text(f"SELECT EXISTS (SELECT FROM {t})")) for t in OWNED):  # noqa: S608 - constant names
        owner = uuid.uuid4()
        connection.execute(
            sa.text(
                "INSERT INTO users (id, email, email_key, password_hash, created_at)"
                " VALUES (:id, :email, :email, NULL, now())"
            ),
            {"id": owner, "email": LEGACY_OWNER_EMAIL},
        )
        for table in OWNED:
            connection.execute(sa.text(f"UPDATE {table} SET owner_id = :owner"), {"owner": owner})  # noqa: S608 - constant names
    for table in OWNED:
        op.alter_column(table, "owner_id", nullable=False)

    op.create_foreign_key(op.f("fk_notes_owner_id_users"), "notes", "users", ["owner_id"], ["id"])
    op.drop_index("ix_notes_live_newest", table_name="notes")
    op.drop_index("ix_notes_live_category_newest", table_name="notes")
    op.create_index(
        "ix_notes_owner_live_newest",
        "notes",
        ["owner_id", sa.literal_column("creation_date DESC"), sa.literal_column("id DESC")],
        unique=False,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_index(
        "ix_notes_owner_live_category_newest",
        "notes",
        ["owner_id", "category", sa.literal_column("creation_date DESC"), sa.literal_column("id DESC")],
        unique=False,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_index("ix_events_owner_id_id", "events", ["owner_id", "id"], unique=False)
    for table, key in (
        ("tag_counts", "name"),
        ("category_counts", "name"),
        ("idempotency_keys", "key"),
    ):
        op.drop_constraint(f"pk_{table}", table, type_="primary")
        op.create_primary_key(f"pk_{table}", table, ["owner_id", key])


# Upgrade only: a downgrade risks losing data in a live system. Fix a mistake with a new
# migration instead.
