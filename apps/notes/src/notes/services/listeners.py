"""The listeners that keep data derived from notes, and the bus that orders them.

``tag_note`` keeps each note's hashtags in ``note_tags``; after it, ``count_tags`` keeps the
per-tag counts; beside them, ``count_categories`` keeps the per-category counts. Each runs in
a unit of work of its own that also records, in ``processed_events``, that it handled the
event: a redelivered event finds that record and its listener commits nothing.

Why the counts stay exact: a listener never adds or subtracts. It recomputes the count of
every tag or category the event touched from the source rows (``note_tags``, ``notes``), in
its own transaction, after taking a lock per name (``TagRepository.recount_*``). Increments
would need exactly-once delivery and one order of events; a recount needs neither. Two
recounts of a name run one after the other and the later one counts what is committed when it
holds the lock, so the last count written for a name is never older than the last change
committed before it. Every change to a name's source rows is followed by a recount of that
name: the event that made it lists the name (``affected_tags``: the note's tags before and
after) and its recount runs after the change is committed.

``tag_note`` is order-independent too: it reads the note as it is now, holding the note's row
lock (as an edit does), and makes ``note_tags`` match, so an old event handled late rewrites
today's tags, never yesterday's.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from eventing import EventBus

from notes.connectors.unit_of_work import UnitOfWork
from notes.entities import NoteCreated, NoteDeleted, NoteEvent, NoteUpdated, extract_tags

_logger = logging.getLogger(__name__)

NOTE_EVENTS: tuple[type[NoteEvent], ...] = (NoteCreated, NoteUpdated, NoteDeleted)

Effect = Callable[[UnitOfWork, NoteEvent], Awaitable[None]]
Handler = Callable[[NoteEvent], Awaitable[None]]

GRAPH_START = "<!-- events-graph:start (make events_graph writes this block) -->"
GRAPH_END = "<!-- events-graph:end -->"


async def tag_note(uow: UnitOfWork, event: NoteEvent) -> None:
    """Make the note's tags those of its contents now; none once it is deleted."""
    note = await uow.notes.get(event.note_id, for_update=True)
    await uow.tags.set_note_tags(event.note_id, extract_tags(note.contents) if note else ())


async def count_tags(uow: UnitOfWork, event: NoteEvent) -> None:
    """Recount the tags the event touched."""
    await uow.tags.recount_tags(event.affected_tags())


async def count_categories(uow: UnitOfWork, event: NoteEvent) -> None:
    """Recount the categories the event touched."""
    await uow.tags.recount_categories(event.affected_categories())


def once(name: str, effect: Effect, uow: Callable[[], UnitOfWork]) -> Handler:
    """A bus handler that applies ``effect`` and records it in one unit of work, once per event.

    The record is written last: if an earlier delivery already wrote it, the unit of work
    ends without commit and this delivery's effect is rolled back.
    """

    async def handle(event: NoteEvent) -> None:
        if event.id is None:
            msg = f"{name} handles recorded events only; {event!r} has no id"
            raise ValueError(msg)
        async with uow() as work:
            await effect(work, event)
            if await work.events.mark_processed(event.id, name):
                await work.commit()
            else:
                _logger.debug("%s already handled event %d", name, event.id)

    handle.__qualname__ = name
    return handle


def build_bus(uow: Callable[[], UnitOfWork]) -> EventBus[NoteEvent]:
    """The bus with every listener registered; checked, so a wiring mistake fails at start-up."""
    bus: EventBus[NoteEvent] = EventBus()
    bus.subscribe("tag_note", once("tag_note", tag_note, uow), events=NOTE_EVENTS)
    bus.subscribe("count_tags", once("count_tags", count_tags, uow), after=("tag_note",))
    bus.subscribe(
        "count_categories",
        once("count_categories", count_categories, uow),
        events=NOTE_EVENTS,
    )
    bus.check()
    return bus


def graph_block(bus: EventBus[NoteEvent]) -> str:
    """The README's picture of the listener graph, between its marker comments."""
    return f"{GRAPH_START}\n```mermaid\n{bus.to_mermaid()}```\n{GRAPH_END}"
