"""Remembered answers to requests with an ``Idempotency-Key``: the PostgreSQL adapter."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, func, select, tuple_

from notes.connectors.database import SqlTransaction
from notes.entities import IdempotencyKey

# The first half of the two-part advisory lock taken on a key's hash, so these locks never meet
# other users of advisory locks (the migrations take a one-part lock).
_LOCK_NAMESPACE = 7316002


class SqlIdempotencyKeyRepository:
    """Idempotency keys in PostgreSQL, through the unit of work's ORM session."""

    def __init__(self, sql: SqlTransaction) -> None:
        self._sql = sql

    async def try_lock(self, owner_id: uuid.UUID, key: str) -> bool:
        # Transaction-scoped: released at commit or rollback, after the commit is visible, so
        # whoever gets the lock next also sees the record stored under it. Two keys with the same
        # 32-bit hash share a lock: a rare, harmless 409 for one of two simultaneous requests.
        granted = await self._sql.session.scalar(
            select(
                func.pg_try_advisory_xact_lock(_LOCK_NAMESPACE, func.hashtext(f"{owner_id}/{key}"))
            )
        )
        return bool(granted)

    async def get(self, owner_id: uuid.UUID, key: str) -> IdempotencyKey | None:
        return await self._sql.session.get(IdempotencyKey, (owner_id, key))

    async def add(self, record: IdempotencyKey) -> None:
        self._sql.session.add(record)

    async def remove(self, record: IdempotencyKey) -> None:
        await self._sql.session.delete(record)
        await self._sql.session.flush()

    async def purge_expired(self, now: datetime, *, limit: int) -> int:
        expired = (
            select(IdempotencyKey.owner_id, IdempotencyKey.key)
            .where(IdempotencyKey.expires_at <= now)
            .order_by(IdempotencyKey.expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        result = await self._sql.session.execute(
            delete(IdempotencyKey)
            .where(tuple_(IdempotencyKey.owner_id, IdempotencyKey.key).in_(expired))
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
