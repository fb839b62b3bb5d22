"""Remembered answers to requests with an ``Idempotency-Key``: the port and its SQL adapter."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import delete, func, select

from notes.connectors.database import SqlTransaction
from notes.entities import IdempotencyKey

# The first half of the two-part advisory lock taken on a key's hash, so these locks never meet
# other users of advisory locks (the migrations take a one-part lock).
_LOCK_NAMESPACE = 7316002


class IdempotencyKeyRepository(Protocol):
    """Stores idempotency keys. Never commits: the unit of work that owns it does."""

    async def try_lock(self, key: str) -> bool:
        """Claim ``key`` until the end of this transaction, without waiting.

        False when another transaction holds it (a request with this key is still running).
        """

    async def get(self, key: str) -> IdempotencyKey | None:
        """The stored record of ``key``, expired or not."""

    async def add(self, record: IdempotencyKey) -> None:
        """Stage a new record."""

    async def remove(self, record: IdempotencyKey) -> None:
        """Delete ``record`` (an expired one, about to be replaced) right away."""

    async def purge_expired(self, now: datetime, *, limit: int) -> int:
        """Delete up to ``limit`` records that expired by ``now``; how many were deleted.

        Records another transaction is working on are skipped, never waited for.
        """


class SqlIdempotencyKeyRepository(IdempotencyKeyRepository):
    """Idempotency keys in PostgreSQL, through the unit of work's ORM session."""

    def __init__(self, sql: SqlTransaction) -> None:
        self._sql = sql

    async def try_lock(self, key: str) -> bool:
        # Transaction-scoped: released at commit or rollback, after the commit is visible, so
        # whoever gets the lock next also sees the record stored under it. Two keys with the same
        # 32-bit hash share a lock: a rare, harmless 409 for one of two simultaneous requests.
        granted = await self._sql.session.scalar(
            select(func.pg_try_advisory_xact_lock(_LOCK_NAMESPACE, func.hashtext(key)))
        )
        return bool(granted)

    async def get(self, key: str) -> IdempotencyKey | None:
        return await self._sql.session.get(IdempotencyKey, key)

    async def add(self, record: IdempotencyKey) -> None:
        self._sql.session.add(record)

    async def remove(self, record: IdempotencyKey) -> None:
        await self._sql.session.delete(record)
        await self._sql.session.flush()

    async def purge_expired(self, now: datetime, *, limit: int) -> int:
        expired = (
            select(IdempotencyKey.key)
            .where(IdempotencyKey.expires_at <= now)
            .order_by(IdempotencyKey.expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        result = await self._sql.session.execute(
            delete(IdempotencyKey)
            .where(IdempotencyKey.key.in_(expired.scalar_subquery()))
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
