"""Webhook subscriptions, deliveries and attempts in PostgreSQL: adapters of the webhook ports."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncCursor
from psycopg.rows import TupleRow, dict_row
from sqlalchemy import delete, func, insert, select, tuple_

from notes.connectors.database import ReadPool, SqlTransaction, fetch_all, read_connection
from notes.core.batching import Batcher
from notes.entities import (
    AttemptRecord,
    AttemptView,
    DeliveryStatus,
    DeliveryTask,
    DeliveryView,
    Position,
    SubscriptionView,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)

# The attempts a list shows per delivery: the latest ones, so a list costs the same however
# often a delivery was retried by hand.
ATTEMPTS_SHOWN = 20


class SqlSubscriptionRepository:
    """``webhook_subscriptions``, through the unit of work's ORM session."""

    def __init__(self, sql: SqlTransaction) -> None:
        self._sql = sql

    async def add(self, subscription: WebhookSubscription) -> None:
        self._sql.session.add(subscription)
        await self._sql.session.flush()

    async def get(self, owner_id: uuid.UUID, subscription_id: uuid.UUID) -> SubscriptionView | None:
        found = await self._find(owner_id, subscription_id, lock=False)
        return None if found is None else SubscriptionView.of(found)

    async def get_for_update(
        self, owner_id: uuid.UUID, subscription_id: uuid.UUID
    ) -> WebhookSubscription | None:
        return await self._find(owner_id, subscription_id, lock=True)

    async def _find(
        self, owner_id: uuid.UUID, subscription_id: uuid.UUID, *, lock: bool
    ) -> WebhookSubscription | None:
        query = select(WebhookSubscription).where(
            WebhookSubscription.id == subscription_id, WebhookSubscription.owner_id == owner_id
        )
        if lock:
            query = query.with_for_update()
        return (await self._sql.session.scalars(query)).one_or_none()

    async def list(self, owner_id: uuid.UUID) -> list[SubscriptionView]:
        found = await self._sql.session.scalars(
            select(WebhookSubscription)
            .where(WebhookSubscription.owner_id == owner_id)
            .order_by(WebhookSubscription.created_at, WebhookSubscription.id)
        )
        return [SubscriptionView.of(s) for s in found]

    async def count(self, owner_id: uuid.UUID) -> int:
        counted = await self._sql.session.scalar(
            select(func.count()).where(WebhookSubscription.owner_id == owner_id)
        )
        return int(counted or 0)

    async def remove(self, owner_id: uuid.UUID, subscription_id: uuid.UUID) -> bool:
        result = await self._sql.session.execute(
            delete(WebhookSubscription)
            .where(
                WebhookSubscription.id == subscription_id,
                WebhookSubscription.owner_id == owner_id,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def enabled_of(
        self, owner_ids: Collection[uuid.UUID]
    ) -> builtins.list[WebhookSubscription]:
        if not owner_ids:
            return []
        found = await self._sql.session.scalars(
            select(WebhookSubscription).where(
                WebhookSubscription.owner_id.in_(sorted(owner_ids)),
                WebhookSubscription.enabled,
            )
        )
        return list(found)


# Each statement of ``record_attempts`` takes the batch as arrays, so a batch of any size is
# one round trip per statement.
_UPDATE_DELIVERIES = """
UPDATE webhook_deliveries AS d
SET status = v.status, attempt_count = d.attempt_count + 1,
    next_attempt_at = v.next_attempt_at, updated_at = v.attempted_at
FROM unnest(%(ids)s::uuid[], %(statuses)s::text[], %(nexts)s::timestamptz[],
            %(ats)s::timestamptz[]) AS v(id, status, next_attempt_at, attempted_at)
WHERE d.id = v.id AND d.status = 'pending'
RETURNING d.id
"""
_INSERT_ATTEMPTS = """
INSERT INTO webhook_attempts
    (delivery_id, attempted_at, status_code, error, duration_ms, next_attempt_at)
SELECT * FROM unnest(%(ids)s::uuid[], %(ats)s::timestamptz[], %(codes)s::int[],
                     %(errors)s::text[], %(durations)s::float8[], %(nexts)s::timestamptz[])
"""
_HEALTHY = """
UPDATE webhook_subscriptions SET failing_since = NULL
WHERE id = ANY(%(ids)s::uuid[]) AND failing_since IS NOT NULL
"""
_FAILING = """
UPDATE webhook_subscriptions AS s SET failing_since = v.at
FROM unnest(%(ids)s::uuid[], %(ats)s::timestamptz[]) AS v(id, at)
WHERE s.id = v.id AND s.failing_since IS NULL
"""
_DISABLE_FAILING = """
UPDATE webhook_subscriptions
SET enabled = false, disabled_at = %(now)s, updated_at = %(now)s,
    disabled_reason = 'deliveries kept failing for ' || %(period)s
WHERE id = ANY(%(ids)s::uuid[]) AND enabled AND failing_since <= %(since)s
"""
_DISABLE_GONE = """
UPDATE webhook_subscriptions
SET enabled = false, disabled_at = %(now)s, updated_at = %(now)s,
    disabled_reason = 'the receiver answered 410 Gone'
WHERE id = ANY(%(ids)s::uuid[]) AND enabled
"""


class SqlDeliveryRepository:
    """``webhook_deliveries`` and ``webhook_attempts``, in the unit of work's transaction."""

    def __init__(self, sql: SqlTransaction) -> None:
        self._sql = sql

    async def add_all(self, deliveries: Sequence[WebhookDelivery]) -> None:
        if not deliveries:
            return
        columns = [c.key for c in WebhookDelivery.__table__.columns]
        await self._sql.session.execute(
            insert(WebhookDelivery), [{c: getattr(d, c) for c in columns} for d in deliveries]
        )

    async def list(
        self,
        subscription_id: uuid.UUID,
        *,
        status: str | None,
        limit: int,
        after: Position | None = None,
    ) -> list[DeliveryView]:
        query = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
        if status is not None:
            query = query.where(WebhookDelivery.status == status)
        if after is not None:
            query = query.where(
                tuple_(WebhookDelivery.created_at, WebhookDelivery.id)
                < tuple_(after.creation_date, after.id)
            )
        query = query.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        return await self._views(list(await self._sql.session.scalars(query.limit(limit))))

    async def get(self, subscription_id: uuid.UUID, delivery_id: uuid.UUID) -> DeliveryView | None:
        found = await self._sql.session.scalars(
            select(WebhookDelivery).where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.subscription_id == subscription_id,
            )
        )
        views = await self._views(list(found))
        return views[0] if views else None

    async def _views(
        self, deliveries: builtins.list[WebhookDelivery]
    ) -> builtins.list[DeliveryView]:
        attempts = await self._attempts([d.id for d in deliveries])
        return [
            DeliveryView(
                id=d.id,
                subscription_id=d.subscription_id,
                event_id=d.event_id,
                event_type=d.event_type,
                status=d.status,
                created_at=d.created_at,
                next_attempt_at=d.next_attempt_at,
                attempts=tuple(attempts.get(d.id, ())),
            )
            for d in deliveries
        ]

    async def _attempts(
        self, delivery_ids: builtins.list[uuid.UUID]
    ) -> dict[uuid.UUID, builtins.list[AttemptView]]:
        if not delivery_ids:
            return {}
        ranked = (
            select(
                WebhookAttempt,
                func.row_number()
                .over(partition_by=WebhookAttempt.delivery_id, order_by=WebhookAttempt.id.desc())
                .label("rank"),
            )
            .where(WebhookAttempt.delivery_id.in_(delivery_ids))
            .subquery()
        )
        rows = await self._sql.session.execute(
            select(ranked)
            .where(ranked.c.rank <= ATTEMPTS_SHOWN)
            .order_by(ranked.c.delivery_id, ranked.c.id)
        )
        found: dict[uuid.UUID, list[AttemptView]] = {}
        for row in rows:
            found.setdefault(row.delivery_id, []).append(
                AttemptView(
                    attempted_at=row.attempted_at,
                    status_code=row.status_code,
                    error=row.error,
                    duration_ms=row.duration_ms,
                    next_attempt_at=row.next_attempt_at,
                )
            )
        return found

    async def get_for_update(
        self, subscription_id: uuid.UUID, delivery_id: uuid.UUID
    ) -> WebhookDelivery | None:
        found = await self._sql.session.scalars(
            select(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.subscription_id == subscription_id,
            )
            .with_for_update()
        )
        return found.one_or_none()

    async def record_attempts(
        self, records: Sequence[AttemptRecord], *, failing_for: timedelta
    ) -> None:
        if not records:
            return
        driver = self._sql.driver
        async with driver.cursor() as cursor:
            await cursor.execute(
                _UPDATE_DELIVERIES,
                {
                    "ids": [r.delivery_id for r in records],
                    "statuses": [str(r.status) for r in records],
                    "nexts": [r.next_attempt_at for r in records],
                    "ats": [r.attempted_at for r in records],
                },
            )
            applied = {row[0] for row in await cursor.fetchall()}
            kept = [r for r in records if r.delivery_id in applied]
            if not kept:
                return
            await cursor.execute(
                _INSERT_ATTEMPTS,
                {
                    "ids": [r.delivery_id for r in kept],
                    "ats": [r.attempted_at for r in kept],
                    "codes": [r.status_code for r in kept],
                    "errors": [r.error for r in kept],
                    "durations": [r.duration_ms for r in kept],
                    "nexts": [r.next_attempt_at for r in kept],
                },
            )
            await _keep_health(cursor, kept, failing_for)

    async def purge_settled(self, before: datetime, *, limit: int) -> int:
        async with self._sql.driver.cursor() as cursor:
            await cursor.execute(_PURGE_SETTLED, {"before": before, "limit": limit})
            return cursor.rowcount


_PURGE_SETTLED = """
DELETE FROM webhook_deliveries WHERE id IN (
    SELECT id FROM webhook_deliveries
    WHERE updated_at < %(before)s AND status IN ('delivered', 'failed')
    ORDER BY updated_at LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
"""


async def _keep_health(
    cursor: AsyncCursor[TupleRow], records: Sequence[AttemptRecord], failing_for: timedelta
) -> None:
    """Update the subscriptions' failing periods from their latest attempt in the batch."""
    latest: dict[uuid.UUID, AttemptRecord] = {}
    first_failure: dict[uuid.UUID, datetime] = {}
    for record in sorted(records, key=lambda r: r.attempted_at):
        latest[record.subscription_id] = record
        if record.status != DeliveryStatus.DELIVERED:
            first_failure.setdefault(record.subscription_id, record.attempted_at)
    healthy = sorted(s for s, r in latest.items() if r.status == DeliveryStatus.DELIVERED)
    failing = sorted(s for s, r in latest.items() if r.status != DeliveryStatus.DELIVERED)
    gone = sorted({r.subscription_id for r in records if r.gone})
    now = max(r.attempted_at for r in records)
    if healthy:
        await cursor.execute(_HEALTHY, {"ids": healthy})
    if failing:
        await cursor.execute(
            _FAILING, {"ids": failing, "ats": [first_failure.get(s, now) for s in failing]}
        )
        await cursor.execute(
            _DISABLE_FAILING,
            {
                "ids": failing,
                "now": now,
                "since": now - failing_for,
                "period": _period(failing_for),
            },
        )
    if gone:
        await cursor.execute(_DISABLE_GONE, {"ids": gone, "now": now})


def _period(length: timedelta) -> str:
    seconds = length.total_seconds()
    for unit, size in (("days", 86_400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} seconds"


_FOR_ATTEMPT = """
SELECT d.id, d.subscription_id, d.status, d.attempt_count, d.payload, s.url, s.secret,
       s.previous_secret, s.previous_secret_expires_at, s.enabled
FROM webhook_deliveries AS d JOIN webhook_subscriptions AS s ON s.id = d.subscription_id
WHERE d.id = ANY(%(ids)s)
"""


@dataclass
class _Read:
    """One delivery asked for, and its row once read (None: there is no such delivery)."""

    delivery_id: uuid.UUID
    row: dict[str, Any] | None = None


class PooledDeliveryReader:
    """The ``DeliveryReader`` port on the read pool, reading the deliveries asked for together
    in one statement.

    A worker takes many jobs at once, and each attempt starts with this read. The reads go
    through a ``Batcher``: one asked for while another is running waits for it to end, then
    goes with every read asked for meanwhile (at most ``max_batch``) in one autocommit
    statement: one round trip and one pooled connection for the lot instead of one each, and
    no wait at all when the reads come one at a time. A failed statement fails every read of
    its batch, as ``Batcher`` fails a batch.
    """

    def __init__(self, pool: ReadPool, *, max_batch: int = 100) -> None:
        self._pool = pool
        self._reads = Batcher(self._read, max_size=max_batch)
        self.statements = 0

    async def get_for_attempt(self, delivery_id: uuid.UUID, now: datetime) -> DeliveryTask | None:
        read = _Read(delivery_id)
        await self._reads.submit(read)
        return None if read.row is None else _task_of(read.row, now)

    async def _read(self, reads: Sequence[_Read]) -> None:
        self.statements += 1
        ids = [read.delivery_id for read in reads]
        async with read_connection(self._pool) as connection:
            rows = await fetch_all(connection, _FOR_ATTEMPT, {"ids": ids}, dict_row)
        found = {row["id"]: row for row in rows}
        for read in reads:
            read.row = found.get(read.delivery_id)


def _task_of(row: dict[str, Any], now: datetime) -> DeliveryTask:
    secrets: tuple[str, ...] = (row["secret"],)
    expires = row["previous_secret_expires_at"]
    if row["previous_secret"] is not None and expires is not None and now < expires:
        secrets = (row["secret"], row["previous_secret"])
    return DeliveryTask(
        delivery_id=row["id"],
        subscription_id=row["subscription_id"],
        status=row["status"],
        attempt_count=row["attempt_count"],
        payload=bytes(row["payload"]),
        url=row["url"],
        secrets=secrets,
        subscription_enabled=row["enabled"],
    )
