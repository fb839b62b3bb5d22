# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The webhook repositories' contract, against the in-memory fake and PostgreSQL."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from testkit import OTHER_OWNER, OWNER

from notes.core.ids import uuid7
from notes.entities import AttemptRecord, DeliveryStatus, WebhookDelivery, WebhookSubscription

AT = datetime(2026, 6, 1, tzinfo=UTC)


def subscription(owner=OWNER, **fields):
    values = {
        "id": uuid7(),
        "owner_id": owner,
        "url": "https://hooks.example.com/x",
        "event_types": None,
        "description": "",
        "secret": "whsec_" + "QUJD" * 8,
        "previous_secret": None,
        "previous_secret_expires_at": None,
        "enabled": True,
        "disabled_reason": None,
        "disabled_at": None,
        "failing_since": None,
        "created_at": AT,
        "updated_at": AT,
    }
    return WebhookSubscription(**{**values, **fields})


def delivery(subscription_id, event_id, at=AT):
    return WebhookDelivery(
        id=uuid7(),
        subscription_id=subscription_id,
        event_id=event_id,
        event_type="note.created",
        payload=b'{"n":%d}' % event_id,
        status="pending",
        attempt_count=0,
        next_attempt_at=at,
        created_at=at,
        updated_at=at,
    )


def record(d, status, at, code=500, **fields):
    return AttemptRecord(
        delivery_id=d.id,
        subscription_id=d.subscription_id,
        attempted_at=at,
        status_code=code,
        error=None if code else "refused",
        duration_ms=1.5,
        status=status,
        next_attempt_at=at + timedelta(seconds=5) if status == DeliveryStatus.PENDING else None,
        **fields,
    )


async def test_subscriptions_are_kept_per_owner(uow):
    mine, theirs = subscription(), subscription(OTHER_OWNER)
    async with uow:
        await uow.webhooks.add(mine)
        await uow.webhooks.add(theirs)
        await uow.commit()
    async with uow:
        assert [s.id for s in await uow.webhooks.list(OWNER)] == [mine.id]
        assert await uow.webhooks.get(OTHER_OWNER, mine.id) is None
        assert await uow.webhooks.get_for_update(OTHER_OWNER, mine.id) is None
        assert (await uow.webhooks.get(OWNER, mine.id)).url == mine.url
        assert await uow.webhooks.count(OTHER_OWNER) == 1
        assert [s.id for s in await uow.webhooks.enabled_of({OWNER, OTHER_OWNER})] != []
        assert not await uow.webhooks.remove(OTHER_OWNER, mine.id)
        assert await uow.webhooks.remove(OWNER, mine.id)
        await uow.commit()
    async with uow:
        assert await uow.webhooks.get(OWNER, mine.id) is None


async def test_a_changed_subscription_is_kept_at_commit(uow):
    sub = subscription(event_types=["note.created"])
    async with uow:
        await uow.webhooks.add(sub)
        await uow.commit()
    async with uow:
        found = await uow.webhooks.get_for_update(OWNER, sub.id)
        found.enabled = False
        found.event_types = ["note.deleted", "note.updated"]
        await uow.commit()
    async with uow:
        view = await uow.webhooks.get(OWNER, sub.id)
        assert not view.enabled
        assert view.event_types == ("note.deleted", "note.updated")
        assert sub.id not in {s.id for s in await uow.webhooks.enabled_of({OWNER})}


async def test_deliveries_list_newest_first_with_their_attempts(uow):
    sub = subscription()
    async with uow:
        await uow.webhooks.add(sub)
        first, second, third = (delivery(sub.id, n, AT + timedelta(seconds=n)) for n in (1, 2, 3))
        await uow.deliveries.add_all([first, second, third])
        await uow.commit()
    async with uow:
        await uow.deliveries.record_attempts(
            [
                record(first, DeliveryStatus.PENDING, AT),
                record(second, DeliveryStatus.DELIVERED, AT + timedelta(seconds=1), code=204),
            ],
            failing_for=timedelta(days=1),
        )
        await uow.commit()
    async with uow:
        page = await uow.deliveries.list(sub.id, status=None, limit=2)
        assert [d.event_id for d in page] == [3, 2]
        rest = await uow.deliveries.list(sub.id, status=None, limit=2, after=_position(page[-1]))
        assert [d.event_id for d in rest] == [1]
        assert [a.status_code for a in rest[0].attempts] == [500]
        assert rest[0].attempts[0].next_attempt_at == AT + timedelta(seconds=5)
        delivered = await uow.deliveries.list(sub.id, status="delivered", limit=10)
        assert [(d.event_id, d.status) for d in delivered] == [(2, "delivered")]
        assert (await uow.deliveries.get(sub.id, first.id)).attempts[0].duration_ms == 1.5
        assert await uow.deliveries.get(uuid7(), first.id) is None


def _position(view):
    from notes.entities import Position  # noqa: PLC0415

    return Position(view.created_at, view.id)


async def test_an_event_becomes_at_most_one_delivery_per_subscription(uow):
    sub = subscription()
    async with uow:
        await uow.webhooks.add(sub)
        await uow.deliveries.add_all([delivery(sub.id, 7)])
        await uow.commit()
    async with uow:
        with pytest.raises(Exception):  # noqa: B017, PT011 - a unique violation, by each adapter
            await _add_and_commit(uow, [delivery(sub.id, 7)])


async def _add_and_commit(uow, deliveries):
    await uow.deliveries.add_all(deliveries)
    await uow.commit()


async def test_attempts_keep_the_subscriptions_health(uow):
    sub, gone = subscription(), subscription()
    async with uow:
        await uow.webhooks.add(sub)
        await uow.webhooks.add(gone)
        d1, d2, d3 = delivery(sub.id, 1), delivery(sub.id, 2), delivery(gone.id, 3)
        await uow.deliveries.add_all([d1, d2, d3])
        await uow.commit()
    async with uow:
        await uow.deliveries.record_attempts(
            [
                record(d1, DeliveryStatus.PENDING, AT),
                record(d3, DeliveryStatus.FAILED, AT, gone=True),
            ],
            failing_for=timedelta(hours=1),
        )
        await uow.commit()
    async with uow:
        assert (await uow.webhooks.get(OWNER, sub.id)).failing_since == AT
        assert (await uow.webhooks.get(OWNER, sub.id)).enabled
        gone_view = await uow.webhooks.get(OWNER, gone.id)
        assert not gone_view.enabled
        assert gone_view.disabled_reason == "the receiver answered 410 Gone"
        await uow.deliveries.record_attempts(
            [record(d2, DeliveryStatus.PENDING, AT + timedelta(hours=2))],
            failing_for=timedelta(hours=1),
        )
        await uow.commit()
    async with uow:
        view = await uow.webhooks.get(OWNER, sub.id)
        assert not view.enabled
        assert view.disabled_reason.startswith("deliveries kept failing for")
        # a settled delivery takes no more attempts
        await uow.deliveries.record_attempts(
            [record(d3, DeliveryStatus.DELIVERED, AT, code=204)], failing_for=timedelta(hours=1)
        )
        await uow.commit()
    async with uow:
        assert (await uow.deliveries.get(gone.id, d3.id)).status == "failed"


async def test_a_success_ends_the_failing_period(uow):
    sub = subscription(failing_since=AT)
    async with uow:
        await uow.webhooks.add(sub)
        d = delivery(sub.id, 1)
        await uow.deliveries.add_all([d])
        await uow.commit()
    async with uow:
        await uow.deliveries.record_attempts(
            [record(d, DeliveryStatus.DELIVERED, AT, code=200)], failing_for=timedelta(hours=1)
        )
        await uow.commit()
    async with uow:
        assert (await uow.webhooks.get(OWNER, sub.id)).failing_since is None


@pytest.mark.integrated
async def test_the_pooled_reader_gives_what_an_attempt_needs(sql, committing_uow):
    from notes.connectors.database import create_read_pool  # noqa: PLC0415
    from notes.connectors.webhooks_repository import PooledDeliveryReader  # noqa: PLC0415
    from notes.core.config import Settings  # noqa: PLC0415

    sub = subscription(
        previous_secret="whsec_" + "WFla" * 8, previous_secret_expires_at=AT + timedelta(days=1)
    )
    d = delivery(sub.id, 1)
    async with committing_uow() as uow:
        await uow.webhooks.add(sub)
        await uow.deliveries.add_all([d])
        await uow.commit()
    settings = Settings(database_url=str(sql._engine.url.render_as_string(hide_password=False)))
    pool = create_read_pool(settings)
    await pool.open()
    try:
        reader = PooledDeliveryReader(pool)
        during = await reader.get_for_attempt(d.id, AT)
        after = await reader.get_for_attempt(d.id, AT + timedelta(days=2))
        missing = await reader.get_for_attempt(uuid7(), AT)
    finally:
        await pool.close()
        await sql.execute("DELETE FROM webhook_subscriptions WHERE id = :id", id=sub.id)
    assert during is not None
    assert after is not None
    assert during.secrets == (sub.secret, sub.previous_secret)
    assert after.secrets == (sub.secret,)
    assert during.payload == d.payload
    assert during.url == sub.url
    assert during.subscription_enabled
    assert missing is None


@pytest.mark.integrated
async def test_reads_asked_for_together_go_in_one_statement_and_fail_together(sql, committing_uow):
    from notes.connectors.database import create_read_pool  # noqa: PLC0415
    from notes.connectors.webhooks_repository import PooledDeliveryReader  # noqa: PLC0415
    from notes.core.config import Settings  # noqa: PLC0415

    sub = subscription()
    deliveries = [delivery(sub.id, n) for n in range(1, 31)]
    async with committing_uow() as uow:
        await uow.webhooks.add(sub)
        await uow.deliveries.add_all(deliveries)
        await uow.commit()
    settings = Settings(database_url=str(sql._engine.url.render_as_string(hide_password=False)))
    pool = create_read_pool(settings)
    await pool.open()
    try:
        reader = PooledDeliveryReader(pool, max_batch=10)
        ids = [d.id for d in deliveries] + [uuid7()]
        found = await asyncio.gather(*(reader.get_for_attempt(i, AT) for i in ids))
        statements = reader.statements
    finally:
        await pool.close()
    try:
        closed = PooledDeliveryReader(pool)
        failures = await asyncio.gather(
            *(closed.get_for_attempt(d.id, AT) for d in deliveries[:3]), return_exceptions=True
        )
    finally:
        await sql.execute("DELETE FROM webhook_subscriptions WHERE id = :id", id=sub.id)
    assert [task.delivery_id if task else None for task in found] == [*ids[:-1], None]
    assert [task.payload for task in found[:-1] if task] == [d.payload for d in deliveries]
    # 31 reads asked for together, in batches of 10; the failing one: a single statement.
    assert statements == 4
    assert closed.statements == 1
    assert all(isinstance(failure, Exception) for failure in failures)


async def test_settled_deliveries_older_than_the_limit_are_purged_with_their_attempts(uow):
    sub = subscription()
    old, recent, waiting = delivery(sub.id, 1), delivery(sub.id, 2), delivery(sub.id, 3)
    async with uow:
        await uow.webhooks.add(sub)
        await uow.deliveries.add_all([old, recent, waiting])
        await uow.commit()
    async with uow:
        await uow.deliveries.record_attempts(
            [
                record(old, DeliveryStatus.DELIVERED, AT, code=204),
                record(recent, DeliveryStatus.FAILED, AT + timedelta(days=2)),
            ],
            failing_for=timedelta(days=30),
        )
        await uow.commit()
    async with uow:
        assert await uow.deliveries.purge_settled(AT + timedelta(days=1), limit=10) == 1
        await uow.commit()
    async with uow:
        assert await uow.deliveries.get(sub.id, old.id) is None
        assert await uow.deliveries.get(sub.id, recent.id) is not None
        assert await uow.deliveries.get(sub.id, waiting.id) is not None  # pending: never
        assert await uow.deliveries.purge_settled(AT + timedelta(days=9), limit=10) == 1
