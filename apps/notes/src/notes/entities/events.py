"""Domain events: what happened to a note, recorded in the ``events`` table with the change."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from sqlalchemy import BigInteger, DateTime, Identity, Index, Integer, String, Text, Uuid, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql.base import ischema_names
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import UserDefinedType

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
        """The event a stored row describes; ``KeyError`` for an unknown type, ``TypeError``
        for a missing field."""
        cls = EVENT_TYPES[type]
        fields = {field.name for field in dataclasses.fields(cls)}
        values = {key: value for key, value in payload.items() if key in fields}
        for key in ("tags", "previous_tags"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(id=id, note_id=note_id, owner_id=owner_id, occurred_at=occurred_at, **values)

    @staticmethod
    def decode(row: Mapping[str, Any]) -> NoteEvent | UndecodableEvent:
        """The event a stored row describes, or why it cannot be read (a type from a newer
        release, a missing or malformed field): never raises for a bad row."""
        try:
            return NoteEvent.restore(**row)
        except KeyError:
            reason = f"unknown event type {row.get('type')!r}"
        except (TypeError, ValueError, AttributeError) as error:
            reason = f"malformed {row.get('type')} event: {error}"
        return UndecodableEvent(id=int(row["id"]), type=str(row.get("type")), reason=reason[:500])


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


@dataclass(frozen=True)
class UndecodableEvent:
    """A stored event this release cannot read: its id, stored type, and why."""

    id: int
    type: str
    reason: str


ANY_LISTENER = "*"
"""The listener an undecodable event is parked for: it reached none of them."""


@dataclass(frozen=True)
class ListenerFailure:
    """A listener failed on an event; ``error`` describes the failure (bounded text)."""

    event_id: int
    listener: str
    error: str


@dataclass(frozen=True)
class FailureCount:
    """How often a listener has failed on an event so far, and whether it gave up on it."""

    event_id: int
    listener: str
    attempts: int
    parked: bool


@dataclass(frozen=True)
class ParkedEvent:
    """An event a listener gave up on (a dead letter), with its last error."""

    event_id: int
    listener: str
    type: str
    note_id: uuid.UUID | None
    attempts: int
    last_error: str
    parked_at: datetime


EventPosition = tuple[int, int]
"""Where an event stands in commit order: (its transaction's id, its id). An event recorded
later by a transaction that commits later always stands after it (see ``EventRecord``)."""


@dataclass(frozen=True)
class FeedEvent:
    """An event as the live feed carries it: where it stands in commit order, whose it is,
    and the event (or why this release cannot read it)."""

    position: EventPosition
    owner_id: uuid.UUID
    event: NoteEvent | UndecodableEvent


EVENT_TYPES: dict[str, type[NoteEvent]] = {
    cls.__name__: cls for cls in (NoteCreated, NoteUpdated, NoteDeleted)
}
"""The stored name of each event type."""


class Xid8(UserDefinedType[int]):
    """PostgreSQL's ``xid8``: a 64-bit transaction id (SQLAlchemy has no type for it)."""

    cache_ok = True

    def get_col_spec(self, **_: object) -> str:
        return "xid8"


# So that reflection (the models-against-migrations check) knows the column's type.
ischema_names.setdefault("xid8", Xid8)


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
    # Set while a listener's failure on it waits to be retried: it is not claimed before then.
    retry_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # The recording transaction's id: with ``id``, the event's position in commit order (the
    # live feed reads ``(xact_id, id)`` below the oldest running transaction; docs/streams.md).
    xact_id: Mapped[int] = mapped_column(Xid8(), server_default=text("pg_current_xact_id()"))

    __table_args__ = (
        # What the dispatcher scans: the undispatched events not waiting for a retry, oldest first.
        Index(
            "ix_events_pending",
            "id",
            postgresql_where=text("dispatched_at IS NULL AND retry_at IS NULL"),
        ),
        # The events waiting for a retry, soonest first.
        Index(
            "ix_events_retrying",
            "retry_at",
            postgresql_where=text("dispatched_at IS NULL AND retry_at IS NOT NULL"),
        ),
        # What the pruner scans: the dispatched events, oldest first.
        Index(
            "ix_events_dispatched_at",
            "dispatched_at",
            postgresql_where=text("dispatched_at IS NOT NULL"),
        ),
        Index("ix_events_note_id", "note_id"),
        # Every owner's events in commit order: what each process's live-event hub reads.
        Index("ix_events_xact_id_id", "xact_id", "id"),
        # One owner's events in commit order: what a live stream's replay reads.
        Index("ix_events_owner_id_xact_id_id", "owner_id", "xact_id", "id"),
    )


class ProcessedEvent(Base):
    """A listener has handled an event; written in the same transaction as its effect."""

    __tablename__ = "processed_events"

    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    listener: Mapped[str] = mapped_column(String(LISTENER_NAME_MAX), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class EventFailure(Base):
    """A listener's failures on an event: how many, the last error, and whether it gave up.

    Written by the dispatcher in the transaction that claimed the event. ``parked_at`` is set
    once the failures reach the configured number of attempts: the event is then a dead
    letter for that listener until an operator requeues it.
    """

    __tablename__ = "event_failures"

    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    listener: Mapped[str] = mapped_column(String(LISTENER_NAME_MAX), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(Text)
    first_failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    parked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    __table_args__ = (
        Index(
            "ix_event_failures_parked_at",
            "parked_at",
            postgresql_where=text("parked_at IS NOT NULL"),
        ),
    )
