"""The ports: what the services need from the outside world, declared here, where they are used.

The connectors implement them (PostgreSQL adapters, and in-memory fakes for unit tests), and
``notes.bootstrap`` plugs the adapters in. The connectors never import this module: a class
satisfies a port by having its methods (``typing.Protocol`` is structural), and mypy checks each
adapter against its port where ``bootstrap`` hands it to a service. So the services name what
they need in their own words, and nothing here knows of SQL.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import AsyncGenerator, Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from types import TracebackType
from typing import Protocol, Self

from notes.entities import (
    NO_FILTER,
    AccessToken,
    Account,
    AttemptRecord,
    Count,
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
from notes.entities.events import EventPosition, FeedEvent


class NoteReader(Protocol):
    """Reads an owner's live notes as snapshots, each read on its own (it joins no
    transaction). Another owner's note is never found, as if it did not exist."""

    async def get(self, owner_id: uuid.UUID, note_id: uuid.UUID) -> NoteView | None:
        """The owner's live (not deleted) note with ``note_id``, as it is now."""

    async def list(
        self,
        owner_id: uuid.UUID,
        *,
        limit: int,
        offset: int = 0,
        after: Position | None = None,
        where: NoteFilter = NO_FILTER,
    ) -> list[NoteView]:
        """The owner's live notes matching ``where``, newest first (ties broken by id, highest
        first).

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

    async def get_for_update(self, owner_id: uuid.UUID, note_id: uuid.UUID) -> Note | None:
        """The owner's live note, locked until commit; its changes are kept at commit.

        A locked read waits for any other transaction holding the note, then sees its result.
        """

    async def get_many(self, note_ids: Collection[uuid.UUID]) -> list[NoteView]:
        """The live notes among ``note_ids``, by id, whoever owns them (for the listeners)."""

    async def get_many_for_update(self, note_ids: Collection[uuid.UUID]) -> list[Note]:
        """The live notes among ``note_ids``, by id, whoever owns them, locked as
        ``get_for_update`` does.

        Locks are taken in id order, so two units of work locking overlapping notes never
        wait for each other in a cycle.
        """

    async def copy_all(self, notes: Sequence[Note]) -> None:
        """Insert many new notes, as ``add_all`` does, by the fastest bulk path there is
        (PostgreSQL's COPY): for imports, where a batch holds thousands."""


class EventLog(Protocol):
    """Domain events, recorded in the unit of work that makes the change they describe.

    Never commits: an event exists exactly when the unit of work that added it commits.
    """

    async def add(self, event: NoteEvent) -> NoteEvent:
        """Record ``event``; return it with its id. Listeners are woken after the commit."""

    async def add_all(self, events: Sequence[NoteEvent]) -> list[NoteEvent]:
        """Record ``events``, in order, in one round trip; return them with their ids."""

    async def claim_pending(
        self, limit: int, *, now: datetime | None = None
    ) -> list[NoteEvent | UndecodableEvent]:
        """Up to ``limit`` undispatched events, locked until this unit of work ends.

        The events never failed come first, oldest first; only when there are none, those
        whose retry is due by ``now``, soonest due first. The two never share a claim, so
        events that failed before never hold back fresh ones, and a backlog of fresh events
        is worked off before any retry. Without ``now``, only the fresh ones. A row this
        release cannot read comes back as an ``UndecodableEvent``. Events another unit of
        work holds are skipped, so concurrent dispatchers never handle the same event at the
        same time.
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

    async def record_failures(
        self, failures: Sequence[ListenerFailure], *, now: datetime, max_attempts: int
    ) -> list[FailureCount]:
        """Count one more failure of each (event, listener), keeping its error; return the
        counts. A pair that reaches ``max_attempts`` is parked (it stays parked)."""

    async def retry_later(self, retry_at: Mapping[int, datetime]) -> None:
        """Hold each event back until its time: it is claimed again once that is due."""

    async def parked(self, *, limit: int, listener: str | None = None) -> list[ParkedEvent]:
        """Parked (event, listener) pairs, oldest parked first; only ``listener``'s if given."""

    async def requeue(
        self, event_ids: Collection[int] | None = None, *, listener: str | None = None
    ) -> int:
        """Make parked events pending again, their failures forgotten; how many.

        ``event_ids`` None means every parked event (of ``listener``, if given). Listeners
        that had handled an event find their records and skip it.
        """

    async def prune(
        self, *, dispatched_before: datetime, parked_before: datetime, limit: int
    ) -> int:
        """Delete up to ``limit`` events dispatched before ``dispatched_before``, with their
        listener records and failures; how many. An event parked for a listener at or after
        ``parked_before`` is kept. Events another unit of work holds are skipped."""

    async def copy_all(self, events: Sequence[NoteEvent]) -> None:
        """Record many ``events`` by the fastest bulk path there is (PostgreSQL's COPY),
        without returning their ids; listeners are woken after the commit, as for ``add``."""


class NoteTagRepository(Protocol):
    """Each live note's hashtags, as the tag listener found them. Never commits."""

    async def set_note_tags(self, tags: Mapping[uuid.UUID, Collection[str]]) -> None:
        """Make ``tags[note_id]`` the tags of each note it names (none for a deleted note)."""

    async def note_tags(self, note_id: uuid.UUID) -> frozenset[str]:
        """The note's tags."""


OwnedName = tuple[uuid.UUID, str]
"""A tag or a category of one owner: (owner id, name)."""


class CountRepository(Protocol):
    """How many of an owner's live notes carry each tag and are in each category.

    Never commits.
    """

    async def recount_tags(self, names: Collection[OwnedName]) -> None:
        """Recompute the counts of ``names`` from the notes' tags, as committed right now.

        Holds a lock covering each (owner, name) until the unit of work ends, taken before
        counting, so two recounts of one name run one after the other and the later one counts
        last. The locks are bounded in number whatever ``names`` holds.
        """

    async def recount_categories(self, names: Collection[OwnedName]) -> None:
        """Recompute the counts of ``names`` from the live notes, as committed right now.

        The empty category is never counted. Locks like ``recount_tags``.
        """

    async def tag_counts(
        self, owner_id: uuid.UUID, *, limit: int, after: Count | None = None
    ) -> list[Count]:
        """Up to ``limit`` of the owner's tags of live notes, most used first, ties by name;
        with ``after``, only those that sort after it."""

    async def category_counts(
        self, owner_id: uuid.UUID, *, limit: int, after: Count | None = None
    ) -> list[Count]:
        """The same as ``tag_counts``, for the owner's categories."""


class IdempotencyKeyRepository(Protocol):
    """Stores idempotency keys, per owner. Never commits: the unit of work that owns it does."""

    async def try_lock(self, owner_id: uuid.UUID, key: str) -> bool:
        """Claim the owner's ``key`` until the end of this transaction, without waiting.

        False when another transaction holds it (a request with this key is still running).
        """

    async def get(self, owner_id: uuid.UUID, key: str) -> IdempotencyKey | None:
        """The stored record of the owner's ``key``, expired or not."""

    async def add(self, record: IdempotencyKey) -> None:
        """Stage a new record."""

    async def remove(self, record: IdempotencyKey) -> None:
        """Delete ``record`` (an expired one, about to be replaced) right away."""

    async def purge_expired(self, now: datetime, *, limit: int) -> int:
        """Delete up to ``limit`` records that expired by ``now``; how many were deleted.

        Records another transaction is working on are skipped, never waited for.
        """


class UserRepository(Protocol):
    """Accounts. Never commits."""

    async def add(self, user: User) -> bool:
        """Insert ``user``; False (and nothing stored) when its email is taken, in any case."""

    async def get(self, user_id: uuid.UUID) -> Account | None:
        """The account with ``user_id``."""

    async def get_by_email(self, email_key: str) -> User | None:
        """The account whose lower-cased email is ``email_key``, with its password hash."""

    async def set_password_hash(self, user_id: uuid.UUID, password_hash: str) -> None:
        """Replace the account's password hash."""


class TokenRepository(Protocol):
    """Bearer tokens, stored by the hash of their value. Never commits."""

    async def add(self, token: AccessToken) -> None:
        """Store a new token."""

    async def list(self, user_id: uuid.UUID, *, now: datetime) -> list[TokenInfo]:
        """The account's tokens that have not expired by ``now``, newest first."""

    async def remove(self, user_id: uuid.UUID, token_id: uuid.UUID) -> bool:
        """Delete the account's token; False when it has no such token."""

    async def purge_expired(self, now: datetime, *, limit: int) -> int:
        """Delete up to ``limit`` tokens expired by ``now``; how many were deleted."""


class LoginFailureLog(Protocol):
    """Failed logins per email, for the rate limit. Never commits."""

    async def record(self, email_key: str, at: datetime) -> None:
        """Record a failed login for ``email_key``."""

    async def since(self, email_key: str, start: datetime) -> list[datetime]:
        """When logins for ``email_key`` failed at or after ``start``, oldest first."""

    async def purge_before(self, before: datetime, *, limit: int) -> int:
        """Delete up to ``limit`` failures older than ``before``; how many were deleted."""


class TokenReader(Protocol):
    """Finds who a bearer token belongs to, on its own (it joins no transaction)."""

    async def authenticate(self, token_hash: bytes, now: datetime) -> Principal | None:
        """The principal of the unexpired token whose value hashes to ``token_hash``, its use
        at ``now`` recorded; None when there is none."""


class PasswordHasher(Protocol):
    """Hashes passwords and checks them against hashes (slow on purpose, off the event loop)."""

    async def hash(self, password: str) -> str:
        """A new hash of ``password`` (salted: two hashes of one password differ)."""

    async def verify(self, password_hash: str, password: str) -> bool:
        """Whether ``password`` is the one ``password_hash`` was made from."""

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether the hash was made with other parameters than new hashes get."""


class SubscriptionRepository(Protocol):
    """Webhook subscriptions, per owner. Never commits."""

    async def add(self, subscription: WebhookSubscription) -> None:
        """Insert a new subscription, as it is now."""

    async def get(self, owner_id: uuid.UUID, subscription_id: uuid.UUID) -> SubscriptionView | None:
        """The owner's subscription; another owner's is never found."""

    async def get_for_update(
        self, owner_id: uuid.UUID, subscription_id: uuid.UUID
    ) -> WebhookSubscription | None:
        """The owner's subscription, locked until commit; its changes are kept at commit."""

    async def list(self, owner_id: uuid.UUID) -> list[SubscriptionView]:
        """The owner's subscriptions, oldest first."""

    async def count(self, owner_id: uuid.UUID) -> int:
        """How many subscriptions the owner has."""

    async def remove(self, owner_id: uuid.UUID, subscription_id: uuid.UUID) -> bool:
        """Delete the owner's subscription and its deliveries; False when there is none."""

    async def enabled_of(
        self, owner_ids: Collection[uuid.UUID]
    ) -> builtins.list[WebhookSubscription]:
        """The enabled subscriptions of these owners (for the listener that makes deliveries)."""


class DeliveryRepository(Protocol):
    """Webhook deliveries and their attempts. Never commits."""

    async def add_all(self, deliveries: Sequence[WebhookDelivery]) -> None:
        """Insert new deliveries, in one round trip."""

    async def list(
        self,
        subscription_id: uuid.UUID,
        *,
        status: str | None,
        limit: int,
        after: Position | None = None,
    ) -> list[DeliveryView]:
        """The subscription's deliveries (of ``status``, when given), newest first (ties by id,
        highest first), each with its latest attempts; after ``after``, those that sort after
        it. A position here is (``created_at``, ``id``)."""

    async def get(self, subscription_id: uuid.UUID, delivery_id: uuid.UUID) -> DeliveryView | None:
        """The subscription's delivery with its latest attempts."""

    async def get_for_update(
        self, subscription_id: uuid.UUID, delivery_id: uuid.UUID
    ) -> WebhookDelivery | None:
        """The subscription's delivery, locked until commit; its changes are kept at commit."""

    async def record_attempts(
        self, records: Sequence[AttemptRecord], *, failing_for: timedelta
    ) -> None:
        """Store attempts and their deliveries' new state; keep their subscriptions' health.

        A delivered attempt ends its subscription's failing period; a failed one starts it
        if none is running, and disables the subscription once it has lasted ``failing_for``;
        a ``gone`` one disables the subscription at once. A record of a delivery that is no
        longer pending (or no longer exists) is ignored.
        """

    async def purge_settled(self, before: datetime, *, limit: int) -> int:
        """Delete up to ``limit`` delivered or failed deliveries (with their attempts) last
        changed before ``before``; how many were deleted."""


class DeliveryQueue(Protocol):
    """The job queue that drives deliveries. Never commits."""

    async def defer(self, delivery_ids: Sequence[uuid.UUID]) -> None:
        """Queue one job per delivery in the unit of work's transaction, in one statement:
        the jobs exist exactly when the unit of work commits."""

    async def purge_log(self, before: datetime, *, limit: int) -> int:
        """Delete up to ``limit`` of the queue's own log and statistics rows older than
        ``before`` (the library never does); how many were deleted."""


class DeliveryReader(Protocol):
    """Reads what an attempt needs, on its own (it joins no transaction)."""

    async def get_for_attempt(self, delivery_id: uuid.UUID, now: datetime) -> DeliveryTask | None:
        """The delivery with its subscription as it is now, or None when either is gone."""


class WebhookSender(Protocol):
    """Sends one webhook request to a receiver; never raises for what the network does."""

    async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendResult:
        """POST ``body`` to ``url``: redirects not followed, the answer read up to a bound,
        the whole attempt bounded in time, only to addresses a webhook may reach."""


class HostResolver(Protocol):
    """Turns a host name into its IP addresses."""

    async def resolve(self, host: str) -> list[str]:
        """Every address ``host`` resolves to (an IP literal resolves to itself);
        ``LookupError`` when it resolves to none."""


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

    @property
    def users(self) -> UserRepository: ...

    @property
    def tokens(self) -> TokenRepository: ...

    @property
    def login_failures(self) -> LoginFailureLog: ...

    @property
    def webhooks(self) -> SubscriptionRepository: ...

    @property
    def deliveries(self) -> DeliveryRepository: ...

    @property
    def delivery_queue(self) -> DeliveryQueue: ...

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

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        """A part of this unit of work that an exception undoes alone: leaving the block by
        an exception rolls back what was done in it (and re-raises); the rest stays."""


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


class NoteExporter(Protocol):
    """Reads all of an owner's matching notes as NDJSON, a batch at a time, for an export."""

    def export(
        self, owner_id: uuid.UUID, *, where: NoteFilter, batch_size: int
    ) -> AsyncGenerator[bytes, None]:
        """The owner's live notes matching ``where``, newest first (as ``NoteReader.list``),
        as NDJSON: each item is the lines of up to ``batch_size`` notes, each line a JSON
        object of ``id``, ``contents``, ``category``, ``creation_date``, ``updated_at`` and
        ``version`` (timestamps in ISO 8601, UTC), ended by a newline.

        The notes are read from one snapshot as the consumer asks for them; closing the
        iterator early (``aclose``, or cancelling its consumer) releases whatever the read
        holds at once. A failure of the database comes out as an ``UnavailableError``.
        """


class EventFeedReader(Protocol):
    """The event log in commit order, read on connections of its own (no unit of work).

    Only events of transactions that have all finished are read: an event that a running
    transaction may still commit always stands after every event already read, so reading
    on from the last position read never misses one.
    """

    async def horizon(self) -> EventPosition:
        """A position that every event still to be read stands after: where a reader that
        wants only what is committed from now on starts."""

    async def after(
        self,
        position: EventPosition,
        *,
        limit: int,
        owner_id: uuid.UUID | None = None,
    ) -> builtins.list[FeedEvent]:
        """Up to ``limit`` events after ``position``, in commit order, of every owner or of
        ``owner_id`` alone."""

    async def position_of(self, owner_id: uuid.UUID, event_id: int) -> EventPosition | None:
        """Where the owner's event ``event_id`` stands; None when there is no such event
        (never recorded, pruned, or another owner's)."""
