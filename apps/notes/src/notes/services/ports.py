"""The ports: what the services need from the outside world, declared here, where they are used.

The connectors implement them (PostgreSQL adapters, and in-memory fakes for unit tests), and
``notes.bootstrap`` plugs the adapters in. The connectors never import this module: a class
satisfies a port by having its methods (``typing.Protocol`` is structural), and mypy checks each
adapter against its port where ``bootstrap`` hands it to a service. So the services name what
they need in their own words, and nothing here knows of SQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from notes.entities import (
    NO_FILTER,
    Count,
    IdempotencyKey,
    Note,
    NoteEvent,
    NoteFilter,
    NoteView,
    Position,
)


class NoteReader(Protocol):
    """Reads live notes as snapshots, each read on its own (it joins no transaction)."""

    async def get(self, note_id: uuid.UUID) -> NoteView | None:
        """The live (not deleted) note with ``note_id``, as it is now."""

    async def list(
        self,
        *,
        limit: int,
        offset: int = 0,
        after: Position | None = None,
        where: NoteFilter = NO_FILTER,
    ) -> list[NoteView]:
        """Live notes matching ``where``, newest first (ties broken by id, highest first).

        With ``after``, only the notes that sort after that position (older, or as old with a
        lower id); ``offset`` then skips that many of them.
        """


class NoteRepository(NoteReader, Protocol):
    """Stores notes, and reads them inside a unit of work. Never commits: the unit of work does.

    ``get`` and ``list`` read as ``NoteReader`` says, in the unit of work's transaction.
    """

    async def add(self, note: Note) -> None:
        """Insert a new note, as it is now, in the unit of work's transaction.

        Later changes to ``note`` are not stored: to change a stored note, get it for update.
        """

    async def add_all(self, notes: Sequence[Note]) -> None:
        """Insert new notes, as ``add`` does each, in one round trip to the database."""

    async def get_for_update(self, note_id: uuid.UUID) -> Note | None:
        """The live note with ``note_id``, locked until commit; its changes are kept at commit.

        A locked read waits for any other transaction holding the note, then sees its result.
        """

    async def get_many(self, note_ids: Collection[uuid.UUID]) -> list[NoteView]:
        """The live notes among ``note_ids``, by id."""

    async def get_many_for_update(self, note_ids: Collection[uuid.UUID]) -> list[Note]:
        """The live notes among ``note_ids``, by id, locked as ``get_for_update`` does.

        Locks are taken in id order, so two units of work locking overlapping notes never
        wait for each other in a cycle.
        """


class EventLog(Protocol):
    """Domain events, recorded in the unit of work that makes the change they describe.

    Never commits: an event exists exactly when the unit of work that added it commits.
    """

    async def add(self, event: NoteEvent) -> NoteEvent:
        """Record ``event``; return it with its id. Listeners are woken after the commit."""

    async def add_all(self, events: Sequence[NoteEvent]) -> list[NoteEvent]:
        """Record ``events``, in order, in one round trip; return them with their ids."""

    async def claim_pending(self, limit: int) -> list[NoteEvent]:
        """Up to ``limit`` undispatched events, oldest first, locked until this unit of work ends.

        Events another unit of work holds are skipped, so concurrent dispatchers never
        handle the same event at the same time.
        """

    async def mark_dispatched(self, event_ids: Collection[int]) -> None:
        """Mark events as handled by every listener; they are never claimed again."""

    async def mark_processed(self, event_ids: Collection[int], listener: str) -> frozenset[int]:
        """Record that ``listener`` handles these events; the ids not recorded before.

        A listener calls it first in the unit of work of its effect and applies the effect
        to the returned events only, so a redelivered event changes nothing. A record made
        by another unit of work still running is waited for: if that one commits, the event
        is not returned; if it rolls back, it is.
        """

    async def processed_by(self, event_id: int) -> frozenset[str]:
        """The listeners that have handled the event."""

    async def after(self, event_id: int, *, limit: int) -> list[NoteEvent]:
        """Events with an id above ``event_id``, oldest first, dispatched or not."""


class NoteTagRepository(Protocol):
    """Each live note's hashtags, as the tag listener found them. Never commits."""

    async def set_note_tags(self, tags: Mapping[uuid.UUID, Collection[str]]) -> None:
        """Make ``tags[note_id]`` the tags of each note it names (none for a deleted note)."""

    async def note_tags(self, note_id: uuid.UUID) -> frozenset[str]:
        """The note's tags."""


class CountRepository(Protocol):
    """How many live notes carry each tag and are in each category. Never commits."""

    async def recount_tags(self, names: Collection[str]) -> None:
        """Recompute the counts of ``names`` from the notes' tags, as committed right now.

        Holds a lock per name until the unit of work ends, taken before counting, so two
        recounts of one name run one after the other and the later one counts last.
        """

    async def recount_categories(self, names: Collection[str]) -> None:
        """Recompute the counts of ``names`` from the live notes, as committed right now.

        The empty category is never counted. Locks like ``recount_tags``.
        """

    async def tag_counts(self) -> list[Count]:
        """Tags of live notes, most used first, ties by name."""

    async def category_counts(self) -> list[Count]:
        """Categories of live notes, most used first, ties by name."""


class IdempotencyKeyRepository(Protocol):
    """Stores idempotency keys. Never commits: the unit of work that owns it does."""

    async def try_lock(self, key: str) -> bool:
        """Claim ``key`` until the end of this transaction, without waiting.

        False when another transaction holds it (a request with this key is still running).
        """

    async def get(self, key: str) -> IdempotencyKey | None:
        """The stored record of ``key``, expired or not."""

    async def add(self, record: IdempotencyKey) -> None:
        """Stage a new record."""

    async def remove(self, record: IdempotencyKey) -> None:
        """Delete ``record`` (an expired one, about to be replaced) right away."""

    async def purge_expired(self, now: datetime, *, limit: int) -> int:
        """Delete up to ``limit`` records that expired by ``now``; how many were deleted.

        Records another transaction is working on are skipped, never waited for.
        """


class UnitOfWork(Protocol):
    """A transaction: changes made through its repositories land together on ``commit``.

    Leaving the ``async with`` block without ``commit`` rolls everything back, whether the
    block ended normally or by an exception. The repositories are read-only members, so an
    adapter may give its own repository classes.
    """

    @property
    def notes(self) -> NoteRepository: ...

    @property
    def events(self) -> EventLog: ...

    @property
    def note_tags(self) -> NoteTagRepository: ...

    @property
    def counts(self) -> CountRepository: ...

    @property
    def idempotency_keys(self) -> IdempotencyKeyRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None:
        """Make every change of this unit of work durable, or raise and keep none.

        Unless the connection to the database fails during the commit itself: then
        ``CommitOutcomeUnknownError``, and the changes may or may not have been kept.
        """


UnitsOfWork = Callable[[], UnitOfWork]
"""Makes a new unit of work: what every service that writes is given."""


class Wakeups(Protocol):
    """News that events were committed."""

    async def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for news; True if some came, False on timeout."""


Listen = Callable[[], AbstractAsyncContextManager[Wakeups]]
"""Opens a listening session; leaving it disconnects."""


class DatabaseState(Protocol):
    """Where the database is, whether it serves reads and writes, and which migration its
    schema is at."""

    def describe(self) -> str:
        """The server and database, without credentials."""

    async def current_revision(self) -> str | None:
        """The migration the schema is at, asked where writes go; None if never migrated.

        An ``UnavailableError`` when the database cannot be reached, does not answer in time,
        or takes no writes (a standby).
        """

    async def check_reads(self) -> None:
        """Return if a read can be served now; an ``UnavailableError`` if not."""
