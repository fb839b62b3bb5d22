"""The listeners that keep data derived from notes, and the bus that orders them.

``tag_note`` keeps each note's hashtags in ``note_tags``; after it, ``count_tags`` keeps the
per-tag counts; beside them, ``count_categories`` keeps the per-category counts, and
``enqueue_deliveries`` turns each event into webhook deliveries, one job on the job queue per
matching subscription (``services.webhooks``).

Listeners take events in batches. The dispatcher publishes the events it claimed together
(``EventBus.publish_batch``), and each listener handles its share of them in one unit of
work: one transaction, a handful of statements, whatever the batch's size. A single event
is a batch of one. In that unit of work the listener first records, in
``processed_events``, that it handles the batch's events, and applies its effect only to
those not recorded before: a redelivered event changes nothing, and a batch that mixes new
and redelivered events handles the new ones. An effect that fails rolls its records back
with it.

Why the counts stay exact: a listener never adds or subtracts. It recomputes the count of
every tag or category the batch touched, once per batch, from the source rows
(``note_tags``, ``notes``), in its own transaction, after taking a lock covering each name
(``CountRepository.recount_*``; counts are per owner, so a name is an owner's name).
Increments would need exactly-once delivery and one order of events; a recount needs
neither. Two recounts of a name run one after the other and the later one counts what is
committed when it holds the lock, so the last count written for a name is never older than
the last change committed before it. Every change to a name's
source rows is followed by a recount of that name: the event that made it lists the name
(``affected_tags``: the note's tags before and after) and its recount runs after the change
is committed (``count_tags`` comes after ``tag_note`` for the whole batch).

``tag_note`` is order-independent too: it reads the batch's notes as they are now, holding
their row locks (as an edit does; taken in id order), and makes ``note_tags`` match, so an
old event handled late rewrites today's tags, never yesterday's; several events of one note
in a batch cost one read.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from eventing import EventBus

from notes.entities import NoteCreated, NoteDeleted, NoteEvent, NoteUpdated, extract_tags
from notes.services.dispatch import EventsFailedError
from notes.services.ports import UnitOfWork, UnitsOfWork
from notes.services.webhooks import enqueue_deliveries, has_subscriptions

_logger = logging.getLogger(__name__)

NOTE_EVENTS: tuple[type[NoteEvent], ...] = (NoteCreated, NoteUpdated, NoteDeleted)

Effect = Callable[[UnitOfWork, Sequence[NoteEvent]], Awaitable[None]]
"""What a listener does to a batch of events it has not handled before, in a unit of work."""
Handler = Callable[[Sequence[NoteEvent]], Awaitable[None]]
Needed = Callable[[UnitOfWork, Sequence[NoteEvent]], Awaitable[bool]]
"""Whether a listener has anything to do for a batch at all (else it records nothing)."""

GRAPH_START = "<!-- events-graph:start (make events_graph writes this block) -->"
GRAPH_END = "<!-- events-graph:end -->"


async def tag_note(uow: UnitOfWork, events: Sequence[NoteEvent]) -> None:
    """Make each note's tags those of its contents now; none once it is deleted."""
    note_ids = {event.note_id for event in events}
    live = {note.id: note for note in await uow.notes.get_many_for_update(note_ids)}
    await uow.note_tags.set_note_tags(
        {
            note_id: extract_tags(live[note_id].contents) if note_id in live else ()
            for note_id in note_ids
        }
    )


async def count_tags(uow: UnitOfWork, events: Sequence[NoteEvent]) -> None:
    """Recount, once each, the tags the events touched, each of its owner."""
    await uow.counts.recount_tags(
        {(event.owner_id, tag) for event in events for tag in event.affected_tags()}
    )


async def count_categories(uow: UnitOfWork, events: Sequence[NoteEvent]) -> None:
    """Recount, once each, the categories the events touched, each of its owner."""
    await uow.counts.recount_categories(
        {(event.owner_id, name) for event in events for name in event.affected_categories()}
    )


def once(name: str, effect: Effect, uow: UnitsOfWork, *, needed: Needed | None = None) -> Handler:
    """A batch handler applying ``effect`` to the events ``name`` has not handled yet.

    One unit of work records the batch in ``processed_events`` and applies the effect to
    the events not recorded before; nothing is committed when there are none. With
    ``needed``, a batch it finds nothing to do for is neither recorded nor committed: for a
    listener whose effect on such a batch is nothing, that saves a commit per batch.

    If that fails, a second unit of work finds the events at fault: it tries halves of the
    batch, each in a savepoint, halving the ones that fail down to single events, keeps what
    succeeded, commits, and raises ``EventsFailedError`` naming each event that failed alone
    with its error. So one bad event costs its batch one more transaction, not one per event,
    and the dispatcher can run the listeners after this one on the others. If every part
    succeeds (the failure did not recur), the batch is handled and nothing is raised.
    """

    async def apply(work: UnitOfWork, events: Sequence[NoteEvent]) -> bool:
        new = await work.events.mark_processed([e.id for e in events if e.id is not None], name)
        if new:
            await effect(work, [event for event in events if event.id in new])
        return bool(new)

    async def attempt(work: UnitOfWork, part: Sequence[NoteEvent]) -> BaseException | None:
        """Apply ``part`` in a savepoint; its error, or None if it went through."""
        try:
            async with work.savepoint():
                await apply(work, part)
        except Exception as error:  # noqa: BLE001 - any failure of the effect is the events'
            return error
        return None

    async def isolate(
        work: UnitOfWork, events: Sequence[NoteEvent], failures: dict[int, BaseException]
    ) -> None:
        halves = (events[: len(events) // 2], events[len(events) // 2 :])
        failed = [(part, error) for part in halves if part and (error := await attempt(work, part))]
        for part, error in failed:
            if len(part) == 1 and part[0].id is not None:
                failures[part[0].id] = error
            elif len(failed) == 2:
                # Both halves failed: the faults are dense here, and trying each event alone
                # takes fewer tries than halving on (a batch of 100 bad events: 100, not 198).
                for event in part:
                    if event.id is not None and (alone := await attempt(work, [event])):
                        failures[event.id] = alone
            else:
                await isolate(work, part, failures)

    async def handle(events: Sequence[NoteEvent]) -> None:
        unrecorded = [event for event in events if event.id is None]
        if unrecorded:
            msg = f"{name} handles recorded events only; {unrecorded[0]!r} has no id"
            raise ValueError(msg)
        try:
            async with uow() as work:
                if needed is not None and not await needed(work, events):
                    return
                if not await apply(work, events):
                    _logger.debug("%s already handled events %s", name, [e.id for e in events])
                    return
                await work.commit()
        except Exception as error:  # noqa: BLE001 - any failure: find the events at fault
            if len(events) == 1 and events[0].id is not None:
                raise EventsFailedError({events[0].id: error}) from None
        else:
            return
        failures: dict[int, BaseException] = {}
        async with uow() as work:
            await isolate(work, events, failures)
            await work.commit()
        if failures:
            raise EventsFailedError(failures)

    handle.__qualname__ = name
    return handle


def build_bus(uow: UnitsOfWork) -> EventBus[NoteEvent]:
    """The bus with every listener registered; checked, so a wiring mistake fails at start-up."""
    bus: EventBus[NoteEvent] = EventBus()
    bus.subscribe_batch("tag_note", once("tag_note", tag_note, uow), events=NOTE_EVENTS)
    bus.subscribe_batch("count_tags", once("count_tags", count_tags, uow), after=("tag_note",))
    bus.subscribe_batch(
        "count_categories",
        once("count_categories", count_categories, uow),
        events=NOTE_EVENTS,
    )
    bus.subscribe_batch(
        "enqueue_deliveries",
        once("enqueue_deliveries", enqueue_deliveries, uow, needed=has_subscriptions),
        events=NOTE_EVENTS,
    )
    bus.check()
    return bus


def graph_block(bus: EventBus[NoteEvent]) -> str:
    """The picture of the listener graph in docs/events.md, between its marker comments."""
    return f"{GRAPH_START}\n```mermaid\n{bus.to_mermaid()}```\n{GRAPH_END}"
