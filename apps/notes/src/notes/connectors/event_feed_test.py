# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The live feed's reader on PostgreSQL: commit order, the horizon, one owner's events."""

import asyncio
import uuid

import pytest
from sqlalchemy import text

from notes.connectors.database import create_read_pool
from notes.connectors.event_feed import PooledEventFeed
from notes.entities import NoteCreated

pytestmark = pytest.mark.integrated

_INSERT = text(
    "INSERT INTO events (type, note_id, owner_id, occurred_at, payload) VALUES "
    '(\'NoteCreated\', gen_random_uuid(), :owner, now(), \'{"category": "c", "tags": ["t"]}\')'
    " RETURNING id"
)


@pytest.fixture
async def feed(settings):
    pool = create_read_pool(settings)
    await pool.open(wait=True, timeout=10)
    try:
        yield PooledEventFeed(pool)
    finally:
        await pool.close()


async def settled(feed, position, count, **kwargs):
    """``feed.after(...)`` once it gives ``count`` events: the horizon is the whole server's,
    so a transaction that another test process (on another database) has open holds the
    events back a moment."""
    async with asyncio.timeout(30):
        while len(got := await feed.after(position, limit=10, **kwargs)) < count:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    return got


async def _record(engine, owner):
    async with engine.begin() as conn:
        return (await conn.execute(_INSERT, {"owner": owner})).scalar_one()


async def test_an_event_of_a_transaction_still_running_holds_back_those_committed_after_it(
    feed, engine
):
    owner = uuid.uuid4()
    start = await feed.horizon()
    async with engine.connect() as late:
        await late.begin()
        await late.execute(text("SELECT pg_current_xact_id()"))  # its id is taken first
        early_id = await _record(engine, owner)  # a later transaction commits first
        assert await feed.after(start, limit=10, owner_id=owner) == []
        late_id = (await late.execute(_INSERT, {"owner": owner})).scalar_one()
        await late.commit()
    got = await settled(feed, start, 2, owner_id=owner)
    # The smaller transaction id first, though its event's id is the larger.
    assert [item.event.id for item in got] == [late_id, early_id]
    assert late_id > early_id
    assert got[0].position < got[1].position
    assert [item.event.id for item in await feed.after(got[0].position, limit=10)] == [early_id]
    assert all(item.owner_id == owner for item in got)
    assert isinstance(got[0].event, NoteCreated)
    assert got[0].event.tags == ("t",)


async def test_the_horizon_is_after_every_event_committed_before_it(feed, engine):
    owner = uuid.uuid4()
    await _record(engine, owner)
    horizon = await feed.horizon()
    assert await feed.after(horizon, limit=10, owner_id=owner) == []
    later = await _record(engine, owner)
    assert [i.event.id for i in await settled(feed, horizon, 1, owner_id=owner)] == [later]


async def test_reads_are_of_one_owner_or_of_all_and_limited(feed, engine):
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    start = await feed.horizon()
    ids = [await _record(engine, owner) for owner in (mine, theirs, mine)]
    assert [i.event.id for i in await settled(feed, start, 2, owner_id=mine)] == [
        ids[0],
        ids[2],
    ]
    everyone = [i.event.id for i in await feed.after(start, limit=10)]
    assert [i for i in everyone if i in ids] == ids
    assert len(await feed.after(start, limit=2)) == 2


async def test_an_events_position_is_found_only_by_its_owner(feed, engine):
    owner = uuid.uuid4()
    start = await feed.horizon()
    event_id = await _record(engine, owner)
    [item] = await settled(feed, start, 1, owner_id=owner)
    assert await feed.position_of(owner, event_id) == item.position
    assert item.position[1] == event_id
    assert await feed.position_of(uuid.uuid4(), event_id) is None
    assert await feed.position_of(owner, 2**62) is None
    assert await feed.position_of(owner, 0) is None
    assert await feed.position_of(owner, 2**64) is None  # out of bigint's range: no query


async def test_an_event_gets_the_id_of_the_transaction_that_recorded_it(connection):
    await connection.execute(_INSERT, {"owner": uuid.uuid4()})
    same = await connection.scalar(
        text("SELECT xact_id = pg_current_xact_id() FROM events ORDER BY id DESC LIMIT 1")
    )
    assert same is True


async def test_positions_are_ordered_as_numbers_not_as_text(feed, engine):
    owner = uuid.uuid4()
    async with engine.begin() as conn:
        for xact_id in ("10", "9", "100"):  # as text, "10" < "100" < "9"
            await conn.execute(
                text(
                    "INSERT INTO events (type, note_id, owner_id, occurred_at, payload, xact_id)"
                    " VALUES ('NoteCreated', gen_random_uuid(), :owner, now(),"
                    ' \'{"category": "", "tags": []}\', CAST(:x AS xid8))'
                ),
                {"owner": owner, "x": xact_id},
            )
    got = await feed.after((0, 0), limit=10, owner_id=owner)
    assert [item.position[0] for item in got] == [9, 10, 100]
    everyone = [
        i.position[0] for i in await feed.after((0, 0), limit=100_000) if i.owner_id == owner
    ]
    assert everyone == [9, 10, 100]


async def test_one_owners_events_are_read_through_the_owners_index(engine):
    """Even where every owner's events after the position are many: here 20,000 committed by
    other owners in one transaction (deleted at the end), with fresh statistics."""
    from notes.connectors import event_feed  # noqa: PLC0415 - its query, explained

    try:
        lines = await _explain_after_many(engine, event_feed._OWNER_AFTER)
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM events WHERE payload = '{\"bulk\": true}'"))
    assert "ix_events_owner_id_xact_id_id" in "\n".join(lines)


async def _explain_after_many(engine, sql):
    async with engine.begin() as conn:
        xact_id = await conn.scalar(text("SELECT pg_current_xact_id()::text"))
        await conn.execute(
            text(
                "INSERT INTO events (type, note_id, owner_id, occurred_at, payload, dispatched_at)"
                " SELECT 'NoteCreated', gen_random_uuid(), gen_random_uuid(), now(),"
                " '{\"bulk\": true}', now() FROM generate_series(1, 20000)"
            )
        )
    async with engine.connect() as conn:
        await conn.execute(text("ANALYZE events"))
        params = {"owner_id": uuid.uuid4(), "xact_id": int(xact_id), "id": 0, "limit": 500}
        plan = await conn.exec_driver_sql("EXPLAIN " + sql, params)
        return [row[0] for row in plan]
