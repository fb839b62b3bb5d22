# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The live event feed on the fakes: the hub's reading of the log, and one client's stream."""

import asyncio
import uuid
import weakref
from contextlib import aclosing

import pytest
from testkit import OTHER_OWNER, OWNER

from notes.services.live_events import EventHub, FeedFilter, LiveEvents, Notice, parse_types
from notes.services.notes import NotesService

GUARD = 30  # seconds: only against a hang; no test relies on it running out


def make_hub(memory_db, event_feed, *, buffer_size=64):
    return EventHub(
        event_feed,
        memory_db.listen,
        buffer_size=buffer_size,
        poll_interval=3600,
        reconnect_interval=0.01,
    )


@pytest.fixture
def notes(memory_db):
    return NotesService(memory_db.unit_of_work)


@pytest.fixture
async def hub(memory_db, event_feed):
    hub = make_hub(memory_db, event_feed)
    await hub.catch_up()  # starts from the horizon: what is committed from now on
    yield hub
    await hub.close()


_pending: weakref.WeakKeyDictionary[object, list[object]] = weakref.WeakKeyDictionary()


async def next_of(stream):
    """The stream's next event or notice (a stream hands events on in lists)."""
    pending = _pending.setdefault(stream, [])
    if not pending:
        async with asyncio.timeout(GUARD):
            got = await anext(stream)
        assert got != []  # never an empty list
        pending.extend(got if isinstance(got, list) else [got])
    return pending.pop(0)


async def rest(stream):
    """The stream's events and notices to its end."""
    items = _pending.pop(stream, [])
    async with asyncio.timeout(GUARD):
        async for got in stream:
            items.extend(got if isinstance(got, list) else [got])
    return items


async def opened(stream):
    """Read the stream's first item, the notice that it is subscribed."""
    notice = await next_of(stream)
    assert isinstance(notice, Notice)
    assert notice.kind == "open"


def kinds(items):
    """The kind of each notice, None for an event."""
    return [getattr(item, "kind", None) for item in items]


def note_ids(items):
    """The note of each event, None for a notice."""
    return [getattr(getattr(item, "event", None), "note_id", None) for item in items]


async def test_the_hub_publishes_only_what_is_committed_after_its_first_read(
    memory_db, event_feed, notes
):
    await notes.create(OWNER, contents="before")
    hub = make_hub(memory_db, event_feed)
    assert await hub.catch_up() == 0
    async with hub.subscribe() as subscription:
        created = await notes.create(OWNER, contents="after")
        assert await hub.catch_up() == 1
        item = await next_of(subscription)
    assert item.event.note_id == created.id
    assert item.owner_id == OWNER
    assert hub.published == 1
    assert hub.position == item.position


async def test_the_hub_reads_in_batches_until_it_has_read_everything(memory_db, event_feed, notes):
    hub = EventHub(event_feed, memory_db.listen, buffer_size=64, batch_size=2)
    await hub.catch_up()
    reads = event_feed.reads
    async with hub.subscribe() as subscription:
        for n in range(5):
            await notes.create(OWNER, contents=f"n{n}")
        assert await hub.catch_up() == 5
        got = [await next_of(subscription) for _ in range(5)]
    assert [item.position for item in got] == sorted(item.position for item in got)
    assert event_feed.reads - reads == 3  # batches of 2, 2 and 1: fewer than 2, so the end


async def test_a_stream_without_last_event_id_gets_the_live_events_of_its_owner_only(
    hub, event_feed, notes
):
    live = LiveEvents(hub, event_feed)
    async with aclosing(live.stream(OWNER)) as stream:
        await opened(stream)
        await notes.create(OTHER_OWNER, contents="not yours")
        mine = await notes.create(OWNER, contents="yours")
        await hub.catch_up()
        item = await next_of(stream)
    assert item.event.note_id == mine.id


async def test_a_resumed_stream_replays_what_it_missed_then_goes_on_live_once_each(
    hub, event_feed, notes, memory_db
):
    live = LiveEvents(hub, event_feed)
    seen = await notes.create(OWNER, contents="seen")
    await hub.catch_up()
    last_seen = max(memory_db.events)  # the event the client saw
    missed = [await notes.create(OWNER, contents=f"missed {n}") for n in range(2)]
    resume = await live.resume_from(OWNER, str(last_seen))
    assert isinstance(resume, tuple)
    async with aclosing(live.stream(OWNER, resume=resume)) as stream:
        await opened(stream)
        got = [await next_of(stream)]  # subscribed, and the replay has begun
        # Committed while the replay runs: the hub publishes the missed events again, and one
        # more; the stream gives each once.
        during = await notes.create(OWNER, contents="during the switch")
        await hub.catch_up()
        got += [await next_of(stream), await next_of(stream)]
        after = await notes.create(OWNER, contents="after")
        await hub.catch_up()
        got.append(await next_of(stream))
    assert [item.event.note_id for item in got] == [
        *(note.id for note in missed),
        during.id,
        after.id,
    ]
    assert seen.id not in {item.event.note_id for item in got}
    assert [item.position for item in got] == sorted(item.position for item in got)


async def test_events_ready_at_once_come_in_one_list(hub, event_feed, notes):
    live = LiveEvents(hub, event_feed)
    async with aclosing(live.stream(OWNER)) as stream:
        await opened(stream)
        created = [await notes.create(OWNER, contents=f"n{n}") for n in range(3)]
        await hub.catch_up()  # all three reach the stream's buffer before it runs
        async with asyncio.timeout(GUARD):
            batch = await anext(stream)
    assert isinstance(batch, list)
    assert note_ids(batch) == [note.id for note in created]


async def test_a_silent_stream_sends_a_ping_and_a_filtered_out_one_too(hub, event_feed, notes):
    live = LiveEvents(hub, event_feed, keepalive=0.2)
    only_deletes = FeedFilter(types=frozenset({"note.deleted"}))
    clock = asyncio.get_running_loop().time
    async with aclosing(live.stream(OWNER, where=only_deletes)) as stream:
        await opened(stream)
        assert kinds([await next_of(stream)]) == ["ping"]  # nothing at all for 0.2 s
        created = await notes.create(OWNER, contents="not a delete")
        await hub.catch_up()
        started = clock()
        while clock() - started < 0.25:  # events the filter leaves out, for longer than 0.2 s
            await notes.update(OWNER, created.id, contents=f"edit {clock()}")
            await hub.catch_up()
            await asyncio.sleep(0.02)  # fewer than the buffer's 64 events in all
        # Those events were read and none sent for 0.2 s: a ping at once, not after 0.2 s more.
        async with asyncio.timeout(0.15):
            pinged = await next_of(stream)
        await notes.delete(OWNER, created.id)
        await hub.catch_up()
        deleted = await next_of(stream)
    assert kinds([pinged]) == ["ping"]
    assert deleted.event.type == "NoteDeleted"


async def test_a_last_event_id_the_log_does_not_hold_gets_a_resync_notice(
    hub, event_feed, notes, memory_db
):
    live = LiveEvents(hub, event_feed)
    await notes.create(OTHER_OWNER, contents="someone else's")
    others = max(memory_db.events)
    assert await live.resume_from(OWNER, None) is None
    for bogus in ("999999", str(others), "abc", "-1", "1e3", "9" * 30, "", "\u0661"):
        notice = await live.resume_from(OWNER, bogus)
        assert isinstance(notice, Notice), bogus
        assert notice.kind == "resync"
    assert isinstance(await live.resume_from(OTHER_OWNER, f" {others} "), tuple)


async def test_a_resync_notice_comes_first_then_the_live_events(hub, event_feed, notes):
    live = LiveEvents(hub, event_feed)
    resume = await live.resume_from(OWNER, "12345")
    async with aclosing(live.stream(OWNER, resume=resume)) as stream:
        await opened(stream)
        notice = await next_of(stream)
        created = await notes.create(OWNER, contents="fresh")
        await hub.catch_up()
        item = await next_of(stream)
    assert notice == resume
    assert item.event.note_id == created.id


async def test_a_pruned_event_cannot_be_resumed_from(hub, event_feed, notes, memory_db):
    live = LiveEvents(hub, event_feed)
    await notes.create(OWNER, contents="old")
    old = max(memory_db.events)
    assert isinstance(await live.resume_from(OWNER, str(old)), tuple)
    del memory_db.events[old]  # as the worker's pruning does
    assert isinstance(await live.resume_from(OWNER, str(old)), Notice)


async def test_filters_by_type_and_by_category_before_or_after_an_edit(hub, event_feed, notes):
    live = LiveEvents(hub, event_feed)
    wanted_types = FeedFilter(types=frozenset({"note.updated", "note.deleted"}))
    wanted_category = FeedFilter(category="work")
    async with (
        aclosing(live.stream(OWNER, where=wanted_types)) as by_type,
        aclosing(live.stream(OWNER, where=wanted_category)) as by_category,
    ):
        await opened(by_type)
        await opened(by_category)
        note = await notes.create(OWNER, contents="x", category="work")
        await notes.update(OWNER, note.id, category="home")  # leaves work
        other = await notes.create(OWNER, contents="y", category="home")
        await notes.delete(OWNER, other.id)
        await hub.catch_up()
        got_by_type = [await next_of(by_type), await next_of(by_type)]
        got_by_category = [await next_of(by_category), await next_of(by_category)]
    assert [i.event.type for i in got_by_type] == ["NoteUpdated", "NoteDeleted"]
    assert [i.event.type for i in got_by_category] == ["NoteCreated", "NoteUpdated"]
    assert {i.event.note_id for i in got_by_category} == {note.id}


async def test_a_client_that_falls_behind_gets_a_dropped_notice_and_its_stream_ends(
    memory_db, event_feed, notes
):
    hub = make_hub(memory_db, event_feed, buffer_size=2)
    await hub.catch_up()
    live = LiveEvents(hub, event_feed)
    async with aclosing(live.stream(OWNER)) as stream:
        await opened(stream)
        for n in range(3):
            await notes.create(OWNER, contents=f"n{n}")
        await hub.catch_up()  # 3 events: 2 fill the buffer, 1 overflows
        got = await rest(stream)
    assert isinstance(got[-1], Notice)
    assert got[-1].kind == "dropped"
    assert "2 events behind" in got[-1].reason
    assert len(got) == 1  # the buffered events were freed at the drop
    assert hub.subscriber_count == 0
    await hub.close()


async def test_closing_the_hub_ends_every_stream_with_a_closing_notice(hub, event_feed):
    live = LiveEvents(hub, event_feed)
    async with aclosing(live.stream(OWNER)) as one, aclosing(live.stream(OTHER_OWNER)) as two:
        await opened(one)
        await opened(two)
        assert hub.subscriber_count == 2
        hub.close_streams()
        notices = [await next_of(one), await next_of(two)]
        assert kinds(notices) == ["closing", "closing"]
        assert await rest(one) == []
    assert hub.closed
    async with aclosing(live.stream(OWNER)) as late:  # a stream opened afterwards ends at once
        assert kinds(await rest(late)) == ["open", "closing"]


async def test_a_stream_whose_replay_fails_ends_with_an_unavailable_notice(
    hub, event_feed, notes, memory_db
):
    live = LiveEvents(hub, event_feed)
    await notes.create(OWNER, contents="seen")
    resume = await live.resume_from(OWNER, str(max(memory_db.events)))
    event_feed.unreachable = True
    async with aclosing(live.stream(OWNER, resume=resume)) as stream:
        got = await rest(stream)
    assert kinds(got) == ["open", "unavailable"]
    assert hub.subscriber_count == 0


async def test_a_long_replay_is_read_in_batches(hub, event_feed, notes, memory_db, monkeypatch):
    import notes.services.live_events as module  # noqa: PLC0415 - its batch size, made small

    monkeypatch.setattr(module, "READ_BATCH", 2)
    live = LiveEvents(hub, event_feed)
    await notes.create(OWNER, contents="seen")
    resume = await live.resume_from(OWNER, str(max(memory_db.events)))
    missed = [await notes.create(OWNER, contents=f"m{n}") for n in range(5)]
    reads = event_feed.reads
    hub.close_streams()  # the live part ends at once
    async with aclosing(live.stream(OWNER, resume=resume)) as stream:
        got = await rest(stream)
    assert note_ids(got) == [None, *(n.id for n in missed), None]
    assert kinds(got)[-1] == "closing"
    assert event_feed.reads - reads == 3  # 2, 2, then 1: fewer than a batch, so the end


async def test_undecodable_events_are_skipped_and_read_past(hub, event_feed, memory_db, notes):
    live = LiveEvents(hub, event_feed)
    owner = uuid.UUID(int=0)  # the owner of add_raw_event's rows
    async with aclosing(live.stream(owner)) as stream:
        await opened(stream)
        memory_db.add_raw_event("NoteArchived", {"category": "x"})
        created = await notes.create(owner, contents="readable")
        await hub.catch_up()
        item = await next_of(stream)
    assert item.event.note_id == created.id
    assert await hub.catch_up() == 0


async def test_another_accounts_burst_never_fills_a_streams_buffer(memory_db, event_feed, notes):
    hub = make_hub(memory_db, event_feed, buffer_size=2)
    await hub.catch_up()
    live = LiveEvents(hub, event_feed)
    try:
        async with aclosing(live.stream(OWNER)) as stream:
            await opened(stream)
            for n in range(5):  # more than the buffer holds, all someone else's
                await notes.create(OTHER_OWNER, contents=f"theirs {n}")
            await hub.catch_up()
            mine = await notes.create(OWNER, contents="mine")
            await hub.catch_up()
            item = await next_of(stream)
            assert hub.subscriber_count == 1
    finally:
        await hub.close()
    assert item.event.note_id == mine.id


async def test_the_hub_wakes_on_notifications_and_reconnects_after_a_failure(
    memory_db, event_feed, notes
):
    memory_db.fail_connections = 1
    hub = make_hub(memory_db, event_feed)
    hub.start()
    hub.start()  # a second start changes nothing
    try:
        async with asyncio.timeout(GUARD):
            # Reconnected after the refused connection (polls the fake's state).
            while not memory_db.listeners:  # noqa: ASYNC110
                await asyncio.sleep(0.001)
        async with hub.subscribe() as subscription:
            created = await notes.create(OWNER, contents="notified")
            item = await next_of(subscription)  # the poll interval is an hour: woken by NOTIFY
    finally:
        await hub.close()
    assert item.event.note_id == created.id
    assert memory_db.connections == 2
    assert not memory_db.listeners  # the listening session was left


async def test_a_hub_that_cannot_read_keeps_trying_and_never_raises(memory_db, event_feed, notes):
    hub = make_hub(memory_db, event_feed)
    await hub.catch_up()
    event_feed.unreachable = True
    hub.start()
    try:
        async with asyncio.timeout(GUARD):
            while memory_db.connections < 3:  # noqa: ASYNC110 - polls the fake's state
                await asyncio.sleep(0.001)
        async with hub.subscribe() as subscription:
            event_feed.unreachable = False
            created = await notes.create(OWNER, contents="back")
            item = await next_of(subscription)
    finally:
        await hub.close()
    assert item.event.note_id == created.id


def test_types_are_parsed_from_repeated_or_comma_separated_values():
    assert parse_types(["note.created, note.deleted", "note.created"]) == {
        "note.created",
        "note.deleted",
    }
    assert parse_types([" ", ""]) == frozenset()
    with pytest.raises(ValueError, match=r"unknown event type 'note\.archived'"):
        parse_types(["note.created,note.archived"])
