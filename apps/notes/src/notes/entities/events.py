"""Domain events: what happened to a note, recorded in the ``events`` table with the change."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from sqlalchemy import BigInteger, DateTime, Identity, Index, String, Uuid, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from notes.entities.base import Base
from notes.entities.note import Note
from notes.entities.tags import extract_tags

EVENT_TYPE_MAX = 50
LISTENER_NAME_MAX = 100


@dataclass(frozen=True, kw_only=True)
class NoteEvent:
    """Something that happened to a note, in the past tense.

    ``id`` is None until the event is recorded; the event log assigns it, increasing with
    every event. ``category`` and ``tags`` describe the note as the change left it (for a
    deletion: as it was), so a listener knows which categories and tags it touched without
    reading history.
    """

    id: int | None = None
    note_id: uuid.UUID
    owner_id: uuid.UUID
    occurred_at: datetime
    category: str
    tags: tuple[str, ...]

    @classmethod
    def of(cls, note: Note, *, at: datetime) -> Self:
        """The event for ``note`` as it is now."""
        return cls(
            note_id=note.id,
            owner_id=note.owner_id,
            occurred_at=at,
            category=note.category,
            tags=extract_tags(note.contents),
        )

    @property
    def type(self) -> str:
        """The name the event is stored under: its class's name."""
        return type(self).__name__

    def payload(self) -> dict[str, Any]:
        """What the event carries besides its id, type, note, owner and time, as JSON."""
        return {"category": self.category, "tags": list(self.tags)}

    def affected_tags(self) -> frozenset[str]:
        """The tags whose notes this event may have changed."""
        return frozenset(self.tags)

    def affected_categories(self) -> frozenset[str]:
        """The categories whose notes this event may have changed."""
        return frozenset({self.category})

    @staticmethod
    def restore(  # noqa: PLR0913 - one argument per column of a stored event
        *,
        id: int,  # noqa: A002 - the column's name
        type: str,  # noqa: A002 - the column's name
        note_id: uuid.UUID,
        owner_id: uuid.UUID,
        occurred_at: datetime,
        payload: Mapping[str, Any],
    ) -> NoteEvent:
        """The event a stored row describes; ``KeyError`` for an unknown type."""
        cls = EVENT_TYPES[type]
        fields = {field.name for field in dataclasses.fields(cls)}
        values = {key: value for key, value in payload.items() if key in fields}
        for key in ("tags", "previous_tags"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(id=id, note_id=note_id, owner_id=owner_id, occurred_at=occurred_at, **values)


@dataclass(frozen=True, kw_only=True)
class NoteCreated(NoteEvent):
    """A note was created."""


@dataclass(frozen=True, kw_only=True)
class NoteDeleted(NoteEvent):
    """A note was deleted; ``category`` and ``tags`` are those it had."""


@dataclass(frozen=True, kw_only=True)
class NoteUpdated(NoteEvent):
    """A note's contents or category changed; ``previous_*`` are what they were before.

    An update use case records it in one line, from the edited note and the contents and
    category it had when loaded::

        await uow.events.add(NoteUpdated.of(note, at=now, before=(old_contents, old_category)))
    """

    previous_category: str
    previous_tags: tuple[str, ...]

    @classmethod
    def of(cls, note: Note, *, at: datetime, before: tuple[str, str] | None = None) -> Self:
        """The event for ``note`` as it is now, having had ``before`` = (contents, category)."""
        if before is None:
            msg = "NoteUpdated.of needs before=(contents, category) of the note before the edit"
            raise TypeError(msg)
        previous_contents, previous_category = before
        return cls(
            note_id=note.id,
            owner_id=note.owner_id,
            occurred_at=at,
            category=note.category,
            tags=extract_tags(note.contents),
            previous_category=previous_category,
            previous_tags=extract_tags(previous_contents),
        )

    def payload(self) -> dict[str, Any]:
        return {
            **super().payload(),
            "previous_category": self.previous_category,
            "previous_tags": list(self.previous_tags),
        }

    def affected_tags(self) -> frozenset[str]:
        return frozenset(self.tags) | frozenset(self.previous_tags)

    def affected_categories(self) -> frozenset[str]:
        return frozenset({self.category, self.previous_category})


EVENT_TYPES: dict[str, type[NoteEvent]] = {
    cls.__name__: cls for cls in (NoteCreated, NoteUpdated, NoteDeleted)
}
"""The stored name of each event type."""


class EventRecord(Base):
    """A row of the event log. ``dispatched_at`` is set once every listener has handled it."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    type: Mapped[str] = mapped_column(String(EVENT_TYPE_MAX))
    note_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    __table_args__ = (
        # What the dispatcher scans: the undispatched events, oldest first.
        Index("ix_events_pending", "id", postgresql_where=text("dispatched_at IS NULL")),
        Index("ix_events_note_id", "note_id"),
        # An owner's events in order: what a stream of one account's changes reads.
        Index("ix_events_owner_id_id", "owner_id", "id"),
    )


class ProcessedEvent(Base):
    """A listener has handled an event; written in the same transaction as its effect."""

    __tablename__ = "processed_events"

    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    listener: Mapped[str] = mapped_column(String(LISTENER_NAME_MAX), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
