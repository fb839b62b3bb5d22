"""A remembered answer to a request that carried an ``Idempotency-Key``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, Integer, String, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from notes.entities.base import Base

IDEMPOTENCY_KEY_MAX = 255


class IdempotencyKey(Base):
    """The first answer given to an owner's key, kept until ``expires_at`` so repeats get it
    again. Keys are per owner: two accounts may use the same key.

    ``fingerprint`` is the SHA-256 (hex) of the canonical request, so the same key sent with a
    different request is told apart from a repeat.
    """

    __tablename__ = "idempotency_keys"

    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    key: Mapped[str] = mapped_column(String(IDEMPOTENCY_KEY_MAX), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    def __repr__(self) -> str:
        return f"IdempotencyKey(key={self.key!r}, expires_at={self.expires_at.isoformat()})"


# Purging expired keys reads this index.
Index("ix_idempotency_keys_expires_at", IdempotencyKey.expires_at)
