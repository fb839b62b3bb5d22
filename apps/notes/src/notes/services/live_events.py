"""The live event feed: each process reads the event log in commit order and fans it out.

One ``EventHub`` per process follows the event log: it listens for the NOTIFY that writers send
after committing events, and on each (and at least every ``poll_interval`` seconds, since a
notification may be lost) reads the events after its position, of every owner, and publishes
them to the process's subscribers through a ``streams.Broadcast``: each subscriber has a buffer
of ``buffer_size`` events, and one that falls further behind is dropped.

``LiveEvents.stream`` is one client's feed: it subscribes first, then replays the owner's
events after the client's ``Last-Event-ID`` from the log, then goes on with the live events,
through ``streams.replay_then_live``, which skips those that both gave. It hands them on in
batches: all that a stream's buffer holds when its turn comes, so that a stream that fell a
few events behind (a busy process) catches up in one step, one write to its socket. Positions are
``(transaction id, event id)`` pairs read only below the oldest running transaction, so both
sources deliver events in one order that no later commit can slip into: no gap, no duplicate.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Collection
from contextlib import aclosing, suppress
from dataclasses import dataclass

from streams import Broadcast, SlowConsumerError, Subscription, replay_then_live

from notes.core.errors import UnavailableError
from notes.entities import NoteEvent
from notes.entities.events import EventPosition, FeedEvent
from notes.entities.webhooks import WEBHOOK_EVENT_TYPES
from notes.services.ports import EventFeedReader, Listen

_logger = logging.getLogger(__name__)

FEED_EVENT_TYPES: dict[str, str] = WEBHOOK_EVENT_TYPES
"""The name a feed gives each stored event type (``NoteCreated`` -> ``note.created``)."""

READ_BATCH = 500
"""Events read from the log per query, by the hub and by a replay."""

KEEPALIVE_SECONDS = 15.0
"""A stream that sent nothing for this long sends a ``ping`` notice (docs/streams.md)."""


@dataclass(frozen=True)
class Notice:
    """Something the feed tells its client besides the events: ``kind`` is ``open`` (first,
    once the stream is subscribed: every event committed from then on will come),
    ``resync`` (the events since its ``Last-Event-ID`` are gone: reload, then follow),
    ``dropped`` (it fell
    behind and is disconnected), ``unavailable`` (the database failed during the replay),
    ``closing`` (the server is stopping) or ``ping`` (nothing to send for a while: the
    stream is still open)."""

    kind: str
    reason: str


@dataclass(frozen=True)
class FeedFilter:
    """Which of the owner's events a client wants: types by feed name, and a category (an
    update matches when the note was in it before or is in it now)."""

    types: frozenset[str] | None = None
    category: str | None = None

    def matches(self, event: NoteEvent) -> bool:
        if self.types is not None and FEED_EVENT_TYPES.get(event.type) not in self.types:
            return False
        return self.category is None or self.category in event.affected_categories()


class EventHub:
    """Follows the event log for one process and publishes each event to its subscribers.

    Each owner's streams share a broadcast of that owner's events alone, so a stream's buffer
    holds its own account's events: a burst of another account's never fills it, and an event
    wakes only the streams of its owner. ``subscribe()`` with no owner gets every event.

    ``run`` is the loop: connect (``listen``), read whatever was committed meanwhile, then
    read again on each notification or after ``poll_interval`` seconds. A lost connection is
    logged and retried every ``reconnect_interval`` seconds, forever; the position is kept,
    so nothing committed meanwhile is missed (the subscribers just wait). ``close`` ends every
    subscription (each stream then ends cleanly) and stops the loop.
    """

    def __init__(  # noqa: PLR0913 - the settings, each by keyword
        self,
        reader: EventFeedReader,
        listen: Listen,
        *,
        buffer_size: int,
        poll_interval: float = 1.0,
        reconnect_interval: float = 1.0,
        batch_size: int = READ_BATCH,
    ) -> None:
        self._reader = reader
        self._listen = listen
        self._everyone: Broadcast[FeedEvent] = Broadcast(buffer_size=buffer_size)
        self._owners: dict[uuid.UUID, Broadcast[FeedEvent]] = {}
        self._buffer_size = buffer_size
        self._poll_interval = poll_interval
        self._reconnect_interval = reconnect_interval
        self._batch_size = batch_size
        self._position: EventPosition | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.published = 0

    @property
    def buffer_size(self) -> int:
        """Events a subscriber may fall behind by before it is dropped."""
        return self._buffer_size

    @property
    def closed(self) -> bool:
        """Whether the streams were ended (the server is stopping)."""
        return self._everyone.closed

    @property
    def subscriber_count(self) -> int:
        """How many streams are subscribed now."""
        return self._everyone.subscriber_count + sum(
            broadcast.subscriber_count for broadcast in self._owners.values()
        )

    @property
    def position(self) -> EventPosition | None:
        """The position of the last event read (None before the first read)."""
        return self._position

    def subscribe(self, owner_id: uuid.UUID | None = None) -> Subscription[FeedEvent]:
        """The events of ``owner_id`` published from now on, or every owner's (None); ended at
        once after ``close``."""
        if owner_id is None or self.closed:
            return self._everyone.subscribe()
        broadcast = self._owners.get(owner_id)
        if broadcast is None:
            broadcast = self._owners[owner_id] = Broadcast(buffer_size=self._buffer_size)
        return broadcast.subscribe()

    def start(self) -> None:
        """Run the loop in a task of its own (until ``close``)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run())

    def close_streams(self) -> None:
        """End every subscription, and every later one at once: each stream ends cleanly."""
        self._everyone.close()
        for broadcast in self._owners.values():
            broadcast.close()
        self._owners.clear()
        self._stop.set()

    async def close(self) -> None:
        """End the streams and stop the loop; returns once the loop has stopped."""
        self.close_streams()
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    async def run(self) -> None:
        """Follow the event log until ``close``; never raises for a database failure."""
        while not self._stop.is_set():
            try:
                await self._follow()
            except Exception as error:  # noqa: BLE001 - any database failure: reconnect, never die
                first = str(error).strip().splitlines()[0] if str(error).strip() else ""
                _logger.warning(
                    "live events lost the database (%s: %s); reconnecting in %s s",
                    type(error).__name__,
                    first,
                    self._reconnect_interval,
                )
                try:
                    async with asyncio.timeout(self._reconnect_interval):
                        await self._stop.wait()
                except TimeoutError:
                    pass

    async def _follow(self) -> None:
        async with self._listen() as wakeups:
            read = await self.catch_up()
            _logger.info("live events: listening; %d events read on connecting", read)
            while not self._stop.is_set():
                await wakeups.wait(self._poll_interval)
                await self.catch_up()

    async def catch_up(self) -> int:
        """Read and publish every event committed since the last read; how many."""
        if self._position is None:
            self._position = await self._reader.horizon()
        read = 0
        while True:
            batch = await self._reader.after(self._position, limit=self._batch_size)
            for item in batch:
                self._everyone.publish(item)
                owners = self._owners.get(item.owner_id)
                if owners is not None:
                    owners.publish(item)
            read += len(batch)
            if batch:
                self._position = batch[-1].position
            if len(batch) < self._batch_size:
                self.published += read
                # Forget the broadcasts whose streams have all ended.
                for owner_id in [o for o, b in self._owners.items() if not b.subscriber_count]:
                    del self._owners[owner_id]
                return read


class LiveEvents:
    """One client's feed: the owner's events after its ``Last-Event-ID``, then live ones."""

    def __init__(
        self, hub: EventHub, reader: EventFeedReader, *, keepalive: float = KEEPALIVE_SECONDS
    ) -> None:
        self._hub = hub
        self._reader = reader
        self._keepalive = keepalive

    @property
    def hub(self) -> EventHub:
        """The process's hub."""
        return self._hub

    async def resume_from(
        self, owner_id: uuid.UUID, last_event_id: str | None
    ) -> EventPosition | Notice | None:
        """Where a client that last saw ``last_event_id`` resumes: the position of that event
        of the owner; None without one (live only); a ``resync`` notice when it is not an
        event id of the owner's that the log still holds."""
        if last_event_id is None:
            return None
        text = last_event_id.strip()
        event_id = int(text) if text.isascii() and text.isdecimal() and len(text) < 19 else None
        position = None
        if event_id is not None:
            position = await self._reader.position_of(owner_id, event_id)
        if position is None:
            return Notice(
                "resync",
                f"event {last_event_id[:40]!r} is not in the event log (pruned, or never one of"
                " your events): reload your notes, then follow the events from here",
            )
        return position

    async def stream(
        self,
        owner_id: uuid.UUID,
        *,
        resume: EventPosition | Notice | None = None,
        where: FeedFilter | None = None,
    ) -> AsyncGenerator[list[FeedEvent] | Notice, None]:
        """The owner's events (matching ``where``) after ``resume``, then live, until the
        server stops, the client leaves, or it falls behind (a ``dropped`` notice ends it).

        Events come in lists, never empty: each holds those ready at once (a page of the
        replay, what the live buffer held). A ``ping`` notice comes after ``keepalive``
        seconds with nothing sent."""
        where = where or FeedFilter()
        clock = asyncio.get_running_loop().time
        try:
            async with self._hub.subscribe(owner_id) as live:  # 1. subscribe, then replay
                _logger.info(
                    "live events: a stream of %s opened (%d open)",
                    owner_id,
                    self._hub.subscriber_count,
                )
                yield Notice("open", "subscribed: every event committed from now on will follow")
                after: EventPosition | None = None
                replay: AsyncIterator[list[FeedEvent]] = _nothing()
                if isinstance(resume, Notice):
                    yield resume
                elif resume is not None:
                    after = resume
                    replay = self._replay(owner_id, resume)  # 2. then read the log
                feed = replay_then_live(
                    replay, live.batches(idle=self._keepalive), key=_position, after=after
                )
                sent = clock()
                async with aclosing(feed):
                    try:
                        async for batch in feed:
                            wanted = [item for item in batch if _wanted(item, owner_id, where)]
                            # A heartbeat (nothing came for a while), or events all filtered
                            # out for a while: a ping.
                            if wanted or not batch or clock() - sent >= self._keepalive:
                                sent = clock()
                                yield wanted or PING
                    except SlowConsumerError:
                        _logger.info(
                            "live events: a stream of %s fell more than %d events behind: dropped",
                            owner_id,
                            self._hub.buffer_size,
                        )
                        yield Notice(
                            "dropped",
                            f"you fell more than {self._hub.buffer_size} events behind;"
                            " reconnect with Last-Event-ID to resume",
                        )
                        return
                    except UnavailableError as error:
                        yield Notice("unavailable", f"the event log cannot be read now: {error}")
                        return
                if self._hub.closed:
                    yield Notice("closing", "the server is stopping; reconnect to resume")
        finally:
            _logger.info(
                "live events: a stream of %s ended (%d open)", owner_id, self._hub.subscriber_count
            )

    async def _replay(
        self, owner_id: uuid.UUID, after: EventPosition
    ) -> AsyncGenerator[list[FeedEvent], None]:
        position = after
        while True:
            batch = await self._reader.after(position, limit=READ_BATCH, owner_id=owner_id)
            if batch:
                yield batch
            if len(batch) < READ_BATCH:
                return
            position = batch[-1].position


PING = Notice("ping", "nothing to send for a while; the stream is open")
"""What a stream says when it has been silent for its keep-alive interval."""


def _position(item: FeedEvent) -> EventPosition:
    return item.position


def _wanted(item: FeedEvent, owner_id: uuid.UUID, where: FeedFilter) -> bool:
    return (
        item.owner_id == owner_id
        and isinstance(item.event, NoteEvent)
        and where.matches(item.event)
    )


async def _nothing() -> AsyncGenerator[list[FeedEvent], None]:
    return
    yield  # pragma: no cover - makes this an (empty) async generator


def parse_types(values: Collection[str]) -> frozenset[str]:
    """The feed names asked for (comma-separated or repeated); ``ValueError`` for others."""
    names = frozenset(name.strip() for value in values for name in value.split(",") if name.strip())
    unknown = sorted(names - set(FEED_EVENT_TYPES.values()))
    if unknown:
        known = ", ".join(sorted(FEED_EVENT_TYPES.values()))
        msg = f"unknown event type {unknown[0]!r}; the types are {known}"
        raise ValueError(msg)
    return names
