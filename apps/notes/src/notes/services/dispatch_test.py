# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Dispatching: on the in-memory fakes, then against PostgreSQL."""

import asyncio
import logging
import uuid
from contextlib import asynccontextmanager

import pytest
from eventing import EventBus
from testkit import OWNER

from notes.entities import NoteEvent
from notes.services.dispatch import BatchReport, Dispatcher, EventWorker
from notes.services.listeners import build_bus
from notes.services.notes import NotesService


async def pending(memory_db):
    async with memory_db.unit_of_work() as uow:
        return [e.id for e in await uow.events.claim_pending(1000)]


async def until(condition, seconds=10.0):
    """Poll ``condition`` (a coroutine function) until it is true; fail after ``seconds``."""
    async with asyncio.timeout(seconds):
        while not await condition():  # noqa: ASYNC110 - a bounded poll of outside state
            await asyncio.sleep(0.01)


async def test_an_event_a_listener_failed_on_stays_pending_and_is_retried(memory_db):
    attempts = []

    async def flaky(event):
        attempts.append(event.id)
        if len(attempts) <= 2:
            raise RuntimeError("the batch and the retry alone both fail")

    bus: EventBus[NoteEvent] = EventBus()
    bus.subscribe("flaky", flaky, events=(NoteEvent,))
    dispatcher = Dispatcher(memory_db.unit_of_work, bus)
    note = await NotesService(memory_db.unit_of_work).create(OWNER, contents="x")

    assert await dispatcher.dispatch_pending() == 0
    assert len(await pending(memory_db)) == 1
    assert await dispatcher.dispatch_pending() == 1
    assert await pending(memory_db) == []
    assert len(attempts) == 3
    assert note.id


async def test_a_failed_batch_is_retried_event_by_event_so_one_bad_event_holds_back_itself(
    memory_db, caplog
):
    service = NotesService(memory_db.unit_of_work)
    bad = await service.create(OWNER, contents="#bad")
    for i in range(3):
        await service.create(OWNER, contents=f"#good{i}")
    shares = []

    async def refuses_bad(events):
        shares.append(len(events))
        if any(e.note_id == bad.id for e in events):
            raise RuntimeError("cannot handle this note")

    after: list[int] = []

    async def downstream(events):
        after.extend(e.id for e in events)

    bus: EventBus[NoteEvent] = EventBus()
    bus.subscribe_batch("refuses_bad", refuses_bad, events=(NoteEvent,))
    bus.subscribe_batch("downstream", downstream, after=("refuses_bad",))

    assert await Dispatcher(memory_db.unit_of_work, bus).dispatch_pending() == 3

    [still_pending] = await pending(memory_db)
    assert still_pending not in after
    assert shares == [4, 1, 1, 1, 1]
    assert len(after) == 3
    warnings = [r.getMessage() for r in caplog.records if r.name == "notes.services.dispatch"]
    assert warnings == [
        (
            "a batch of 4 events failed (refuses_bad failed, downstream skipped): "
            "publishing its events one at a time"
        ),
        (
            f"event {still_pending} (NoteCreated) stays pending: refuses_bad failed, "
            "downstream skipped"
        ),
    ]


async def test_a_batch_is_one_claim_and_one_transaction_per_listener(memory_db):
    service = NotesService(memory_db.unit_of_work)
    for i in range(10):
        await service.create(OWNER, contents=f"#t{i % 4}", category=f"c{i % 3}")
    commits = memory_db.commits
    dispatcher = Dispatcher(memory_db.unit_of_work, build_bus(memory_db.unit_of_work))

    assert await dispatcher.dispatch_pending() == 10

    assert memory_db.commits - commits == 1 + 3
    assert memory_db.tag_counts_of(OWNER) == {"t0": 3, "t1": 3, "t2": 2, "t3": 2}


async def test_nothing_pending_is_an_empty_batch(memory_db):
    dispatcher = Dispatcher(memory_db.unit_of_work, build_bus(memory_db.unit_of_work))
    assert await dispatcher.dispatch_batch() == BatchReport(claimed=0, dispatched=0)
    assert await dispatcher.dispatch_pending() == 0


async def test_a_failed_batch_ends_the_pass(memory_db):
    service = NotesService(memory_db.unit_of_work)
    first = await service.create(OWNER, contents="x")
    await service.create(OWNER, contents="y")
    tried: list[uuid.UUID] = []

    async def refuses_first(events):
        tried.extend(e.note_id for e in events)
        if any(e.note_id == first.id for e in events):
            raise RuntimeError("no")

    bus: EventBus[NoteEvent] = EventBus()
    bus.subscribe_batch("refuses_first", refuses_first, events=(NoteEvent,))

    assert await Dispatcher(memory_db.unit_of_work, bus, batch_size=1).dispatch_pending() == 0
    assert tried == [first.id, first.id]  # the batch, then the event alone; no next batch


async def test_batches_continue_until_nothing_is_pending(memory_db):
    service = NotesService(memory_db.unit_of_work)
    for i in range(7):
        await service.create(OWNER, contents=f"#t{i % 2}")
    dispatcher = Dispatcher(memory_db.unit_of_work, build_bus(memory_db.unit_of_work), batch_size=3)

    assert await dispatcher.dispatch_pending() == 7
    assert memory_db.tag_counts_of(OWNER) == {"t0": 4, "t1": 3}


async def test_once_stop_is_set_the_batch_is_finished_and_no_further_batch_started(memory_db):
    stop = asyncio.Event()
    published = []

    async def stop_after_first(event):
        published.append(event.id)
        stop.set()

    bus: EventBus[NoteEvent] = EventBus()
    bus.subscribe("stopper", stop_after_first, events=(NoteEvent,))
    service = NotesService(memory_db.unit_of_work)
    for _ in range(3):
        await service.create(OWNER, contents="x")

    dispatched = await Dispatcher(memory_db.unit_of_work, bus, batch_size=2).dispatch_pending(stop)

    assert dispatched == 2
    assert len(published) == 2
    assert len(await pending(memory_db)) == 1


async def test_once_stop_is_set_no_further_event_of_a_failed_batch_is_retried(memory_db):
    stop = asyncio.Event()
    tries = []

    async def fails_and_stops(event):
        tries.append(event.id)
        stop.set()
        raise RuntimeError("fails")

    bus: EventBus[NoteEvent] = EventBus()
    bus.subscribe("fails", fails_and_stops, events=(NoteEvent,))
    service = NotesService(memory_db.unit_of_work)
    for _ in range(3):
        await service.create(OWNER, contents="x")

    assert await Dispatcher(memory_db.unit_of_work, bus).dispatch_pending(stop) == 0
    assert len(tries) == 1  # the batch's try; no event tried alone after the stop
    assert len(await pending(memory_db)) == 3


def worker(memory_db, listen=None, **options):
    dispatcher = Dispatcher(memory_db.unit_of_work, build_bus(memory_db.unit_of_work))
    options = {"poll_interval": 60.0, "reconnect_interval": 0.01, **options}
    return EventWorker(dispatcher, listen or memory_db.listen, **options)


async def test_the_worker_catches_up_after_connecting_then_follows_notifications(memory_db, caplog):
    service = NotesService(memory_db.unit_of_work)
    await service.create(OWNER, contents="#before")  # committed while no worker ran
    memory_db.fail_connections = 2
    stop = asyncio.Event()
    caplog.set_level(logging.INFO, logger="notes.services.dispatch")
    task = asyncio.create_task(worker(memory_db).run(stop))
    try:
        await until(lambda: _has_tag(memory_db, "before"))
        assert memory_db.connections == 3
        await service.create(OWNER, contents="#after")
        # The poll interval is a minute: only the notification can wake the worker in time.
        await until(lambda: _has_tag(memory_db, "after"))
        assert memory_db.connections == 3  # followed on the same connection
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert [r.getMessage() for r in caplog.records] == [
        (
            "event worker lost the database (ConnectionError: connection refused (as the test "
            "asked)); reconnecting in 0.01 s"
        ),
    ] * 2 + ["listening for events; 1 pending dispatched on connecting"]


async def test_a_failure_without_a_message_is_logged_by_its_type(memory_db, caplog):
    class Broken:
        async def __aenter__(self):
            raise OSError

        async def __aexit__(self, *exc_info):
            return False

    def broken():
        return Broken()

    stop = asyncio.Event()
    task = asyncio.create_task(worker(memory_db, broken).run(stop))
    await until(lambda: _logged(caplog, "lost the database"))
    stop.set()
    await asyncio.wait_for(task, 10)
    assert caplog.records[0].getMessage() == (
        "event worker lost the database (OSError: ); reconnecting in 0.01 s"
    )


async def test_a_worker_told_to_stop_while_catching_up_starts_no_further_batch(memory_db):
    service = NotesService(memory_db.unit_of_work)
    for _ in range(3):
        await service.create(OWNER, contents="x")
    stop = asyncio.Event()

    async def stop_at_once(events):
        stop.set()

    bus: EventBus[NoteEvent] = EventBus()
    bus.subscribe_batch("stopper", stop_at_once, events=(NoteEvent,))
    dispatcher = Dispatcher(memory_db.unit_of_work, bus, batch_size=1)
    events_worker = EventWorker(dispatcher, memory_db.listen, poll_interval=60.0)

    await asyncio.wait_for(events_worker.run(stop), 10)

    assert len(await pending(memory_db)) == 2


async def test_the_worker_polls_when_notifications_never_come(memory_db, caplog):
    class Deaf:
        async def wait(self, seconds):
            await asyncio.sleep(seconds)
            return False

    @asynccontextmanager
    async def listen_deaf():
        yield Deaf()

    service = NotesService(memory_db.unit_of_work)
    stop = asyncio.Event()
    task = asyncio.create_task(worker(memory_db, listen_deaf, poll_interval=0.05).run(stop))
    try:
        await until(lambda: _connected(memory_db, task))
        await service.create(OWNER, contents="#polled")
        await until(lambda: _has_tag(memory_db, "polled"))
        await service.create(OWNER, contents="#again")
        await until(lambda: _has_tag(memory_db, "again"))
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert not await _logged(caplog, "lost the database")


async def _has_tag(memory_db, tag):
    return tag in memory_db.tag_counts_of(OWNER)


async def _logged(caplog, text):
    return any(text in record.getMessage() for record in caplog.records)


async def _connected(memory_db, task):
    await asyncio.sleep(0.1)
    return not task.done()


# --- against PostgreSQL ----------------------------------------------------------------------


async def _snapshot(sql, event_ids, tags, category):
    processed = await sql.fetch(
        "SELECT event_id, listener, processed_at FROM processed_events "
        "WHERE event_id = ANY(:ids) ORDER BY 1, 2",
        ids=event_ids,
    )
    note_tags = await sql.fetch(
        "SELECT note_id, tag FROM note_tags WHERE tag = ANY(:tags) ORDER BY 1, 2", tags=tags
    )
    counts = await sql.fetch(
        "SELECT 'tag', name, count FROM tag_counts WHERE name = ANY(:tags) "
        "UNION ALL SELECT 'category', name, count FROM category_counts "
        "WHERE name = :category ORDER BY 1, 2",
        tags=tags,
        category=category,
    )
    return processed, note_tags, counts


@pytest.mark.integrated
async def test_dispatching_an_event_again_changes_nothing_the_second_time(
    sql, committing_uow, make_unique
):
    tag, category = make_unique("tag").replace("-", "_"), make_unique("cat")
    service = NotesService(committing_uow)
    kept = await service.create(OWNER, contents=f"#{tag} kept", category=category)
    gone = await service.create(OWNER, contents=f"#{tag} gone", category=category)
    await service.delete(OWNER, gone.id)
    dispatcher = Dispatcher(committing_uow, build_bus(committing_uow))
    await dispatcher.dispatch_pending()
    async with committing_uow() as uow:
        ids = [
            e.id
            for e in await uow.events.after(0, limit=100_000)
            if e.note_id in {kept.id, gone.id}
        ]
    first = await _snapshot(sql, ids, [tag], category)
    assert first[1] == [(kept.id, tag)]
    assert first[2] == [("category", category, 1), ("tag", tag, 1)]
    assert len(first[0]) == 3 * len(ids)

    # As if the worker died before marking them.
    await sql.execute("UPDATE events SET dispatched_at = NULL WHERE id = ANY(:ids)", ids=ids)
    await dispatcher.dispatch_pending()

    assert await _snapshot(sql, ids, [tag], category) == first


@pytest.mark.integrated
async def test_counts_stay_exact_under_concurrent_writes_dispatchers_and_redelivery(
    sql, committing_uow, make_unique
):
    tag, category = make_unique("tag").replace("-", "_"), make_unique("cat")
    service = NotesService(committing_uow)
    bus = build_bus(committing_uow)
    dispatchers = [Dispatcher(committing_uow, bus, batch_size=5) for _ in range(3)]

    async def write(i):
        note = await service.create(OWNER, contents=f"#{tag} number {i}", category=category)
        if i % 4 == 0:
            await service.delete(OWNER, note.id)

    async def dispatch_while_writing():
        for _ in range(20):
            await asyncio.gather(*(d.dispatch_pending() for d in dispatchers))
            await asyncio.sleep(0)

    await asyncio.gather(*(write(i) for i in range(20)), dispatch_while_writing())
    await asyncio.gather(*(d.dispatch_pending() for d in dispatchers))
    async with committing_uow() as uow:
        mine = [e for e in await uow.events.after(0, limit=100_000) if e.category == category]
    await asyncio.gather(*(bus.publish(event) for event in mine))  # every event once more
    await bus.publish_batch(mine)  # and all of them again, as one batch

    _, _, counts = await _snapshot(sql, [], [tag], category)
    assert counts == [("category", category, 15), ("tag", tag, 15)]
