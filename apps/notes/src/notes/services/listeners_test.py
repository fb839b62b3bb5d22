# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The listeners on the in-memory fakes: tags and counts follow the notes, once per event."""

import logging
import re
from pathlib import Path

import pytest
from testkit import OWNER

from notes.entities import NoteCreated, NoteDeleted, NoteFilter, NoteUpdated
from notes.services.dispatch import Dispatcher, EventsFailedError
from notes.services.listeners import (
    GRAPH_END,
    GRAPH_START,
    build_bus,
    graph_block,
    once,
    tag_note,
)
from notes.services.notes import NotesService

# The workspace's README: the nearest folder above holding uv.lock (found by walking up, so
# the test also holds in copies of the tree, such as mutation testing's).
ROOT = next(p for p in Path(__file__).resolve().parents if (p / "uv.lock").exists())
EVENTS_PAGE = ROOT / "docs" / "events.md"


@pytest.fixture
def service(memory_db):
    return NotesService(memory_db.unit_of_work)


@pytest.fixture
def bus(memory_db):
    return build_bus(memory_db.unit_of_work)


@pytest.fixture
def dispatch(memory_db, bus):
    return Dispatcher(memory_db.unit_of_work, bus).dispatch_pending


def state(memory_db):
    return (
        dict(memory_db.note_tags),
        dict(memory_db.tag_counts),
        dict(memory_db.category_counts),
        set(memory_db.processed),
    )


async def events(memory_db):
    async with memory_db.unit_of_work() as uow:
        return await uow.events.after(0, limit=1000)


async def test_tags_and_counts_follow_created_notes(service, dispatch, memory_db):
    first = await service.create(OWNER, contents="#Trip to #Rome", category="travel")
    await service.create(OWNER, contents="#trip budget", category="travel")
    await service.create(OWNER, contents="no tags", category="")

    assert await dispatch() == 3

    assert memory_db.note_tags[first.id] == {"trip", "rome"}
    assert memory_db.tag_counts_of(OWNER) == {"trip": 2, "rome": 1}
    assert memory_db.category_counts_of(OWNER) == {"travel": 2}
    assert [n.id for n in (await service.list(OWNER, where=NoteFilter(tag="rome"))).notes] == [
        first.id
    ]


async def test_an_edit_re_extracts_tags_and_moves_counts(service, dispatch, memory_db):
    note = await service.create(OWNER, contents="#a #b", category="old")
    await service.create(OWNER, contents="#b", category="old")
    await dispatch()

    await service.update(OWNER, note.id, contents="#b #c", category="new")
    await dispatch()

    assert memory_db.note_tags[note.id] == {"b", "c"}
    assert memory_db.tag_counts_of(OWNER) == {"b": 2, "c": 1}
    assert memory_db.category_counts_of(OWNER) == {"old": 1, "new": 1}


async def test_a_deleted_note_loses_its_tags_and_leaves_the_counts(service, dispatch, memory_db):
    note = await service.create(OWNER, contents="#gone #stays", category="c")
    await service.create(OWNER, contents="#stays", category="c")
    await dispatch()

    await service.delete(OWNER, note.id)
    await dispatch()

    assert note.id not in memory_db.note_tags
    assert memory_db.tag_counts_of(OWNER) == {"stays": 1}
    assert memory_db.category_counts_of(OWNER) == {"c": 1}


async def test_every_listener_records_each_event_it_handled(service, dispatch, memory_db):
    await service.create(OWNER, contents="#x", category="c")
    await dispatch()
    [event] = await events(memory_db)
    async with memory_db.unit_of_work() as uow:
        assert await uow.events.processed_by(event.id) == {
            "tag_note",
            "count_tags",
            "count_categories",
        }
        assert await uow.events.claim_pending(10) == []


async def test_redelivered_events_change_nothing(service, dispatch, bus, memory_db):
    note = await service.create(OWNER, contents="#a #b", category="c")
    await service.update(OWNER, note.id, contents="#b", category="d")
    await service.create(OWNER, contents="#a", category="c")
    await dispatch()
    before = state(memory_db)

    for event in await events(memory_db):
        assert (await bus.publish(event)).ok

    assert state(memory_db) == before


async def test_a_listener_commits_nothing_for_an_event_it_already_handled(memory_db, service):
    await service.create(OWNER, contents="#x")
    [event] = await events(memory_db)
    deliveries = []

    async def not_idempotent(uow, events):
        deliveries.append([e.id for e in events])
        await uow.note_tags.set_note_tags(
            {e.note_id: {f"delivery-{len(deliveries)}"} for e in events}
        )

    handler = once("not_idempotent", not_idempotent, memory_db.unit_of_work)
    await handler([event])
    await handler([event])

    assert deliveries == [[event.id]]
    assert memory_db.note_tags[event.note_id] == {"delivery-1"}


async def test_a_batch_handles_only_its_events_not_handled_before(memory_db, service, caplog):
    for i in range(3):
        await service.create(OWNER, contents=f"#n{i}")
    first, *rest = await events(memory_db)
    handled = []

    async def record(uow, events):
        handled.append([e.id for e in events])

    handler = once("record", record, memory_db.unit_of_work)
    await handler([first])
    await handler([first, *rest])
    caplog.set_level(logging.DEBUG, logger="notes.services.listeners")
    await handler([*rest, first])

    assert handled == [[first.id], [e.id for e in rest]]
    assert [r.getMessage() for r in caplog.records] == [
        f"record already handled events {[e.id for e in [*rest, first]]}"
    ]


async def test_a_failed_effect_keeps_no_record_so_the_events_are_handled_again(memory_db, service):
    await service.create(OWNER, contents="#x")
    [event] = await events(memory_db)
    attempts = []

    async def fails_once(uow, events):
        attempts.append(len(events))
        await uow.note_tags.set_note_tags({e.note_id: {"half-done"} for e in events})
        if len(attempts) == 1:
            raise RuntimeError("effect failed")

    handler = once("fails_once", fails_once, memory_db.unit_of_work)
    with pytest.raises(EventsFailedError) as failed:
        await handler([event])
    assert list(failed.value.failures) == [event.id]
    assert isinstance(failed.value.failures[event.id], RuntimeError)
    assert memory_db.note_tags == {}
    await handler([event])

    assert attempts == [1, 1]
    assert (event.id, "fails_once") in memory_db.processed


async def test_a_failed_batch_is_split_in_savepoints_so_only_the_bad_events_are_left_out(
    memory_db, service
):
    for i in range(6):
        await service.create(OWNER, contents=f"#t{i}")
    batch = await events(memory_db)
    bad = {batch[1].id, batch[4].id}
    commits = memory_db.commits

    async def tag_unless_bad(uow, events):
        await uow.note_tags.set_note_tags({e.note_id: {"seen"} for e in events})
        if any(e.id in bad for e in events):
            raise RuntimeError("bad event")

    handler = once("picky", tag_unless_bad, memory_db.unit_of_work)
    with pytest.raises(EventsFailedError) as failed:
        await handler(batch)

    assert failed.value.failures.keys() == bad
    assert memory_db.commits - commits == 1  # the first try rolled back; the split, one commit
    done = {e.id for e in batch} - bad
    assert {i for i, name in memory_db.processed if name == "picky"} == done
    assert set(memory_db.note_tags) == {e.note_id for e in batch if e.id in done}
    with pytest.raises(EventsFailedError) as again:  # the good ones are recorded: skipped
        await handler(batch)
    assert again.value.failures.keys() == bad


async def test_where_both_halves_fail_each_event_is_tried_alone_and_else_halving_goes_on(
    memory_db, service
):
    for i in range(16):
        await service.create(OWNER, contents=f"#t{i}")
    batch = await events(memory_db)
    ids = [e.id for e in batch]
    shares: list[list[int]] = []

    def picky(bad):
        async def effect(uow, events):
            shares.append([e.id for e in events])
            if any(e.id in bad for e in events):
                raise RuntimeError("bad event")

        return effect

    dense = set(ids[:8]) | {ids[9]}  # both halves of the batch fail
    with pytest.raises(EventsFailedError) as failed:
        await once("dense", picky(dense), memory_db.unit_of_work)(batch)
    assert failed.value.failures.keys() == dense
    assert shares == [ids, ids[:8], ids[8:], *([i] for i in ids)]  # 19 tries; halving: 25

    shares.clear()
    sparse = {ids[3]}  # one half fails: it is halved, down to the event
    with pytest.raises(EventsFailedError) as failed:
        await once("sparse", picky(sparse), memory_db.unit_of_work)(batch)
    assert failed.value.failures.keys() == sparse
    assert shares == [
        ids,
        ids[:8],
        ids[8:],
        ids[:4],
        ids[4:8],
        ids[:2],
        ids[2:4],
        ids[2:3],
        ids[3:4],
    ]


async def test_a_failure_that_does_not_recur_when_split_leaves_the_batch_handled(
    memory_db, service
):
    for i in range(4):
        await service.create(OWNER, contents=f"#t{i}")
    batch = await events(memory_db)
    calls = []

    async def fails_first_time(uow, events):
        calls.append(len(events))
        if len(calls) == 1:
            raise RuntimeError("a deadlock, say")

    await once("flaky", fails_first_time, memory_db.unit_of_work)(batch)

    assert calls == [4, 2, 2]
    assert {i for i, name in memory_db.processed if name == "flaky"} == {e.id for e in batch}


async def test_a_batch_costs_one_commit_per_listener_whatever_its_size(service, bus, memory_db):
    for i in range(10):
        note = await service.create(OWNER, contents=f"#t{i % 3} #all", category=f"c{i % 2}")
        if i % 5 == 0:
            await service.update(OWNER, note.id, contents="#edited", category="c9")
    batch = await events(memory_db)
    commits = memory_db.commits

    assert (await bus.publish_batch(batch)).ok

    assert memory_db.commits - commits == 3
    assert memory_db.tag_counts_of(OWNER) == {"all": 8, "edited": 2, "t0": 3, "t1": 3, "t2": 2}
    assert memory_db.category_counts_of(OWNER) == {"c0": 4, "c1": 4, "c9": 2}
    assert (await bus.publish_batch(batch)).ok
    assert memory_db.commits - commits == 3  # all handled: nothing to commit


async def test_a_notes_whole_history_in_one_batch_ends_as_the_note_is(service, bus, memory_db):
    kept = await service.create(OWNER, contents="#a", category="one")
    await service.update(OWNER, kept.id, contents="#b", category="two")
    gone = await service.create(OWNER, contents="#a #b", category="one")
    await service.update(OWNER, gone.id, contents="#c", category="three")
    await service.delete(OWNER, gone.id)

    assert (await bus.publish_batch(list(reversed(await events(memory_db))))).ok

    assert memory_db.note_tags == {kept.id: {"b"}}
    assert memory_db.tag_counts_of(OWNER) == {"b": 1}
    assert memory_db.category_counts_of(OWNER) == {"two": 1}


async def test_events_handled_late_and_out_of_order_converge(service, bus, memory_db):
    note = await service.create(OWNER, contents="#a", category="one")
    await service.update(OWNER, note.id, contents="#b", category="two")
    await service.update(OWNER, note.id, contents="#c", category="three")
    other = await service.create(OWNER, contents="#a", category="one")

    for event in reversed(await events(memory_db)):
        assert (await bus.publish(event)).ok

    assert memory_db.note_tags == {note.id: {"c"}, other.id: {"a"}}
    assert memory_db.tag_counts_of(OWNER) == {"a": 1, "c": 1}
    assert memory_db.category_counts_of(OWNER) == {"one": 1, "three": 1}


async def test_an_event_without_an_id_is_refused(memory_db, bus, note_factory):
    from datetime import UTC, datetime  # noqa: PLC0415

    event = NoteCreated.of(note_factory.build(), at=datetime(2026, 1, 1, tzinfo=UTC))
    result = await bus.publish(event)
    assert isinstance(result.failed["tag_note"], ValueError)
    assert str(result.failed["tag_note"]) == (
        f"tag_note handles recorded events only; {event!r} has no id"
    )
    assert result.skipped == ("count_tags",)


async def test_tag_note_reads_the_notes_under_their_row_locks(memory_db, service):
    await service.create(OWNER, contents="#x")
    await service.create(OWNER, contents="#y")
    batch = await events(memory_db)
    asked = []
    async with memory_db.unit_of_work() as uow:
        for name in ("get_many", "get_many_for_update"):
            read = getattr(uow.notes, name)

            async def recording(note_ids, *, name=name, read=read):
                asked.append((name, sorted(note_ids)))
                return await read(note_ids)

            setattr(uow.notes, name, recording)
        await tag_note(uow, batch)
    assert asked == [("get_many_for_update", sorted(e.note_id for e in batch))]


@pytest.mark.parametrize("event_type", [NoteCreated, NoteUpdated, NoteDeleted])
def test_tags_are_counted_after_they_are_extracted(bus, event_type):
    assert bus.layers(event_type) == (
        ("count_categories", "enqueue_deliveries", "tag_note"),
        ("count_tags",),
    )


def test_the_events_page_shows_the_listener_graph_the_code_builds(bus):
    text = EVENTS_PAGE.read_text()
    blocks = re.findall(
        re.escape(GRAPH_START) + r".*?" + re.escape(GRAPH_END), text, flags=re.DOTALL
    )
    assert blocks == [graph_block(bus)], "docs/events.md's graph is stale: run make events_graph"
