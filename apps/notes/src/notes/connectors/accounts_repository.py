"""Accounts, tokens and failed logins in PostgreSQL: adapters of the account ports."""

from __future__ import annotations

import uuid
from datetime import datetime

from psycopg.rows import tuple_row
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert

from notes.connectors.database import (
    ReadPool,
    SqlTransaction,
    driver_sql,
    fetch_one,
    read_connection,
)
from notes.entities import AccessToken, Account, LoginFailure, Principal, TokenInfo, User


class SqlUserRepository:
    """The ``users`` table, in the unit of work's transaction."""

    def __init__(self, sql: SqlTransaction) -> None:
        self._sql = sql

    async def add(self, user: User) -> bool:
        # ON CONFLICT on the lower-cased email: a concurrent sign-up with the same email is told
        # apart without an error that would end the transaction.
        inserted = await self._sql.session.scalar(
            _ADD_USER.values(
                {
                    "id": user.id,
                    "email": user.email,
                    "email_key": user.email_key,
                    "password_hash": user.password_hash,
                    "created_at": user.created_at,
                }
            )
        )
        return inserted is not None

    async def get(self, user_id: uuid.UUID) -> Account | None:
        row = (
            await self._sql.session.execute(
                select(User.id, User.email, User.created_at).where(User.id == user_id)
            )
        ).one_or_none()
        return (
            None if row is None else Account(id=row.id, email=row.email, created_at=row.created_at)
        )

    async def get_by_email(self, email_key: str) -> User | None:
        found = await self._sql.session.scalars(select(User).where(User.email_key == email_key))
        return found.one_or_none()

    async def set_password_hash(self, user_id: uuid.UUID, password_hash: str) -> None:
        await self._sql.session.execute(
            update(User).where(User.id == user_id).values(password_hash=password_hash)
        )


_ADD_USER = insert(User).on_conflict_do_nothing(index_elements=[User.email_key]).returning(User.id)


class SqlTokenRepository:
    """The ``tokens`` table, in the unit of work's transaction."""

    def __init__(self, sql: SqlTransaction) -> None:
        self._sql = sql

    async def add(self, token: AccessToken) -> None:
        self._sql.session.add(token)
        await self._sql.session.flush()

    async def list(self, user_id: uuid.UUID, *, now: datetime) -> list[TokenInfo]:
        rows = await self._sql.session.execute(
            select(
                AccessToken.id,
                AccessToken.created_at,
                AccessToken.expires_at,
                AccessToken.last_used_at,
            )
            .where(AccessToken.user_id == user_id, AccessToken.expires_at > now)
            .order_by(AccessToken.created_at.desc(), AccessToken.id.desc())
        )
        return [TokenInfo(*row) for row in rows]

    async def remove(self, user_id: uuid.UUID, token_id: uuid.UUID) -> bool:
        removed = await self._sql.session.scalar(
            delete(AccessToken)
            .where(AccessToken.id == token_id, AccessToken.user_id == user_id)
            .returning(AccessToken.id)
        )
        return removed is not None

    async def purge_expired(self, now: datetime, *, limit: int) -> int:
        expired = (
            select(AccessToken.id)
            .where(AccessToken.expires_at <= now)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        removed = await self._sql.session.scalars(
            delete(AccessToken)
            .where(AccessToken.id.in_(expired.scalar_subquery()))
            .returning(AccessToken.id)
        )
        return len(removed.all())


class SqlLoginFailureLog:
    """The ``login_failures`` table, in the unit of work's transaction."""

    def __init__(self, sql: SqlTransaction) -> None:
        self._sql = sql

    async def record(self, email_key: str, at: datetime) -> None:
        await self._sql.session.execute(
            insert(LoginFailure).values(email_key=email_key, failed_at=at)
        )

    async def since(self, email_key: str, start: datetime) -> list[datetime]:
        found = await self._sql.session.scalars(
            select(LoginFailure.failed_at)
            .where(LoginFailure.email_key == email_key, LoginFailure.failed_at >= start)
            .order_by(LoginFailure.failed_at)
        )
        return list(found)

    async def purge_before(self, before: datetime, *, limit: int) -> int:
        old = (
            select(LoginFailure.id)
            .where(LoginFailure.failed_at < before)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        removed = await self._sql.session.scalars(
            delete(LoginFailure)
            .where(LoginFailure.id.in_(old.scalar_subquery()))
            .returning(LoginFailure.id)
        )
        return len(removed.all())


# One statement finds the token and records its use; an expired token is neither found nor
# touched. It runs on an autocommit connection: the use is recorded at once.
_AUTHENTICATE, _ = driver_sql(
    update(AccessToken)
    .where(
        AccessToken.token_hash == bindparam("token_hash"),
        AccessToken.expires_at > bindparam("now"),
    )
    .values(last_used_at=bindparam("now"))
    .returning(AccessToken.user_id, AccessToken.id, AccessToken.expires_at)
)


class PooledTokenReader:
    """The ``TokenReader`` port on the read pool: one round trip, no transaction."""

    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def authenticate(self, token_hash: bytes, now: datetime) -> Principal | None:
        params = {"token_hash": token_hash, "now": now}
        async with read_connection(self._pool) as connection:
            row = await fetch_one(connection, _AUTHENTICATE, params, tuple_row)
        if row is None:
            return None
        user_id, token_id, expires_at = row
        return Principal(user_id=user_id, token_id=token_id, expires_at=expires_at)
