"""A note: short text with an optional category; deleting it only marks it deleted."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from notes.entities.base import Base

CONTENTS_MAX = 100_000
CATEGORY_MAX = 100

# The text search configuration of ``contents``: English stemming and stop words. Written the way
# PostgreSQL reports the generated column back, so models and migrations compare equal.
SEARCH_CONFIG = "english"
_CONTENTS_TSV = f"to_tsvector('{SEARCH_CONFIG}'::regconfig, contents)"


class Note(Base):
    """A note of one owner (an account). ``deleted_at`` is set on delete; deleted notes are never
    served.

    ``version`` starts at 1 and grows by one with every change of ``contents`` or ``category``;
    ``updated_at`` is the time of the last change (the creation time until the first).
    """

    __tablename__ = "notes"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    contents: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(CATEGORY_MAX), server_default="")
    creation_date: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Kept by PostgreSQL from ``contents``; only queries read it, so it is never loaded.
    contents_tsv: Mapped[str | None] = mapped_column(
        TSVECTOR, Computed(_CONTENTS_TSV, persisted=True), deferred=True
    )

    __table_args__ = (
        CheckConstraint(
            f"char_length(contents) BETWEEN 1 AND {CONTENTS_MAX}", name="contents_length"
        ),
        CheckConstraint("version >= 1", name="version_positive"),
    )
    # The generated column is not read back after an insert or update: nothing needs it loaded.
    __mapper_args__ = {"eager_defaults": False}  # noqa: RUF012 - SQLAlchemy's own declaration

    @classmethod
    def new(
        cls,
        *,
        id: uuid.UUID,  # noqa: A002 - the column's name
        owner_id: uuid.UUID,
        contents: str,
        category: str,
        at: datetime,
    ) -> Note:
        """A note created at ``at``: version 1, not deleted."""
        return cls(
            id=id,
            owner_id=owner_id,
            contents=contents,
            category=category,
            creation_date=at,
            updated_at=at,
            version=1,
            deleted_at=None,
        )

    def __repr__(self) -> str:
        return f"Note(id={self.id!s}, category={self.category!r}, version={self.version})"


@dataclass(frozen=True, slots=True)
class NoteView:
    """A note as read for showing: an immutable snapshot the ORM knows nothing of.

    Reads return these rather than ``Note``: an ORM instance carries change tracking that a
    read never uses and that costs more than the read itself. To change a note, get it for
    update: that returns the ``Note``, whose changes are written at commit.
    """

    id: uuid.UUID
    owner_id: uuid.UUID
    contents: str
    category: str
    creation_date: datetime
    updated_at: datetime
    version: int
    deleted_at: datetime | None = None

    @classmethod
    def of(cls, note: Note) -> NoteView:
        """A snapshot of ``note`` as it is now."""
        return cls(
            id=note.id,
            owner_id=note.owner_id,
            contents=note.contents,
            category=note.category,
            creation_date=note.creation_date,
            updated_at=note.updated_at,
            version=note.version,
            deleted_at=note.deleted_at,
        )


# An owner's live notes newest first, with and without a category: the list's sort order, so a
# page is read straight off an index, at any depth when it starts from a cursor.
Index(
    "ix_notes_owner_live_newest",
    Note.owner_id,
    Note.creation_date.desc(),
    Note.id.desc(),
    postgresql_where=Note.deleted_at.is_(None),
)
Index(
    "ix_notes_owner_live_category_newest",
    Note.owner_id,
    Note.category,
    Note.creation_date.desc(),
    Note.id.desc(),
    postgresql_where=Note.deleted_at.is_(None),
)
# Full-text search over live notes.
Index(
    "ix_notes_live_contents_tsv",
    Note.contents_tsv,
    postgresql_using="gin",
    postgresql_where=Note.deleted_at.is_(None),
)
