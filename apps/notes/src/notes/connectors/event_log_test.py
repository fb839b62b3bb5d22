# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The event log's contract, against the in-memory fake and PostgreSQL; then announcing."""

from datetime import UTC, datetime, timedelta

import pytest

from notes.connectors.unit_of_work import SqlUnitOfWork
from notes.entities import FailureCount, ListenerFailure, NoteCreated, NoteDeleted

AT = datetime(2026, 5, 1, tzinfo=UTC)


async def _nothing_pending(uow):
    """Set aside events other tests left pending (undone when the test's transaction is)."""
    async with uow:
        await uow.events.mark_dispatched([e.id for e in await uow.events.claim_pending(100_000)])
        await uow.commit()


async def _record(uow, note_factory, cls=NoteCreated, count=1):
    async with uow:
        recorded = []
        for _ in range(count):
            note = note_factory.build()
            await uow.notes.add(note)
            recorded.append(await uow.events.add(cls.of(note, at=AT)))
        await uow.commit()
    return recorded


async def test_recorded_events_get_increasing_ids_and_read_back_equal(uow, note_factory):
    recorded = await _record(uow, note_factory, count=3)
    assert all(event.id is not None for event in recorded)
    assert [e.id for e in recorded] == sorted({e.id for e in recorded})
    async with uow:
        found = await uow.events.after(recorded[0].id - 1, limit=3)
    assert found == recorded


async def test_events_recorded_together_get_increasing_ids_in_order(uow, note_factory):
    notes = note_factory.build_batch(4)
    async with uow:
        await uow.notes.add_all(notes)
        recorded = await uow.events.add_all([NoteCreated.of(note, at=AT) for note in notes])
        assert await uow.events.add_all([]) == []
        await uow.commit()
    assert [e.note_id for e in recorded] == [n.id for n in notes]
    ids = [e.id for e in recorded]
    assert ids == sorted(set(ids))
    async with uow:
        assert await uow.events.after(ids[0] - 1, limit=4) == recorded


async def test_an_event_of_a_unit_of_work_that_did_not_commit_does_not_exist(uow, note_factory):
    [before] = await _record(uow, note_factory)
    note = note_factory.build()

    async def change_then_fail():
        async with uow:
            await uow.notes.add(note)
            await uow.events.add(NoteDeleted.of(note, at=AT))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await change_then_fail()
    async with uow:
        assert [e.note_id for e in await uow.events.after(before.id, limit=10)] == []


async def test_pending_events_are_claimed_oldest_first_until_dispatched(uow, note_factory):
    await _nothing_pending(uow)
    recorded = await _record(uow, note_factory, count=3)
    async with uow:
        assert await uow.events.claim_pending(2) == recorded[:2]
        await uow.events.mark_dispatched([recorded[0].id])
        await uow.commit()
    async with uow:
        assert await uow.events.claim_pending(10) == recorded[1:]


async def test_dispatch_marks_of_a_unit_of_work_that_did_not_commit_are_dropped(uow, note_factory):
    await _nothing_pending(uow)
    recorded = await _record(uow, note_factory)
    async with uow:
        await uow.events.mark_dispatched([recorded[0].id])
    async with uow:
        assert await uow.events.claim_pending(10) == recorded


async def test_a_listener_is_recorded_as_having_processed_an_event_once(uow, note_factory):
    first, second = await _record(uow, note_factory, count=2)
    async with uow:
        assert await uow.events.mark_processed([first.id], "a") == {first.id}
        assert await uow.events.mark_processed([first.id], "a") == set()
        await uow.commit()
    async with uow:
        both = [second.id, first.id, second.id]
        assert await uow.events.mark_processed(both, "a") == {second.id}
        assert await uow.events.mark_processed(both, "b") == {first.id, second.id}
        assert await uow.events.mark_processed([], "c") == set()
        assert await uow.events.processed_by(first.id) == {"a", "b"}
    async with uow:
        assert await uow.events.processed_by(first.id) == {"a"}
        assert await uow.events.processed_by(second.id) == set()


async def test_overlapping_units_of_work_never_claim_the_same_event(memory_db, note_factory):
    await _record(memory_db.unit_of_work(), note_factory, count=4)
    async with memory_db.unit_of_work() as first, memory_db.unit_of_work() as second:
        mine = await first.events.claim_pending(2)
        theirs = await second.events.claim_pending(10)
    assert len(mine) == 2
    assert len(theirs) == 2
    assert not {e.id for e in mine} & {e.id for e in theirs}
    async with memory_db.unit_of_work() as later:
        assert len(await later.events.claim_pending(10)) == 4


@pytest.mark.integrated
async def test_concurrent_claims_in_postgresql_skip_locked_events(committing_uow, note_factory):
    recorded = await _record(committing_uow(), note_factory, count=2)
    async with committing_uow() as first, committing_uow() as second:
        mine = {e.id for e in await first.events.claim_pending(100_000)}
        theirs = {e.id for e in await second.events.claim_pending(100_000)}
    assert {e.id for e in recorded} <= mine
    assert not mine & theirs


@pytest.mark.integrated
async def test_only_a_commit_that_recorded_events_is_announced_and_only_once(engine, note_factory):
    announced = []

    def uow():
        return SqlUnitOfWork(engine.connect, announce=lambda: announced.append("commit"))

    async with uow() as work:
        note = note_factory.build()
        await work.notes.add(note)
        await work.events.add(NoteCreated.of(note, at=AT))
    assert announced == []  # rolled back
    async with uow() as work:
        await work.notes.add(note_factory.build())
        await work.commit()
    assert announced == []  # committed, but recorded no event
    await _record(uow(), note_factory, count=3)
    assert announced == ["commit"]


async def test_failures_are_counted_per_listener_and_parked_at_the_last_attempt(uow, note_factory):
    await _nothing_pending(uow)
    first, second = await _record(uow, note_factory, count=2)
    failure = ListenerFailure(first.id, "a", "boom")
    async with uow:
        counts = await uow.events.record_failures(
            [failure, ListenerFailure(first.id, "b", "bang")], now=AT, max_attempts=2
        )
        assert counts == [
            FailureCount(first.id, "a", 1, parked=False),
            FailureCount(first.id, "b", 1, parked=False),
        ]
        later = AT + timedelta(minutes=1)
        again = ListenerFailure(first.id, "a", "boom again")
        assert await uow.events.record_failures([again], now=later, max_attempts=2) == [
            FailureCount(first.id, "a", 2, parked=True)
        ]
        assert await uow.events.record_failures([again], now=later, max_attempts=2) == [
            FailureCount(first.id, "a", 3, parked=True)
        ]
        [parked] = [p for p in await uow.events.parked(limit=100_000) if p.event_id == first.id]
        assert (parked.event_id, parked.listener, parked.type) == (first.id, "a", "NoteCreated")
        assert (parked.attempts, parked.last_error, parked.parked_at) == (3, "boom again", later)
        assert parked.note_id == first.note_id
        assert first.id not in {
            p.event_id for p in await uow.events.parked(limit=100_000, listener="b")
        }
        await uow.commit()
    assert second.id


async def test_an_event_waiting_for_its_retry_is_claimed_once_due_and_after_fresh_ones(
    uow, note_factory
):
    await _nothing_pending(uow)
    first, second, third = await _record(uow, note_factory, count=3)
    later = AT + timedelta(seconds=10)
    async with uow:
        await uow.events.retry_later({second.id: later})
        await uow.commit()
    async with uow:
        assert await uow.events.claim_pending(10, now=later) == [first, third]
        await uow.events.mark_dispatched([first.id, third.id])
        assert await uow.events.claim_pending(10, now=AT) == []
        assert await uow.events.claim_pending(10) == []
        assert await uow.events.claim_pending(10, now=later) == [second]


async def test_a_requeued_event_is_pending_again_with_its_failures_forgotten(uow, note_factory):
    await _nothing_pending(uow)
    [event] = await _record(uow, note_factory)
    async with uow:
        await uow.events.record_failures(
            [ListenerFailure(event.id, "a", "boom")], now=AT, max_attempts=1
        )
        await uow.events.mark_dispatched([event.id])
        await uow.commit()
    async with uow:
        assert await uow.events.claim_pending(10, now=AT) == []
        assert await uow.events.requeue([]) == 0
        assert await uow.events.requeue([event.id], listener="b") == 0
        assert await uow.events.requeue([event.id]) == 1
        await uow.commit()
    async with uow:
        assert await uow.events.claim_pending(10, now=AT) == [event]
        assert event.id not in {p.event_id for p in await uow.events.parked(limit=100_000)}
        assert await uow.events.requeue([event.id]) == 0


async def test_pruning_deletes_old_dispatched_events_with_their_records_and_keeps_parked_ones(
    uow, note_factory
):
    await _nothing_pending(uow)
    old, parked, pending = await _record(uow, note_factory, count=3)
    async with uow:
        await uow.events.mark_processed([old.id, parked.id], "a")
        await uow.events.record_failures(
            [ListenerFailure(parked.id, "b", "boom")], now=AT, max_attempts=1
        )
        await uow.events.mark_dispatched([old.id, parked.id])
        await uow.commit()
    future = datetime.now(UTC) + timedelta(days=1)
    async with uow:
        # Other tests' events, set aside as dispatched above, go too (at most 100,000).
        assert await uow.events.prune(dispatched_before=AT, parked_before=AT, limit=100_000) == 0
        await uow.events.prune(dispatched_before=future, parked_before=AT, limit=100_000)
        await uow.commit()
    async with uow:
        found = {e.id for e in await uow.events.after(old.id - 1, limit=10)}
        assert found == {parked.id, pending.id}
        assert await uow.events.processed_by(old.id) == set()
        assert await uow.events.prune(dispatched_before=future, parked_before=future, limit=10) == 1
        assert [e.id for e in await uow.events.after(old.id - 1, limit=10)] == [pending.id]
        assert parked.id not in {p.event_id for p in await uow.events.parked(limit=100_000)}
