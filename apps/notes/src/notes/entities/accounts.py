"""Accounts, their bearer tokens, and the failed logins that slow guessing down."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    LargeBinary,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from notes.entities.base import Base

EMAIL_MAX = 254
TOKEN_HASH_BYTES = 32


def email_key(email: str) -> str:
    """What makes two emails the same account: the email, lower-cased."""
    return email.strip().lower()


class User(Base):
    """An account. ``email`` is kept as given; ``email_key`` makes it unique whatever its case.

    ``password_hash`` is an Argon2id hash in PHC form; None for an account that cannot log in
    until an operator sets its password (the owner of notes stored before accounts existed).
    """

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    email: Mapped[str] = mapped_column(String(EMAIL_MAX))
    email_key: Mapped[str] = mapped_column(String(EMAIL_MAX), unique=True)
    password_hash: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    def __repr__(self) -> str:
        return f"User(id={self.id!s})"


class AccessToken(Base):
    """A bearer token of an account: only the SHA-256 of its value is stored."""

    __tablename__ = "tokens"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(TOKEN_HASH_BYTES), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def __repr__(self) -> str:
        return f"AccessToken(id={self.id!s}, user_id={self.user_id!s})"


class LoginFailure(Base):
    """A failed attempt to get a token for an email (lower-cased), kept for the rate limit."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    email_key: Mapped[str] = mapped_column(String(EMAIL_MAX))
    failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)

    __table_args__ = (Index("ix_login_failures_email_key_failed_at", "email_key", "failed_at"),)


@dataclass(frozen=True, slots=True)
class Account:
    """An account as shown to its owner: never its password or hash."""

    id: uuid.UUID
    email: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as listed to its owner: never its value."""

    id: uuid.UUID
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts for: the account, and the token it presented."""

    user_id: uuid.UUID
    token_id: uuid.UUID
    expires_at: datetime
