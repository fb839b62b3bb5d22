"""In-memory fakes of the ports, for unit tests of the services: same contract, no database.

Like the PostgreSQL adapters, they implement the ports of ``notes.services.ports`` by shape, not
by inheritance; the contract tests (``connectors/*_test.py`` taking ``uow``) run each against
both.
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import hashlib
import hmac
import ipaddress
import json
import re
import secrets
import uuid
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Collection,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from notes.core.errors import DatabaseUnavailableError
from notes.entities import (
    NO_FILTER,
    AccessToken,
    Account,
    AttemptRecord,
    AttemptView,
    Count,
    DeliveryStatus,
    DeliveryTask,
    DeliveryView,
    FailureCount,
    IdempotencyKey,
    ListenerFailure,
    Note,
    NoteEvent,
    NoteFilter,
    NoteView,
    ParkedEvent,
    Position,
    Principal,
    SendResult,
    SubscriptionView,
    TokenInfo,
    UndecodableEvent,
    User,
    WebhookDelivery,
    WebhookSubscription,
)
from notes.entities.events import FeedEvent

K = TypeVar("K")
V = TypeVar("V")

_WORD = re.compile(r"[a-z0-9]+")
# A few of PostgreSQL's English stop words: never indexed, so never found.
# fmt: off
_STOP_WORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
})
# fmt: on


def _stem(word: str) -> str:
    """A rough English stem: enough to agree with PostgreSQL on plain words (run, runs, running).

    Only an approximation of PostgreSQL's Snowball stemmer: tests that need real stemming run
    against PostgreSQL.
    """
    for suffix in ("ing", "ed", "s"):
        if word.endswith(suffix) and not word.endswith("ss") and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]
            break
    return word


def _terms(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP_WORDS}


def _matches(note: Note, where: NoteFilter, tags: frozenset[str]) -> bool:
    if note.deleted_at is not None or (where.tag is not None and where.tag not in tags):
        return False
    if where.category is not None and note.category != where.category:
        return False
    if where.created_after is not None and note.creation_date < where.created_after:
        return False
    if where.created_before is not None and note.creation_date >= where.created_before:
        return False
    if where.text is not None:
        wanted = _terms(where.text)
        return bool(wanted) and wanted <= _terms(note.contents)
    return True


_NOTE_COLUMNS = [c.key for c in Note.__table__.columns if c.computed is None]
_KEY_COLUMNS = [c.key for c in IdempotencyKey.__table__.columns]
_USER_COLUMNS = [c.key for c in User.__table__.columns]
_TOKEN_COLUMNS = [c.key for c in AccessToken.__table__.columns]
_SUBSCRIPTION_COLUMNS = [c.key for c in WebhookSubscription.__table__.columns]
_DELIVERY_COLUMNS = [c.key for c in WebhookDelivery.__table__.columns]


def _copy_note(note: Note) -> Note:
    return Note(**{c: getattr(note, c) for c in _NOTE_COLUMNS})


def _same_note(a: Note, b: Note) -> bool:
    return all(getattr(a, c) == getattr(b, c) for c in _NOTE_COLUMNS)


def _copy_key(record: IdempotencyKey) -> IdempotencyKey:
    return IdempotencyKey(**{c: getattr(record, c) for c in _KEY_COLUMNS})


def _same_key(a: IdempotencyKey, b: IdempotencyKey) -> bool:
    return all(getattr(a, c) == getattr(b, c) for c in _KEY_COLUMNS)


def _copy_user(user: User) -> User:
    return User(**{c: getattr(user, c) for c in _USER_COLUMNS})


def _same_user(a: User, b: User) -> bool:
    return all(getattr(a, c) == getattr(b, c) for c in _USER_COLUMNS)


def _copy_token(token: AccessToken) -> AccessToken:
    return AccessToken(**{c: getattr(token, c) for c in _TOKEN_COLUMNS})


def _same_token(a: AccessToken, b: AccessToken) -> bool:
    return all(getattr(a, c) == getattr(b, c) for c in _TOKEN_COLUMNS)


def _copy_subscription(row: WebhookSubscription) -> WebhookSubscription:
    copied = WebhookSubscription(**{c: getattr(row, c) for c in _SUBSCRIPTION_COLUMNS})
    if copied.event_types is not None:
        copied.event_types = list(copied.event_types)
    return copied


def _same_subscription(a: WebhookSubscription, b: WebhookSubscription) -> bool:
    return all(getattr(a, c) == getattr(b, c) for c in _SUBSCRIPTION_COLUMNS)


def _copy_delivery(row: WebhookDelivery) -> WebhookDelivery:
    return WebhookDelivery(**{c: getattr(row, c) for c in _DELIVERY_COLUMNS})


def _same_delivery(a: WebhookDelivery, b: WebhookDelivery) -> bool:
    return all(getattr(a, c) == getattr(b, c) for c in _DELIVERY_COLUMNS)


_NONE: frozenset[str] = frozenset()


class DuplicateKeyError(ValueError):
    """A row with this key exists (the fake's unique violation)."""


class _Table(Generic[K, V]):
    """A unit of work's copy of one committed table; ``publish`` writes back only its changes.

    Writing back changes, not the whole copy, lets units of work that ran side by side on
    different rows all keep their work, as transactions do.
    """

    def __init__(
        self,
        committed: dict[K, V],
        copy: Callable[[V], V] = lambda value: value,
        same: Callable[[V, V], bool] = lambda a, b: a == b,
    ) -> None:
        self._committed = committed
        self._copy = copy
        self._same = same
        self._original = {key: copy(value) for key, value in committed.items()}
        self.rows = {key: copy(value) for key, value in committed.items()}

    def _changes(self) -> Iterator[tuple[K, V | None]]:
        for key in self._original.keys() | self.rows.keys():
            if key not in self.rows:
                yield key, None
            elif key not in self._original or not self._same(self._original[key], self.rows[key]):
                yield key, self.rows[key]

    def current(self) -> dict[K, V]:
        """What is committed now, with this unit of work's own changes on top."""
        view = dict(self._committed)
        for key, value in self._changes():
            if value is None:
                view.pop(key, None)
            else:
                view[key] = value
        return view

    def refresh(self, key: K) -> None:
        """Read ``key`` again as committed now, as a locked read in PostgreSQL does."""
        if key in self._committed:
            self._original[key] = self._copy(self._committed[key])
            self.rows[key] = self._copy(self._committed[key])
        else:
            self._original.pop(key, None)
            self.rows.pop(key, None)

    def committed_or_own(self, key: K) -> bool:
        """Whether ``key`` exists, committed by anyone or added by this unit of work."""
        return key in self.rows or key in self._committed

    def snapshot(self) -> dict[K, V]:
        """A copy of this unit of work's rows, for ``restore``."""
        return {key: self._copy(value) for key, value in self.rows.items()}

    def restore(self, saved: dict[K, V]) -> None:
        """Put the rows back as ``snapshot`` found them (in place: repositories share them)."""
        self.rows.clear()
        self.rows.update(saved)

    def publish(self) -> None:
        for key, value in list(self._changes()):
            if value is None:
                self._committed.pop(key, None)
            else:
                self._committed[key] = self._copy(value)


class InMemoryDatabase:
    """The committed state that in-memory units of work share, and the locks they hold."""

    def __init__(self, notes: dict[uuid.UUID, Note] | None = None) -> None:
        self.notes: dict[uuid.UUID, Note] = {} if notes is None else notes
        self.idempotency_keys: dict[tuple[uuid.UUID, str], IdempotencyKey] = {}
        # (owner, idempotency key) pairs locked by a running unit of work
        self.locks: set[tuple[uuid.UUID, str]] = set()
        self.users: dict[uuid.UUID, User] = {}
        self.tokens: dict[uuid.UUID, AccessToken] = {}
        self.login_failures: dict[int, tuple[str, datetime]] = {}
        self.last_failure_id = 0
        # A recorded event, or the raw row of one this release cannot read (``add_raw_event``).
        self.events: dict[int, NoteEvent | dict[str, Any]] = {}
        self.dispatched: dict[int, datetime] = {}  # event id -> when it was marked dispatched
        self.retry_at: dict[int, datetime] = {}
        self.failures: dict[tuple[int, str], _Failure] = {}
        self.processed: dict[tuple[int, str], bool] = {}
        self.note_tags: dict[uuid.UUID, frozenset[str]] = {}
        self.tag_counts: dict[tuple[uuid.UUID, str], int] = {}
        self.category_counts: dict[tuple[uuid.UUID, str], int] = {}
        self.commits = 0
        self.claimed: dict[int, object] = {}  # event id -> the unit of work holding it
        self.last_event_id = 0
        self.listeners: set[InMemoryWakeups] = set()
        self.connections = 0
        self.fail_connections = 0  # how many of the next ``listen`` calls fail
        self.fail_commits = 0  # how many of the next commits fail
        self.commit_error: type[Exception] = DatabaseUnavailableError  # and with what
        # Row and unique-key locks: key -> (the transaction holding it, set when released).
        self.row_locks: dict[object, tuple[object, asyncio.Event]] = {}
        self.webhook_subscriptions: dict[uuid.UUID, WebhookSubscription] = {}
        self.webhook_deliveries: dict[uuid.UUID, WebhookDelivery] = {}
        # attempt id -> (delivery id, the attempt)
        self.webhook_attempts: dict[int, tuple[uuid.UUID, AttemptView]] = {}
        self.last_attempt_id = 0
        self.jobs: dict[int, uuid.UUID] = {}  # queued job id -> delivery id
        self.last_job_id = 0

    async def lock(self, key: object, holder: object) -> bool:
        """Take ``key`` for ``holder`` until ``unlock_all``, waiting while another holds it;
        whether it is newly taken (False: ``holder`` had it already)."""
        while True:
            held = self.row_locks.get(key)
            if held is None:
                self.row_locks[key] = (holder, asyncio.Event())
                return True
            if held[0] is holder:
                return False
            await held[1].wait()

    def unlock_all(self, holder: object) -> None:
        """Release every lock ``holder`` took, waking whoever waits for one."""
        for key, (owner, released) in list(self.row_locks.items()):
            if owner is holder:
                del self.row_locks[key]
                released.set()

    def take_jobs(self) -> list[uuid.UUID]:
        """The deliveries of every committed job, oldest first, taken off the queue."""
        taken = [self.jobs[job_id] for job_id in sorted(self.jobs)]
        self.jobs.clear()
        return taken

    def tag_counts_of(self, owner_id: uuid.UUID) -> dict[str, int]:
        """The owner's committed tag counts, by name."""
        return {name: n for (owner, name), n in self.tag_counts.items() if owner == owner_id}

    def category_counts_of(self, owner_id: uuid.UUID) -> dict[str, int]:
        """The owner's committed category counts, by name."""
        return {name: n for (owner, name), n in self.category_counts.items() if owner == owner_id}

    def add_raw_event(self, event_type: str, payload: dict[str, Any]) -> int:
        """Store an event row as a newer release might have written it; its id."""
        self.last_event_id += 1
        self.events[self.last_event_id] = {
            "id": self.last_event_id,
            "type": event_type,
            "note_id": uuid.UUID(int=0),
            "owner_id": uuid.UUID(int=0),
            "occurred_at": datetime.now(UTC),
            "payload": payload,
        }
        return self.last_event_id

    def unit_of_work(self) -> InMemoryUnitOfWork:
        """A new unit of work on this database: hand ``database.unit_of_work`` to services."""
        return InMemoryUnitOfWork(database=self)

    @asynccontextmanager
    async def listen(self) -> AsyncIterator[InMemoryWakeups]:
        """Listen for committed events, like ``notifications.listen`` on a real server."""
        self.connections += 1
        if self.fail_connections:
            self.fail_connections -= 1
            msg = "connection refused (as the test asked)"
            raise ConnectionError(msg)
        wakeups = InMemoryWakeups()
        self.listeners.add(wakeups)
        try:
            yield wakeups
        finally:
            self.listeners.discard(wakeups)

    async def announce(self) -> None:
        """Tell every listener that events were committed (the NOTIFY of the fake)."""
        for wakeups in self.listeners:
            wakeups.deliver()


class InMemoryNoteRepository:
    """Notes in a dict; a unit of work decides which of its changes are kept.

    As in PostgreSQL, a locked read (``get_for_update``) waits while another unit of work holds
    the note and then reads it as committed; stored notes are copies of what was added; an id
    that exists, committed by another unit of work meanwhile or not, is refused at the insert.
    """

    def __init__(
        self,
        rows: dict[uuid.UUID, Note] | None = None,
        note_tags: dict[uuid.UUID, frozenset[str]] | None = None,
        *,
        table: _Table[uuid.UUID, Note] | None = None,
        database: InMemoryDatabase | None = None,
        holder: object = None,
    ) -> None:
        self.rows: dict[uuid.UUID, Note] = {} if rows is None else rows
        self.note_tags = {} if note_tags is None else note_tags
        self._table = table
        self._database = database
        self._holder = holder

    async def add(self, note: Note) -> None:
        exists = note.id in self.rows or (
            self._table is not None and self._table.committed_or_own(note.id)
        )
        if exists:
            msg = f"duplicate key value violates unique constraint: note id {note.id}"
            raise DuplicateKeyError(msg)
        if self._database is not None:
            await self._database.lock(("notes", note.id), self._holder)
        self.rows[note.id] = _copy_note(note)

    async def add_all(self, notes: Sequence[Note]) -> None:
        for note in notes:
            await self.add(note)

    async def copy_all(self, notes: Sequence[Note]) -> None:
        await self.add_all(notes)

    async def get(self, owner_id: uuid.UUID, note_id: uuid.UUID) -> NoteView | None:
        note = self._live(note_id)
        return None if note is None or note.owner_id != owner_id else NoteView.of(note)

    async def get_for_update(self, owner_id: uuid.UUID, note_id: uuid.UUID) -> Note | None:
        await self._lock(note_id)
        note = self._live(note_id)
        return None if note is None or note.owner_id != owner_id else note

    async def get_many(self, note_ids: Collection[uuid.UUID]) -> list[NoteView]:
        return [NoteView.of(note) for note in self._live_among(note_ids)]

    async def get_many_for_update(self, note_ids: Collection[uuid.UUID]) -> list[Note]:
        for note_id in sorted(set(note_ids)):
            await self._lock(note_id)
        return self._live_among(note_ids)

    async def _lock(self, note_id: uuid.UUID) -> None:
        if self._database is None or self._table is None:
            return
        if await self._database.lock(("notes", note_id), self._holder):
            self._table.refresh(note_id)

    def _live(self, note_id: uuid.UUID) -> Note | None:
        note = self.rows.get(note_id)
        return note if note is not None and note.deleted_at is None else None

    def _live_among(self, note_ids: Collection[uuid.UUID]) -> list[Note]:
        found = [self._live(note_id) for note_id in sorted(set(note_ids))]
        return [note for note in found if note is not None]

    async def list(
        self,
        owner_id: uuid.UUID,
        *,
        limit: int,
        offset: int = 0,
        after: Position | None = None,
        where: NoteFilter = NO_FILTER,
    ) -> list[NoteView]:
        found = [
            n
            for n in self.rows.values()
            if n.owner_id == owner_id and _matches(n, where, self.note_tags.get(n.id, _NONE))
        ]
        if after is not None:
            found = [n for n in found if Position.of(n) < after]
        found.sort(key=Position.of, reverse=True)
        return [NoteView.of(note) for note in found[offset : offset + limit]]


class InMemoryIdempotencyKeyRepository:
    """Idempotency keys in a dict; locks live in the shared database, held per unit of work."""

    def __init__(
        self, rows: dict[tuple[uuid.UUID, str], IdempotencyKey], database: InMemoryDatabase
    ) -> None:
        self.rows = rows
        self.held: set[tuple[uuid.UUID, str]] = set()
        self._removed: set[tuple[uuid.UUID, str]] = set()
        self._database = database

    async def try_lock(self, owner_id: uuid.UUID, key: str) -> bool:
        held = (owner_id, key)
        if held in self.held:
            return True
        if held in self._database.locks:
            return False
        self._database.locks.add(held)
        self.held.add(held)
        return True

    async def get(self, owner_id: uuid.UUID, key: str) -> IdempotencyKey | None:
        if (owner_id, key) in self._database.idempotency_keys and (owner_id, key) in self.held:
            # Read after taking the key's lock: what is committed now, as PostgreSQL would.
            self.rows[owner_id, key] = _copy_key(self._database.idempotency_keys[owner_id, key])
        record = self.rows.get((owner_id, key))
        return None if record is None else _copy_key(record)

    async def add(self, record: IdempotencyKey) -> None:
        key = (record.owner_id, record.key)
        committed = key in self._database.idempotency_keys and key not in self._removed
        if key in self.rows or committed:
            msg = f"duplicate key value violates unique constraint: idempotency key {record.key!r}"
            raise DuplicateKeyError(msg)
        self.rows[key] = _copy_key(record)

    async def remove(self, record: IdempotencyKey) -> None:
        del self.rows[record.owner_id, record.key]
        self._removed.add((record.owner_id, record.key))

    async def purge_expired(self, now: datetime, *, limit: int) -> int:
        expired = sorted(
            (r for r in self.rows.values() if r.expires_at <= now), key=lambda r: r.expires_at
        )[:limit]
        for record in expired:
            await self.remove(record)
        return len(expired)

    def release(self) -> None:
        """Give up the locks this unit of work holds."""
        self._database.locks.difference_update(self.held)
        self.held.clear()


@dataclasses.dataclass(frozen=True)
class _Failure:
    attempts: int
    last_error: str
    first_failed_at: datetime
    last_failed_at: datetime
    parked_at: datetime | None


def _decoded(stored: NoteEvent | dict[str, Any]) -> NoteEvent | UndecodableEvent:
    return NoteEvent.decode(stored) if isinstance(stored, dict) else stored


class InMemoryEventLog:
    """Events in a dict; ids come from the database, like a sequence (never reused)."""

    def __init__(self, database: InMemoryDatabase, owner: object) -> None:
        self._database = database
        self._owner = owner
        self.events = _Table(database.events)
        self.dispatched = _Table(database.dispatched)
        self.processed = _Table(database.processed)
        self.retry_at = _Table(database.retry_at)
        self.failures = _Table(database.failures)

    def tables(self) -> list[_Table[Any, Any]]:
        """Every table this event log changes."""
        return [self.events, self.dispatched, self.processed, self.retry_at, self.failures]

    async def add(self, event: NoteEvent) -> NoteEvent:
        self._database.last_event_id += 1
        recorded = dataclasses.replace(event, id=self._database.last_event_id)
        self.events.rows[self._database.last_event_id] = recorded
        return recorded

    async def add_all(self, events: Sequence[NoteEvent]) -> list[NoteEvent]:
        return [await self.add(event) for event in events]

    async def copy_all(self, events: Sequence[NoteEvent]) -> None:
        await self.add_all(events)

    async def claim_pending(
        self, limit: int, *, now: datetime | None = None
    ) -> list[NoteEvent | UndecodableEvent]:
        claimed = self._database.claimed
        dispatched = self.dispatched.current()
        retry_at = self.retry_at.current()
        free = [
            event_id
            for event_id in self.events.current()
            if event_id not in dispatched and claimed.get(event_id, self._owner) is self._owner
        ]
        ids = sorted(i for i in free if i not in retry_at)[:limit]
        if not ids and now is not None:
            due = [i for i in free if i in retry_at and retry_at[i] <= now]
            ids = sorted(due, key=lambda i: (retry_at[i], i))[:limit]
        for event_id in ids:
            claimed[event_id] = self._owner
        return [_decoded(self.events.current()[event_id]) for event_id in ids]

    async def mark_dispatched(self, event_ids: Collection[int]) -> None:
        now = datetime.now(UTC)
        for event_id in event_ids:
            self.dispatched.rows[event_id] = now

    async def mark_processed(self, event_ids: Collection[int], listener: str) -> frozenset[int]:
        done = self.processed.current()
        new = frozenset(i for i in event_ids if (i, listener) not in done)
        for event_id in new:
            self.processed.rows[(event_id, listener)] = True
        return new

    async def processed_by(self, event_id: int) -> frozenset[str]:
        return frozenset(name for done, name in self.processed.current() if done == event_id)

    async def after(self, event_id: int, *, limit: int) -> list[NoteEvent]:
        events = self.events.current()
        found = [events[i] for i in sorted(i for i in events if i > event_id)][:limit]
        return [event for event in found if isinstance(event, NoteEvent)]

    async def record_failures(
        self, failures: Sequence[ListenerFailure], *, now: datetime, max_attempts: int
    ) -> list[FailureCount]:
        counts = []
        for failure in sorted(failures, key=lambda f: (f.event_id, f.listener)):
            key = (failure.event_id, failure.listener)
            before = self.failures.current().get(key)
            attempts = 1 if before is None else before.attempts + 1
            parked_at = before.parked_at if before is not None else None
            if parked_at is None and attempts >= max_attempts:
                parked_at = now
            self.failures.rows[key] = _Failure(
                attempts=attempts,
                last_error=failure.error,
                first_failed_at=now if before is None else before.first_failed_at,
                last_failed_at=now,
                parked_at=parked_at,
            )
            counts.append(FailureCount(*key, attempts, parked_at is not None))
        return counts

    async def retry_later(self, retry_at: Mapping[int, datetime]) -> None:
        for event_id, at in retry_at.items():
            if event_id in self.events.current():
                self.retry_at.rows[event_id] = at

    async def parked(self, *, limit: int, listener: str | None = None) -> list[ParkedEvent]:
        events = self.events.current()
        found = []
        for (event_id, name), failure in self.failures.current().items():
            if failure.parked_at is None or listener not in (None, name):
                continue
            stored = events.get(event_id)
            event = None if stored is None else _decoded(stored)
            found.append(
                ParkedEvent(
                    event_id=event_id,
                    listener=name,
                    type="" if event is None else event.type,
                    note_id=event.note_id if isinstance(event, NoteEvent) else None,
                    attempts=failure.attempts,
                    last_error=failure.last_error,
                    parked_at=failure.parked_at,
                )
            )
        found.sort(key=lambda p: (p.parked_at, p.event_id, p.listener))
        return found[:limit]

    async def requeue(
        self, event_ids: Collection[int] | None = None, *, listener: str | None = None
    ) -> int:
        chosen = {
            event_id
            for (event_id, name), failure in self.failures.current().items()
            if failure.parked_at is not None
            and (event_ids is None or event_id in event_ids)
            and listener in (None, name)
            and event_id in self.events.current()
        }
        for event_id, name in list(self.failures.current()):
            if event_id in chosen:
                self.failures.rows.pop((event_id, name), None)
        for event_id in chosen:
            self.dispatched.rows.pop(event_id, None)
            self.retry_at.rows.pop(event_id, None)
        return len(chosen)

    async def prune(
        self, *, dispatched_before: datetime, parked_before: datetime, limit: int
    ) -> int:
        claimed = self._database.claimed
        kept = {
            event_id
            for (event_id, _), failure in self.failures.current().items()
            if failure.parked_at is not None and failure.parked_at >= parked_before
        }
        doomed = sorted(
            (
                (at, event_id)
                for event_id, at in self.dispatched.current().items()
                if at < dispatched_before
                and event_id not in kept
                and claimed.get(event_id, self._owner) is self._owner
            ),
        )[:limit]
        ids = {event_id for _, event_id in doomed}
        for table in (self.processed, self.failures):
            for key in [k for k in table.current() if k[0] in ids]:
                table.rows.pop(key, None)
        for event_id in ids:
            self.events.rows.pop(event_id, None)
            self.dispatched.rows.pop(event_id, None)
            self.retry_at.rows.pop(event_id, None)
        return len(ids)

    def release(self) -> None:
        """Let go of the claimed events, as the end of a transaction releases its locks."""
        claimed = self._database.claimed
        for event_id in [i for i, owner in claimed.items() if owner is self._owner]:
            del claimed[event_id]


class InMemoryNoteTagRepository:
    """Each note's tags in a dict."""

    def __init__(self, database: InMemoryDatabase) -> None:
        self.note_tag_rows = _Table(database.note_tags)

    async def set_note_tags(self, tags: Mapping[uuid.UUID, Collection[str]]) -> None:
        for note_id, names in tags.items():
            if names:
                self.note_tag_rows.rows[note_id] = frozenset(names)
            else:
                self.note_tag_rows.rows.pop(note_id, None)

    async def note_tags(self, note_id: uuid.UUID) -> frozenset[str]:
        return self.note_tag_rows.rows.get(note_id, frozenset())


class InMemoryCountRepository:
    """Counts in dicts; recounts read what is committed, like the real thing."""

    def __init__(
        self,
        database: InMemoryDatabase,
        notes: _Table[uuid.UUID, Note],
        note_tags: _Table[uuid.UUID, frozenset[str]],
    ) -> None:
        self._notes = notes
        self._note_tags = note_tags
        self.tag_count_rows = _Table(database.tag_counts)
        self.category_count_rows = _Table(database.category_counts)

    async def recount_tags(self, names: Collection[tuple[uuid.UUID, str]]) -> None:
        note_tags = self._note_tags.current()
        notes = self._notes.current()
        for owner_id, name in set(names):
            count = sum(
                1
                for note_id, tags in note_tags.items()
                if name in tags and note_id in notes and notes[note_id].owner_id == owner_id
            )
            _set_count(self.tag_count_rows.rows, (owner_id, name), count)

    async def recount_categories(self, names: Collection[tuple[uuid.UUID, str]]) -> None:
        notes = self._notes.current().values()
        for owner_id, name in set(names):
            if not name:
                continue
            count = sum(
                1
                for n in notes
                if n.owner_id == owner_id and n.category == name and n.deleted_at is None
            )
            _set_count(self.category_count_rows.rows, (owner_id, name), count)

    async def tag_counts(
        self, owner_id: uuid.UUID, *, limit: int, after: Count | None = None
    ) -> list[Count]:
        return _page(_most_used(self.tag_count_rows.rows, owner_id), limit, after)

    async def category_counts(
        self, owner_id: uuid.UUID, *, limit: int, after: Count | None = None
    ) -> list[Count]:
        return _page(_most_used(self.category_count_rows.rows, owner_id), limit, after)


def _page(rows: list[tuple[str, int]], limit: int, after: Count | None) -> list[Count]:
    if after is not None:
        rows = [(n, c) for n, c in rows if (-c, n) > (-after.count, after.name)]
    return [Count(n, c) for n, c in rows[:limit]]


def _set_count(
    rows: dict[tuple[uuid.UUID, str], int], key: tuple[uuid.UUID, str], count: int
) -> None:
    if count:
        rows[key] = count
    else:
        rows.pop(key, None)


def _most_used(
    rows: dict[tuple[uuid.UUID, str], int], owner_id: uuid.UUID
) -> list[tuple[str, int]]:
    mine = [(name, count) for (owner, name), count in rows.items() if owner == owner_id]
    return sorted(mine, key=lambda item: (-item[1], item[0]))


class InMemoryUserRepository:
    """Accounts in a dict; emails unique by their lower-cased form, as in PostgreSQL.

    As ``INSERT ... ON CONFLICT DO NOTHING`` does, adding an email that another unit of work
    is adding waits for it to end: False if it committed, the insert if it did not.
    """

    def __init__(
        self,
        rows: dict[uuid.UUID, User],
        *,
        database: InMemoryDatabase | None = None,
        holder: object = None,
    ) -> None:
        self.rows = rows
        self._database = database
        self._holder = holder

    async def add(self, user: User) -> bool:
        committed: Collection[User] = ()
        if self._database is not None:
            await self._database.lock(("users.email_key", user.email_key), self._holder)
            committed = self._database.users.values()
        if any(u.email_key == user.email_key for u in [*self.rows.values(), *committed]):
            return False
        if user.id in self.rows or (self._database is not None and user.id in self._database.users):
            msg = f"duplicate key value violates unique constraint: user id {user.id}"
            raise DuplicateKeyError(msg)
        self.rows[user.id] = _copy_user(user)
        return True

    async def get(self, user_id: uuid.UUID) -> Account | None:
        user = self.rows.get(user_id)
        return None if user is None else Account(user.id, user.email, user.created_at)

    async def get_by_email(self, email_key: str) -> User | None:
        found = [u for u in self.rows.values() if u.email_key == email_key]
        return _copy_user(found[0]) if found else None

    async def set_password_hash(self, user_id: uuid.UUID, password_hash: str) -> None:
        if user_id in self.rows:
            self.rows[user_id].password_hash = password_hash


class InMemoryTokenRepository:
    """Tokens in a dict, by id; their hashes unique, as in PostgreSQL."""

    def __init__(self, rows: dict[uuid.UUID, AccessToken]) -> None:
        self.rows = rows

    async def add(self, token: AccessToken) -> None:
        if token.id in self.rows or any(
            t.token_hash == token.token_hash for t in self.rows.values()
        ):
            msg = f"duplicate token {token.id}"
            raise ValueError(msg)
        self.rows[token.id] = _copy_token(token)

    async def list(self, user_id: uuid.UUID, *, now: datetime) -> list[TokenInfo]:
        mine = [t for t in self.rows.values() if t.user_id == user_id and t.expires_at > now]
        mine.sort(key=lambda t: (t.created_at, t.id), reverse=True)
        return [TokenInfo(t.id, t.created_at, t.expires_at, t.last_used_at) for t in mine]

    async def remove(self, user_id: uuid.UUID, token_id: uuid.UUID) -> bool:
        token = self.rows.get(token_id)
        if token is None or token.user_id != user_id:
            return False
        del self.rows[token_id]
        return True

    async def purge_expired(self, now: datetime, *, limit: int) -> int:
        expired = [i for i, t in self.rows.items() if t.expires_at <= now][:limit]
        for token_id in expired:
            del self.rows[token_id]
        return len(expired)


class InMemoryLoginFailureLog:
    """Failed logins in a dict, by a sequence number."""

    def __init__(self, database: InMemoryDatabase, rows: dict[int, tuple[str, datetime]]) -> None:
        self._database = database
        self.rows = rows

    async def record(self, email_key: str, at: datetime) -> None:
        self._database.last_failure_id += 1
        self.rows[self._database.last_failure_id] = (email_key, at)

    async def since(self, email_key: str, start: datetime) -> list[datetime]:
        return sorted(at for key, at in self.rows.values() if key == email_key and at >= start)

    async def purge_before(self, before: datetime, *, limit: int) -> int:
        old = [i for i, (_, at) in self.rows.items() if at < before][:limit]
        for failure_id in old:
            del self.rows[failure_id]
        return len(old)


class InMemoryTokenReader:
    """The ``TokenReader`` port on an in-memory database; counts its lookups."""

    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database
        self.lookups = 0

    async def authenticate(self, token_hash: bytes, now: datetime) -> Principal | None:
        self.lookups += 1
        for token in self._database.tokens.values():
            if token.token_hash == token_hash and token.expires_at > now:
                token.last_used_at = now
                return Principal(token.user_id, token.id, token.expires_at)
        return None


class FastPasswordHasher:
    """The ``PasswordHasher`` port without the cost: a salted SHA-256, for unit tests only.

    ``verifications`` counts the checks made and ``verified_against`` keeps the hashes they
    checked, so a test can see that a login for an unknown email costs one check against a
    real hash, as a wrong password does.
    """

    def __init__(self, *, version: str = "1") -> None:
        self.version = version
        self.verifications = 0
        self.verified_against: list[str] = []

    async def hash(self, password: str) -> str:
        salt = secrets.token_hex(8)
        digest = hashlib.sha256(f"{salt}:{password}".encode()).hexdigest()
        return f"fake${self.version}${salt}${digest}"

    async def verify(self, password_hash: str, password: str) -> bool:
        self.verifications += 1
        self.verified_against.append(password_hash)
        try:
            _, _, salt, digest = password_hash.split("$")
        except ValueError:
            return False
        return hmac.compare_digest(
            digest, hashlib.sha256(f"{salt}:{password}".encode()).hexdigest()
        )

    def needs_rehash(self, password_hash: str) -> bool:
        return not password_hash.startswith(f"fake${self.version}$")


class InMemorySubscriptionRepository:
    """Subscriptions in a dict; deleting one deletes its deliveries, as the foreign key does."""

    def __init__(
        self,
        rows: dict[uuid.UUID, WebhookSubscription],
        deliveries: dict[uuid.UUID, WebhookDelivery],
    ) -> None:
        self.rows = rows
        self._deliveries = deliveries

    async def add(self, subscription: WebhookSubscription) -> None:
        if subscription.id in self.rows:
            msg = f"duplicate subscription id {subscription.id}"
            raise ValueError(msg)
        self.rows[subscription.id] = _copy_subscription(subscription)

    async def get(self, owner_id: uuid.UUID, subscription_id: uuid.UUID) -> SubscriptionView | None:
        found = await self.get_for_update(owner_id, subscription_id)
        return None if found is None else SubscriptionView.of(found)

    async def get_for_update(
        self, owner_id: uuid.UUID, subscription_id: uuid.UUID
    ) -> WebhookSubscription | None:
        found = self.rows.get(subscription_id)
        return found if found is not None and found.owner_id == owner_id else None

    async def list(self, owner_id: uuid.UUID) -> list[SubscriptionView]:
        mine = [s for s in self.rows.values() if s.owner_id == owner_id]
        mine.sort(key=lambda s: (s.created_at, s.id))
        return [SubscriptionView.of(s) for s in mine]

    async def count(self, owner_id: uuid.UUID) -> int:
        return sum(1 for s in self.rows.values() if s.owner_id == owner_id)

    async def remove(self, owner_id: uuid.UUID, subscription_id: uuid.UUID) -> bool:
        if await self.get_for_update(owner_id, subscription_id) is None:
            return False
        del self.rows[subscription_id]
        for delivery_id in [
            d.id for d in self._deliveries.values() if d.subscription_id == subscription_id
        ]:
            del self._deliveries[delivery_id]
        return True

    async def enabled_of(
        self, owner_ids: Collection[uuid.UUID]
    ) -> builtins.list[WebhookSubscription]:
        return [s for s in self.rows.values() if s.owner_id in owner_ids and s.enabled]


class InMemoryDeliveryRepository:
    """Deliveries and attempts in dicts; attempt ids come from the database, like a sequence."""

    def __init__(
        self,
        database: InMemoryDatabase,
        rows: dict[uuid.UUID, WebhookDelivery],
        attempts: dict[int, tuple[uuid.UUID, AttemptView]],
        subscriptions: dict[uuid.UUID, WebhookSubscription],
    ) -> None:
        self._database = database
        self.rows = rows
        self.attempts = attempts
        self._subscriptions = subscriptions

    async def add_all(self, deliveries: Sequence[WebhookDelivery]) -> None:
        for delivery in deliveries:
            if delivery.id in self.rows or any(
                d.subscription_id == delivery.subscription_id and d.event_id == delivery.event_id
                for d in self.rows.values()
            ):
                msg = f"duplicate delivery {delivery.id}"
                raise ValueError(msg)
            if delivery.subscription_id not in self._subscriptions:
                msg = f"no subscription {delivery.subscription_id}"
                raise ValueError(msg)
            self.rows[delivery.id] = _copy_delivery(delivery)

    async def list(
        self,
        subscription_id: uuid.UUID,
        *,
        status: str | None,
        limit: int,
        after: Position | None = None,
    ) -> list[DeliveryView]:
        found = [
            d
            for d in self.rows.values()
            if d.subscription_id == subscription_id and status in (None, d.status)
        ]
        if after is not None:
            found = [d for d in found if Position(d.created_at, d.id) < after]
        found.sort(key=lambda d: (d.created_at, d.id), reverse=True)
        return [self._view(d) for d in found[:limit]]

    async def get(self, subscription_id: uuid.UUID, delivery_id: uuid.UUID) -> DeliveryView | None:
        found = await self.get_for_update(subscription_id, delivery_id)
        return None if found is None else self._view(found)

    def _view(self, delivery: WebhookDelivery) -> DeliveryView:
        attempts = [a for _, (d, a) in sorted(self.attempts.items()) if d == delivery.id]
        return DeliveryView(
            id=delivery.id,
            subscription_id=delivery.subscription_id,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            status=delivery.status,
            created_at=delivery.created_at,
            next_attempt_at=delivery.next_attempt_at,
            attempts=tuple(attempts[-20:]),
        )

    async def get_for_update(
        self, subscription_id: uuid.UUID, delivery_id: uuid.UUID
    ) -> WebhookDelivery | None:
        found = self.rows.get(delivery_id)
        return found if found is not None and found.subscription_id == subscription_id else None

    async def record_attempts(
        self, records: Sequence[AttemptRecord], *, failing_for: timedelta
    ) -> None:
        kept: list[AttemptRecord] = []
        for record in records:
            delivery = self.rows.get(record.delivery_id)
            if delivery is None or delivery.status != DeliveryStatus.PENDING:
                continue
            delivery.status = str(record.status)
            delivery.attempt_count += 1
            delivery.next_attempt_at = record.next_attempt_at
            delivery.updated_at = record.attempted_at
            self._database.last_attempt_id += 1
            self.attempts[self._database.last_attempt_id] = (
                record.delivery_id,
                AttemptView(
                    attempted_at=record.attempted_at,
                    status_code=record.status_code,
                    error=record.error,
                    duration_ms=record.duration_ms,
                    next_attempt_at=record.next_attempt_at,
                ),
            )
            kept.append(record)
        latest: dict[uuid.UUID, AttemptRecord] = {}
        for record in sorted(kept, key=lambda r: r.attempted_at):
            latest[record.subscription_id] = record
        for subscription_id, record in latest.items():
            subscription = self._subscriptions.get(subscription_id)
            if subscription is None:
                continue
            now = record.attempted_at
            if record.status == DeliveryStatus.DELIVERED:
                subscription.failing_since = None
            else:
                subscription.failing_since = subscription.failing_since or min(
                    r.attempted_at for r in kept if r.subscription_id == subscription_id
                )
                if subscription.enabled and subscription.failing_since <= now - failing_for:
                    _disable(subscription, now, f"deliveries kept failing for {failing_for}")
            if any(r.gone for r in kept if r.subscription_id == subscription_id):
                _disable(subscription, now, "the receiver answered 410 Gone")

    async def purge_settled(self, before: datetime, *, limit: int) -> int:
        old = sorted(
            (
                d
                for d in self.rows.values()
                if d.updated_at < before and d.status != DeliveryStatus.PENDING
            ),
            key=lambda d: d.updated_at,
        )[:limit]
        for settled in old:
            del self.rows[settled.id]
            for attempt_id in [i for i, (d, _) in self.attempts.items() if d == settled.id]:
                del self.attempts[attempt_id]
        return len(old)


def _disable(subscription: WebhookSubscription, now: datetime, reason: str) -> None:
    if subscription.enabled:
        subscription.enabled = False
        subscription.disabled_reason = reason
        subscription.disabled_at = now
        subscription.updated_at = now


class InMemoryDeliveryQueue:
    """Jobs in a dict, by an id from the database; ``InMemoryDatabase.take_jobs`` runs them."""

    def __init__(self, database: InMemoryDatabase, rows: dict[int, uuid.UUID]) -> None:
        self._database = database
        self.rows = rows

    async def defer(self, delivery_ids: Sequence[uuid.UUID]) -> None:
        for delivery_id in delivery_ids:
            self._database.last_job_id += 1
            self.rows[self._database.last_job_id] = delivery_id

    async def purge_log(self, before: datetime, *, limit: int) -> int:
        return 0  # the fake keeps no log


class InMemoryDeliveryReader:
    """The ``DeliveryReader`` port on an in-memory database's committed rows."""

    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database

    async def get_for_attempt(self, delivery_id: uuid.UUID, now: datetime) -> DeliveryTask | None:
        delivery = self._database.webhook_deliveries.get(delivery_id)
        if delivery is None:
            return None
        subscription = self._database.webhook_subscriptions.get(delivery.subscription_id)
        if subscription is None:
            return None
        return DeliveryTask(
            delivery_id=delivery.id,
            subscription_id=subscription.id,
            status=delivery.status,
            attempt_count=delivery.attempt_count,
            payload=delivery.payload,
            url=subscription.url,
            secrets=subscription.secrets_at(now),
            subscription_enabled=subscription.enabled,
        )


class ScriptedWebhookSender:
    """The ``WebhookSender`` port answering from a script; records every request.

    ``answers`` are given out in order, the last one again once they run out.
    """

    def __init__(self, *answers: SendResult) -> None:
        self.answers = list(answers) or [SendResult(204, None, 0.001)]
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []

    async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendResult:
        self.sent.append((url, body, dict(headers)))
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


class StaticResolver:
    """The ``HostResolver`` port from a table of names; an IP literal resolves to itself."""

    def __init__(self, names: Mapping[str, Sequence[str]] | None = None) -> None:
        self.names = {name: list(addresses) for name, addresses in (names or {}).items()}

    async def resolve(self, host: str) -> list[str]:
        if host in self.names:
            return list(self.names[host])
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            msg = f"{host} does not resolve (not in the table)"
            raise LookupError(msg) from None


class InMemoryUnitOfWork:
    """A unit of work over an in-memory database: commit keeps changes, anything else drops them.

    Each unit of work works on a copy of the committed rows, as a transaction sees its own
    snapshot; ``commit`` writes back what it changed. One instance may be entered again after
    it is left; for units of work that overlap, use ``InMemoryDatabase.unit_of_work``. Claimed
    events and locked idempotency keys are held until the unit of work commits or ends.
    """

    def __init__(
        self,
        committed: dict[uuid.UUID, Note] | None = None,
        *,
        database: InMemoryDatabase | None = None,
    ) -> None:
        self.database = database or InMemoryDatabase(committed)

    @property
    def committed(self) -> dict[uuid.UUID, Note]:
        """The committed notes."""
        return self.database.notes

    @property
    def commits(self) -> int:
        """How many units of work committed on this database."""
        return self.database.commits

    async def __aenter__(self) -> Self:
        self._begin()
        return self

    def _begin(self) -> None:
        database = self.database
        self._notes = _Table(database.notes, _copy_note, _same_note)
        self._note_tags = InMemoryNoteTagRepository(database)
        self._counts = InMemoryCountRepository(database, self._notes, self._note_tags.note_tag_rows)
        self._events = InMemoryEventLog(database, owner=object())
        self._keys = _Table(database.idempotency_keys, _copy_key, _same_key)
        self._users = _Table(database.users, _copy_user, _same_user)
        self._tokens = _Table(database.tokens, _copy_token, _same_token)
        self._failures = _Table(database.login_failures)
        self._subscriptions = _Table(
            database.webhook_subscriptions, _copy_subscription, _same_subscription
        )
        self._deliveries = _Table(database.webhook_deliveries, _copy_delivery, _same_delivery)
        self._attempts = _Table(database.webhook_attempts)
        self._jobs = _Table(database.jobs)
        self._holder = object()  # this transaction, as the holder of its locks
        self.notes = InMemoryNoteRepository(
            self._notes.rows,
            self._note_tags.note_tag_rows.rows,
            table=self._notes,
            database=database,
            holder=self._holder,
        )
        self.events = self._events
        self.note_tags = self._note_tags
        self.counts = self._counts
        self.idempotency_keys = InMemoryIdempotencyKeyRepository(self._keys.rows, database)
        self.users = InMemoryUserRepository(
            self._users.rows, database=database, holder=self._holder
        )
        self.tokens = InMemoryTokenRepository(self._tokens.rows)
        self.login_failures = InMemoryLoginFailureLog(database, self._failures.rows)
        self.webhooks = InMemorySubscriptionRepository(
            self._subscriptions.rows, self._deliveries.rows
        )
        self.deliveries = InMemoryDeliveryRepository(
            database, self._deliveries.rows, self._attempts.rows, self._subscriptions.rows
        )
        self.delivery_queue = InMemoryDeliveryQueue(database, self._jobs.rows)

    def _tables(self) -> list[_Table[Any, Any]]:
        return [
            self._notes,
            *self._events.tables(),
            self._note_tags.note_tag_rows,
            self._counts.tag_count_rows,
            self._counts.category_count_rows,
            self._keys,
            self._users,
            self._tokens,
            self._failures,
            self._subscriptions,
            self._deliveries,
            self._attempts,
            self._jobs,
        ]

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """An exception in the block puts every table back as it was when the block began."""
        tables = self._tables()
        saved = [table.snapshot() for table in tables]
        try:
            yield
        except BaseException:
            for table, rows in zip(tables, saved, strict=True):
                table.restore(rows)
            raise

    def _release(self) -> None:
        """Let go of claimed events and locked keys, as the end of a transaction does."""
        self._events.release()
        self.idempotency_keys.release()
        self.database.unlock_all(self._holder)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._release()

    async def commit(self) -> None:
        if self.database.fail_commits:
            self.database.fail_commits -= 1
            msg = "commit failed (as the test asked)"
            raise self.database.commit_error(msg)
        added_events = self._events.events.rows.keys() - self.database.events.keys()
        for table in self._tables():
            table.publish()
        self.database.commits += 1
        self._release()
        # As a session after COMMIT: later work starts a new transaction on what is committed.
        self._begin()
        if added_events:
            await self.database.announce()


class InMemoryWakeups:
    """News of committed events for one listener: the fake of LISTEN.

    Like a real LISTEN connection, it keeps news that arrives while nobody waits, so the next
    ``wait`` returns at once.
    """

    def __init__(self) -> None:
        self._news = asyncio.Event()

    def deliver(self) -> None:
        """Record that events were committed."""
        self._news.set()

    async def wait(self, seconds: float) -> bool:
        try:
            async with asyncio.timeout(seconds):
                await self._news.wait()
        except TimeoutError:
            return False
        self._news.clear()
        return True


class InMemoryDatabaseState:
    """The ``DatabaseState`` port with a fixed answer: a revision, or an unreachable database."""

    def __init__(self, revision: str | None, *, reachable: bool = True) -> None:
        self.revision = revision
        self.reachable = reachable

    def describe(self) -> str:
        return "memory"

    async def current_revision(self) -> str | None:
        await self.check_reads()
        return self.revision

    async def check_reads(self) -> None:
        if not self.reachable:
            msg = "the in-memory database is set to be unreachable"
            raise DatabaseUnavailableError(msg)


class InMemoryNoteExporter:
    """The export over an in-memory database: the committed notes when it starts (a snapshot),
    rendered as NDJSON a batch at a time. ``open_exports`` counts the exports begun and not yet
    closed, as the read connections an export holds; ``fail_after`` makes an export fail with
    ``DatabaseUnavailableError`` after that many batches."""

    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database
        self.open_exports = 0
        self.fail_after: int | None = None

    async def export(
        self, owner_id: uuid.UUID, *, where: NoteFilter, batch_size: int
    ) -> AsyncGenerator[bytes, None]:
        database = self._database
        self.open_exports += 1
        try:
            found = [
                NoteView.of(note)
                for note in database.notes.values()
                if note.owner_id == owner_id
                and _matches(note, where, database.note_tags.get(note.id, _NONE))
            ]
            found.sort(key=Position.of, reverse=True)
            for batch, start in enumerate(range(0, max(len(found), 1), batch_size)):
                if self.fail_after is not None and batch >= self.fail_after:
                    msg = "the in-memory database is set to fail the export"
                    raise DatabaseUnavailableError(msg)
                if not found:
                    return
                yield "".join(
                    _export_line(note) + "\n" for note in found[start : start + batch_size]
                ).encode()
                await asyncio.sleep(0)  # a suspension point, as a read of the COPY is
        finally:
            self.open_exports -= 1


def _export_line(note: NoteView) -> str:
    """A note as the export's query renders it (``to_json`` of each field, TimeZone UTC)."""
    fields = {
        "id": str(note.id),
        "contents": note.contents,
        "category": note.category,
        "creation_date": _pg_timestamp(note.creation_date),
        "updated_at": _pg_timestamp(note.updated_at),
        "version": note.version,
    }
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


def _pg_timestamp(value: datetime) -> str:
    """ISO 8601 in UTC as PostgreSQL writes it: microseconds only when there are some."""
    return value.astimezone(UTC).isoformat()


class InMemoryEventFeed:
    """The ``EventFeedReader`` port on an in-memory database.

    As on PostgreSQL, an event gets its place in commit order once it is committed: the first
    read that finds it gives it the next position, so an event committed later always stands
    after those read before it, whatever its id. Share one instance among the readers of a
    database. ``unreachable`` makes every read fail as on a database that is down.
    """

    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database
        self._positions: dict[int, tuple[int, int]] = {}
        self.unreachable = False
        self.reads = 0

    def _check(self) -> None:
        self.reads += 1
        if self.unreachable:
            msg = "the in-memory event feed is set to be unreachable"
            raise DatabaseUnavailableError(msg)

    def _placed(self) -> list[tuple[tuple[int, int], int]]:
        committed = self._database.events
        for event_id in sorted(committed.keys() - self._positions.keys()):
            self._positions[event_id] = (len(self._positions) + 1, event_id)
        return sorted((p, i) for i, p in self._positions.items() if i in committed)

    async def horizon(self) -> tuple[int, int]:
        self._check()
        return (len(self._placed()) + 1, 0)

    async def after(
        self,
        position: tuple[int, int],
        *,
        limit: int,
        owner_id: uuid.UUID | None = None,
    ) -> list[FeedEvent]:
        self._check()
        found: list[FeedEvent] = []
        for placed, event_id in self._placed():
            if placed <= position:
                continue
            stored = self._database.events[event_id]
            owner = stored.owner_id if isinstance(stored, NoteEvent) else stored["owner_id"]
            if owner_id is None or owner == owner_id:
                found.append(FeedEvent(placed, owner, _decoded(stored)))
                if len(found) == limit:
                    break
        return found

    async def position_of(self, owner_id: uuid.UUID, event_id: int) -> tuple[int, int] | None:
        self._check()
        placed = {i: p for p, i in self._placed()}
        stored = self._database.events.get(event_id)
        if stored is None or event_id not in placed:
            return None
        owner = stored.owner_id if isinstance(stored, NoteEvent) else stored["owner_id"]
        return placed[event_id] if owner == owner_id else None
