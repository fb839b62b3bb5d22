"""A note: short text with an optional category; deleting it only marks it deleted."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from notes.entities.base import Base

CONTENTS_MAX = 100_000
CATEGORY_MAX = 100


class Note(Base):
    """A note. ``deleted_at`` is set on delete; deleted notes are never served."""

    __tablename__ = "notes"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    contents: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(CATEGORY_MAX), server_default="")
    creation_date: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    __table_args__ = (
        CheckConstraint(
            f"char_length(contents) BETWEEN 1 AND {CONTENTS_MAX}", name="contents_length"
        ),
    )

    def __repr__(self) -> str:
        return f"Note(id={self.id!s}, category={self.category!r})"


# Newest first over live notes, with and without a category: the list's sort order, so a page
# is read straight off an index.
Index(
    "ix_notes_live_newest",
    Note.creation_date.desc(),
    Note.id.desc(),
    postgresql_where=Note.deleted_at.is_(None),
)
Index(
    "ix_notes_live_category_newest",
    Note.category,
    Note.creation_date.desc(),
    Note.id.desc(),
    postgresql_where=Note.deleted_at.is_(None),
)
