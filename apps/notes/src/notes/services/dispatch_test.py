# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Dispatching: on the in-memory fakes, then against PostgreSQL."""

import asyncio
import logging
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from eventing import EventBus
from testkit import OWNER

from notes.core.ids import uuid7
from notes.entities import Note, NoteCreated, NoteEvent
from notes.services.dead_letters import DeadLetters
from notes.services.dispatch import (
    TRACE_FRAMES,
    BatchReport,
    Dispatcher,
    EventPruner,
    EventWorker,
    RetryPolicy,
    describe,
)
from notes.services.listeners import NOTE_EVENTS, build_bus, once
from notes.services.notes import NotesService, RecordedResponse


async def pending(memory_db):
    """The ids of the events not dispatched yet (waiting for a retry or not)."""
    return sorted(i for i in memory_db.events if i not in memory_db.dispatched)


class ManualClock:
    """A clock that stands still until a test moves it."""

    def __init__(self):
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += timedelta(seconds=seconds)


def no_jitter():
    return 0.0


async def until(condition, seconds=10.0):
    """Poll ``condition`` (a coroutine function) until it is true; fail after ``seconds``."""
    async with asyncio.timeout(seconds):
        while not await condition():  # noqa: ASYNC110 - a bounded poll of outside state
            await asyncio.sleep(0.01)


def test_retry_delays_double_from_the_base_up_to_the_cap_less_up_to_half_at_random():
    policy = RetryPolicy(max_attempts=10, base=1.0, cap=60.0, random=no_jitter)
    assert [policy.delay(n).total_seconds() for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert policy.delay(10_000).total_seconds() == 60
    jittered = RetryPolicy(base=4.0, cap=60.0, random=lambda: 1.0)
    assert jittered.delay(1).total_seconds() == 2.0


async def test_an_event_a_listener_failed_on_waits_for_its_retry_then_is_dispatched(memory_db):
    attempts = []

    async def flaky(event):
        attempts.append(event.id)
        if len(attempts) <= 2:
            raise RuntimeError("fails twice")

    bus: EventBus[NoteEvent] = EventBus()
    bus.subscribe("flaky", flaky, events=(NoteEvent,))
    clock = ManualClock()
    policy = RetryPolicy(base=10.0, random=no_jitter)
    dispatcher = Dispatcher(memory_db.unit_of_work, bus, policy=policy, clock=clock)
    await NotesService(memory_db.unit_of_work).create(OWNER, contents="x")

    assert await dispatcher.dispatch_pending() == 0
    assert len(await pending(memory_db)) == 1
    assert await dispatcher.dispatch_pending() == 0  # not due yet: not even tried
    assert len(attempts) == 1
    clock.advance(10)
    assert await dispatcher.dispatch_pending() == 0
    assert len(attempts) == 2
    clock.advance(19)
    assert await dispatcher.dispatch_pending() == 0  # the second delay is 20 s
    clock.advance(1)
    assert await dispatcher.dispatch_pending() == 1
    assert await pending(memory_db) == []
    assert len(attempts) == 3


async def test_a_listener_naming_its_bad_event_holds_back_only_that_one(memory_db, caplog):
    service = NotesService(memory_db.unit_of_work)
    bad = await service.create(OWNER, contents="#bad")
    for i in range(3):
        await service.create(OWNER, contents=f"#good{i}")
    shares = []

    async def refuses_bad(uow, events):
        shares.append(len(events))
        if any(e.note_id == bad.id for e in events):
            raise RuntimeError("cannot handle this note")

    after: list[int] = []

    async def downstream(events):
        after.extend(e.id for e in events)

    bus: EventBus[NoteEvent] = EventBus()
    handler = once("refuses_bad", refuses_bad, memory_db.unit_of_work)
    bus.subscribe_batch("refuses_bad", handler, events=(NoteEvent,))
    bus.subscribe_batch("downstream", downstream, after=("refuses_bad",))

    assert await Dispatcher(memory_db.unit_of_work, bus).dispatch_pending() == 3

    [still_pending] = await pending(memory_db)
    assert still_pending not in after
    assert len(after) == 3
    # The batch, then its halves in savepoints: [bad, good0] fails and [good1, good2]
    # succeeds; then the failed half's halves: [bad] fails and [good0] succeeds.
    assert shares == [4, 2, 2, 1, 1]
    warnings = [r.getMessage() for r in caplog.records if r.name == "notes.services.dispatch"]
    assert warnings == [
        (
            f"event {still_pending} (NoteCreated) failed in refuses_bad (attempt 1 of 10), "
            "retried later: RuntimeError: cannot handle this note"
        )
    ]
    async with memory_db.unit_of_work() as uow:
        assert await uow.events.processed_by(still_pending) == frozenset()


async def test_a_plain_listener_raising_for_some_events_holds_back_those_in_one_round(memory_db):
    service = NotesService(memory_db.unit_of_work)
    notes = [await service.create(OWNER, contents=f"#n{i}") for i in range(6)]
    bad = {notes[1].id, notes[4].id}
    plain_calls: list[int] = []
    shares: list[int] = []

    async def refuses_bad(event):
        plain_calls.append(event.id)
        if event.note_id in bad:
            raise RuntimeError("cannot handle this note")

    async def beside(uow, events):
        shares.append(len(events))

    bus: EventBus[NoteEvent] = EventBus()
    bus.subscribe("refuses_bad", refuses_bad, events=(NoteEvent,))
    bus.subscribe_batch(
        "beside", once("beside", beside, memory_db.unit_of_work), events=NOTE_EVENTS
    )

    report = await Dispatcher(memory_db.unit_of_work, bus).dispatch_batch()

    assert (report.claimed, report.dispatched, report.failed) == (6, 4, 2)
    # One round: each event once through the plain listener, the batch once through the other.
    assert len(plain_calls) == 6
    assert shares == [6]
    held = await pending(memory_db)
    assert sorted(memory_db.events[i].note_id for i in held) == sorted(bad)


async def test_the_listeners_after_a_partly_failed_plain_one_get_the_rest_in_a_second_round(
    memory_db,
):
    service = NotesService(memory_db.unit_of_work)
    notes = [await service.create(OWNER, contents=f"#n{i}") for i in range(5)]
    bad = notes[2].id
    after: list[tuple[int, ...]] = []

    async def refuses_bad(event):
        if event.note_id == bad:
            raise RuntimeError("no")

    async def downstream(events):
        after.append(tuple(e.id for e in events))

    bus: EventBus[NoteEvent] = EventBus()
    bus.subscribe("refuses_bad", refuses_bad, events=(NoteEvent,))
    bus.subscribe_batch("downstream", downstream, after=("refuses_bad",))

    report = await Dispatcher(memory_db.unit_of_work, bus).dispatch_batch()

    assert (report.dispatched, report.failed) == (4, 1)
    [held] = await pending(memory_db)
    assert memory_db.events[held].note_id == bad
    assert after == [tuple(sorted(set(memory_db.events) - {held}))]


async def test_a_listener_failing_without_naming_events_is_narrowed_down_by_halves(memory_db):
    service = NotesService(memory_db.unit_of_work)
    notes = [await service.create(OWNER, contents=f"#n{i}") for i in range(8)]
    bad = {notes[2].id, notes[5].id}
    tried: list[int] = []

    async def refuses_bad(events):
        tried.append(len(events))
        if any(e.note_id in bad for e in events):
            raise RuntimeError("no")

    bus: EventBus[NoteEvent] = EventBus()
    bus.subscribe_batch("refuses_bad", refuses_bad, events=(NoteEvent,))

    report = await Dispatcher(memory_db.unit_of_work, bus).dispatch_batch()

    assert (report.claimed, report.dispatched, report.failed) == (8, 6, 2)
    assert tried == [8, 4, 2, 2, 1, 1, 4, 2, 1, 1, 2]
    assert len(await pending(memory_db)) == 2


async def test_a_listener_that_keeps_failing_parks_the_event_after_the_last_attempt(memory_db):
    async def never(events):
        raise RuntimeError("never works\n" + "x" * 10_000)

    bus: EventBus[NoteEvent] = EventBus()
    bus.subscribe_batch("never", never, events=(NoteEvent,))
    clock = ManualClock()
    policy = RetryPolicy(max_attempts=3, base=1.0, random=no_jitter)
    dispatcher = Dispatcher(memory_db.unit_of_work, bus, policy=policy, clock=clock)
    note = await NotesService(memory_db.unit_of_work).create(OWNER, contents="x")

    reports = []
    for _ in range(3):
        reports.append(await dispatcher.dispatch_batch())
        clock.advance(3600)

    assert [(r.failed, r.parked) for r in reports] == [(1, 0), (1, 0), (0, 1)]
    assert await pending(memory_db) == []  # parked: settled, never claimed again
    assert (await dispatcher.dispatch_batch()).claimed == 0
    [parked] = await DeadLetters(memory_db.unit_of_work).list()
    assert (parked.listener, parked.note_id, parked.attempts) == ("never", note.id, 3)
    assert parked.last_error.startswith("RuntimeError: never works\n")
    assert len(parked.last_error) <= 2000


async def test_a_requeued_event_is_tried_again_with_fresh_attempts(memory_db):
    broken = True

    async def fixed_later(events):
        if broken:
            raise RuntimeError("not yet")

    bus: EventBus[NoteEvent] = EventBus()
    bus.subscribe_batch("fixed_later", fixed_later, events=(NoteEvent,))
    policy = RetryPolicy(max_attempts=1)
    dispatcher = Dispatcher(memory_db.unit_of_work, bus, policy=policy)
    await NotesService(memory_db.unit_of_work).create(OWNER, contents="x")
    dead_letters = DeadLetters(memory_db.unit_of_work)

    assert (await dispatcher.dispatch_batch()).parked == 1
    assert await dead_letters.requeue([12345]) == 0
    broken = False
    assert await dead_letters.requeue(listener="another") == 0
    assert await dead_letters.requeue(listener="fixed_later") == 1
    assert await dispatcher.dispatch_pending() == 1
    assert await dead_letters.list() == []


async def test_an_event_this_release_cannot_read_is_parked_at_once_and_the_rest_go_on(
    memory_db, caplog
):
    unknown = memory_db.add_raw_event("NoteArchived", {"category": "x"})
    missing = memory_db.add_raw_event("NoteUpdated", {"category": "x", "tags": []})
    await NotesService(memory_db.unit_of_work).create(OWNER, contents="#fine")
    dispatcher = Dispatcher(memory_db.unit_of_work, build_bus(memory_db.unit_of_work))

    report = await dispatcher.dispatch_batch()

    assert (report.claimed, report.dispatched, report.parked) == (3, 1, 2)
    assert memory_db.tag_counts_of(OWNER) == {"fine": 1}
    parked = {p.event_id: p for p in await DeadLetters(memory_db.unit_of_work).list()}
    assert parked.keys() == {unknown, missing}
    assert parked[unknown].listener == "*"
    assert parked[unknown].last_error == "unknown event type 'NoteArchived'"
    assert parked[missing].last_error.startswith("malformed NoteUpdated event: ")
    messages = [r.getMessage() for r in caplog.records if r.name == "notes.services.dispatch"]
    assert messages == [
        f"event {unknown} parked at once: unknown event type 'NoteArchived'",
        f"event {missing} parked at once: {parked[missing].last_error}",
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


async def test_a_failed_event_does_not_end_the_pass(memory_db):
    service = NotesService(memory_db.unit_of_work)
    first = await service.create(OWNER, contents="x")
    second = await service.create(OWNER, contents="y")
    tried: list[uuid.UUID] = []

    async def refuses_first(events):
        tried.extend(e.note_id for e in events)
        if any(e.note_id == first.id for e in events):
            raise RuntimeError("no")

    bus: EventBus[NoteEvent] = EventBus()
    bus.subscribe_batch("refuses_first", refuses_first, events=(NoteEvent,))

    assert await Dispatcher(memory_db.unit_of_work, bus, batch_size=1).dispatch_pending() == 1
    assert tried == [first.id, second.id]


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

    async def fails_and_stops(events):
        tries.append([event.id for event in events])
        stop.set()
        raise RuntimeError("fails")

    bus: EventBus[NoteEvent] = EventBus()
    bus.subscribe_batch("fails", fails_and_stops, events=(NoteEvent,))
    service = NotesService(memory_db.unit_of_work)
    for _ in range(3):
        await service.create(OWNER, contents="x")

    assert await Dispatcher(memory_db.unit_of_work, bus).dispatch_pending(stop) == 0
    assert len(tries) == 1  # the batch's try; no half of it tried after the stop
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


@pytest.mark.integrated
async def test_500_poisoned_events_are_parked_and_5000_others_all_dispatched_in_full_batches(
    sql, committing_uow, caplog
):
    """500 events a listener always fails on, among 5,000 it handles: every other event is
    dispatched, each poisoned one parked after exactly max_attempts tries, the number of
    claims and listener transactions bounded, and one short log line per failure."""
    owner, _, poisoned = await _poisoned_backlog(sql, committing_uow)

    async def picky(uow, events):
        if any(e.note_id in poisoned for e in events):
            raise RuntimeError("poisoned\n" + "detail " * 500)

    counted = _CountedUnits(committing_uow)
    bus = build_bus(counted)
    bus.subscribe_batch("picky", once("picky", picky, counted), events=NOTE_EVENTS)
    clock = ManualClock()
    attempts = 3
    policy = RetryPolicy(max_attempts=attempts, base=1.0, cap=4.0)
    dispatcher = Dispatcher(counted, bus, batch_size=100, policy=policy, clock=clock)
    caplog.set_level(logging.INFO)

    first_pass = await dispatcher.dispatch_pending()
    first_units = counted.units
    passes = 1
    while await _undispatched(sql, owner) and passes < attempts + 2:
        clock.advance(3600)
        await dispatcher.dispatch_pending()
        passes += 1

    assert first_pass >= 5000  # every normal event in the first pass (and leftovers of others)
    assert await _undispatched(sql, owner) == 0
    async with committing_uow() as uow:
        parked = await uow.events.parked(limit=10_000, listener="picky")
    mine = [p for p in parked if p.note_id in poisoned]
    assert len(mine) == 500
    assert {p.attempts for p in mine} == {attempts}
    assert passes == attempts
    # The first pass: 56 claims (55 full batches and an empty one), 5 listener units of work
    # per batch (the delivery listener's check of subscriptions among them), a second unit of
    # work for the batches where picky failed, and a second publish for the listeners after
    # it: about 12 units of work a batch, never one per event.
    assert first_units <= 56 + 55 * 12
    dispatch_lines = [r for r in caplog.records if r.name == "notes.services.dispatch"]
    assert len(dispatch_lines) == 500 * attempts
    assert all(r.exc_info is None and len(r.getMessage()) < 400 for r in caplog.records)
    assert all(r.levelno < logging.ERROR or r.name == "eventing" for r in caplog.records)


@pytest.mark.integrated
async def test_500_events_a_plain_listener_raises_for_cost_the_5000_others_no_extra_round(
    sql, committing_uow
):
    """A plain listener raising in Python for 500 events among 5,500: the bus names them, so
    every batch is one claim and one unit of work per listener, as with no failure at all,
    and the 5,000 others are dispatched in the first pass."""
    owner, notes, poisoned = await _poisoned_backlog(sql, committing_uow)

    async def picky(event):
        if event.note_id in poisoned:
            raise RuntimeError("poisoned")

    counted = _CountedUnits(committing_uow)
    bus = build_bus(counted)
    bus.subscribe("picky", picky, events=NOTE_EVENTS)
    clock = ManualClock()
    policy = RetryPolicy(max_attempts=3, base=1.0, cap=4.0)
    dispatcher = Dispatcher(counted, bus, batch_size=100, policy=policy, clock=clock)

    assert await dispatcher.dispatch_pending() >= 5000  # (and leftovers of other tests)
    # 56 claims (55 full batches and an empty one) and 4 listener units of work a batch
    # (the delivery listener's check of subscriptions among them): no second round, which
    # would be 4 more a batch.
    assert counted.units <= 56 + 55 * 4 + 10
    assert await _undispatched(sql, owner) == 500
    for _ in range(3):
        clock.advance(3600)
        await dispatcher.dispatch_pending()
    assert await _undispatched(sql, owner) == 0
    async with committing_uow() as uow:
        parked = await uow.events.parked(limit=10_000, listener="picky")
    assert {p.note_id for p in parked if p.note_id in poisoned} == poisoned
    async with committing_uow() as uow:
        assert await uow.note_tags.note_tags(notes[1].id) == frozenset({"t1"})


async def _poisoned_backlog(sql, committing_uow, *, total=5500, poison_every=11):
    """A new owner's ``total`` notes and their events, one in ``poison_every`` tagged
    ``#poison`` (500 of 5,500); the owner, the notes and the poisoned notes' ids."""
    owner = await _new_owner(sql)
    notes = [
        _note(owner, f"note {i} #{'poison' if i % poison_every == 0 else f't{i % 7}'}", i)
        for i in range(total)
    ]
    async with committing_uow() as uow:
        await uow.notes.add_all(notes)
        await uow.events.add_all([NoteCreated.of(n, at=n.creation_date) for n in notes])
        await uow.commit()
    return owner, notes, {n.id for i, n in enumerate(notes) if i % poison_every == 0}


class _CountedUnits:
    """Units of work of ``factory``, counted as they are made."""

    def __init__(self, factory):
        self._factory = factory
        self.units = 0

    def __call__(self):
        self.units += 1
        return self._factory()


async def _new_owner(sql):
    owner = uuid7()
    await sql.execute(
        "INSERT INTO users (id, email, email_key, password_hash, created_at)"
        " VALUES (:id, :email, :email, NULL, now())",
        id=owner,
        email=f"{owner}@example.com",
    )
    return owner


def _note(owner, contents, i):
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(milliseconds=i)
    return Note(
        id=uuid7(),
        owner_id=owner,
        contents=contents,
        category="",
        creation_date=at,
        updated_at=at,
        version=1,
        deleted_at=None,
    )


async def _undispatched(sql, owner):
    return await sql.scalar(
        "SELECT count(*) FROM events WHERE owner_id = :o AND dispatched_at IS NULL", o=owner
    )


async def test_the_pruner_deletes_old_dispatched_events_in_bounded_batches_and_keeps_parked_ones(
    memory_db,
):
    service = NotesService(memory_db.unit_of_work)
    for i in range(7):
        await service.create(OWNER, contents=f"#t{i}")
    await Dispatcher(memory_db.unit_of_work, build_bus(memory_db.unit_of_work)).dispatch_pending()
    parked_id = memory_db.add_raw_event("NoteArchived", {})
    await Dispatcher(memory_db.unit_of_work, build_bus(memory_db.unit_of_work)).dispatch_pending()
    fresh = await service.create(OWNER, contents="#fresh")
    clock = ManualClock()
    clock.now = datetime.now(UTC) + timedelta(hours=2)
    pruner = EventPruner(
        memory_db.unit_of_work,
        retention=timedelta(hours=1),
        parked_retention=timedelta(hours=3),
        batch_size=3,
        max_batches=2,
        clock=clock,
    )

    assert await pruner.prune() == 6  # two batches of three, then it stops for this call
    assert await pruner.prune() == 1
    assert await pruner.prune() == 0
    assert sorted(memory_db.events) == [parked_id, parked_id + 1]  # parked, and not dispatched
    assert {event_id for event_id, _ in memory_db.processed} == set()
    assert fresh.id == memory_db.events[parked_id + 1].note_id
    clock.advance(2 * 3600)  # the parking is now older than its retention
    assert await pruner.prune() == 1
    assert list(memory_db.failures) == []


@pytest.mark.integrated
async def test_a_batch_of_100_notes_with_50_tags_each_leaves_other_requests_working(
    sql, committing_uow
):
    """The worst case the caps allow, 5,000 distinct tags in one batch, dispatched while
    other requests take locks of their own: every request succeeds, every count is exact,
    and the recount held at most LOCK_STRIPES advisory locks."""
    owner = await _new_owner(sql)
    service = NotesService(committing_uow)
    notes = [
        await service.create(owner, contents=" ".join(f"#n{i}x{j}" for j in range(50)))
        for i in range(100)
    ]
    dispatcher = Dispatcher(committing_uow, build_bus(committing_uow), batch_size=100)
    peak = 0

    async def watch_locks():
        nonlocal peak
        for _ in range(200):
            held = await sql.scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
            peak = max(peak, held)
            await asyncio.sleep(0.005)

    def respond(note):
        return RecordedResponse(201, {"id": str(note.id)})

    async def other_requests():
        for i in range(40):
            await service.create_idempotent(owner, key=f"k{i}", contents="hi", respond=respond)
            await service.update(owner, notes[i].id, contents=f"edited #n{i}x0")

    await asyncio.gather(dispatcher.dispatch_pending(), other_requests(), watch_locks())
    await dispatcher.dispatch_pending()

    rows = await sql.fetch(
        "SELECT count(*), sum(count) FROM tag_counts WHERE owner_id = :o", o=owner
    )
    assert rows == [(40 + 60 * 50, 40 + 60 * 50)]
    assert peak <= 2 * 32 + 40  # two recount transactions' stripes, and the requests' own keys


async def test_the_worker_prunes_dispatched_events_as_it_goes(memory_db):
    service = NotesService(memory_db.unit_of_work)
    await service.create(OWNER, contents="#kept")
    pruner = EventPruner(
        memory_db.unit_of_work, retention=timedelta(0), parked_retention=timedelta(0)
    )
    dispatcher = Dispatcher(memory_db.unit_of_work, build_bus(memory_db.unit_of_work))
    events_worker = EventWorker(
        dispatcher, memory_db.listen, poll_interval=0.05, pruner=pruner, prune_interval=0.05
    )
    stop = asyncio.Event()
    task = asyncio.create_task(events_worker.run(stop))
    try:
        await until(lambda: _has_tag(memory_db, "kept"))
        await until(lambda: _no_events(memory_db))
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert memory_db.tag_counts_of(OWNER) == {"kept": 1}
    assert memory_db.processed == {}


async def test_a_prune_that_fails_is_logged_and_never_holds_up_dispatch(memory_db, caplog):
    class FailingPruner(EventPruner):
        calls = 0

        async def prune(self):
            self.calls += 1
            raise ConnectionError("canceling statement due to statement timeout")

    pruner = FailingPruner(
        memory_db.unit_of_work, retention=timedelta(0), parked_retention=timedelta(0)
    )
    dispatcher = Dispatcher(memory_db.unit_of_work, build_bus(memory_db.unit_of_work))
    events_worker = EventWorker(
        dispatcher, memory_db.listen, poll_interval=0.05, pruner=pruner, prune_interval=0.01
    )
    stop = asyncio.Event()
    task = asyncio.create_task(events_worker.run(stop))
    try:
        await until(lambda: _true(pruner.calls >= 3))  # it keeps trying
        await NotesService(memory_db.unit_of_work).create(OWNER, contents="#still")
        await until(lambda: _has_tag(memory_db, "still"))  # and dispatch goes on meanwhile
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert "pruning old events failed (ConnectionError: canceling statement" in caplog.text
    assert "lost the database" not in caplog.text  # the worker never reconnected for it


async def _true(value):
    return value


async def _no_events(memory_db):
    return not memory_db.events


def test_a_failure_is_described_by_its_message_and_its_innermost_frames_only():
    def deep(n):
        if n == 0:
            raise RuntimeError("the innermost failure")
        deep(n - 1)

    try:
        deep(50)
    except RuntimeError as error:
        text = describe(error)
    assert text.startswith("RuntimeError: the innermost failure\nTraceback")
    # The last frames, not the 51 of them: 3 shown of the repeated call, 4 more counted, and
    # the raise (Python folds a line repeated more than 3 times).
    assert text.count("in deep") + 4 == TRACE_FRAMES
    assert "[Previous line repeated 4 more times]" in text
    assert 'raise RuntimeError("the innermost failure")' in text
    assert "test_a_failure_is_described" not in text  # the outermost frame is left out
