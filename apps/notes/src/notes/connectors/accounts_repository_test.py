# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The account repositories' contract, on the fake and PostgreSQL; token lookups on the pool."""

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from notes.connectors.accounts_repository import PooledTokenReader
from notes.connectors.database import create_read_pool
from notes.connectors.memory import InMemoryTokenReader
from notes.core.ids import uuid7
from notes.entities import AccessToken, User, email_key

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _user(email, *, password_hash="hash"):
    return User(
        id=uuid7(),
        email=email,
        email_key=email_key(email),
        password_hash=password_hash,
        created_at=NOW,
    )


def _token(user, *, created_at=NOW, lifetime=timedelta(days=30)):
    return AccessToken(
        id=uuid7(),
        user_id=user.id,
        token_hash=hashlib.sha256(uuid.uuid4().bytes).digest(),
        created_at=created_at,
        expires_at=created_at + lifetime,
        last_used_at=None,
    )


async def _stored(uow, *users_and_tokens):
    async with uow:
        for item in users_and_tokens:
            if isinstance(item, User):
                assert await uow.users.add(item)
            else:
                await uow.tokens.add(item)
        await uow.commit()


async def test_an_account_is_found_by_its_email_in_any_case(uow, make_unique):
    user = _user(f"{make_unique('Ada')}@Example.com")
    await _stored(uow, user)
    async with uow:
        found = await uow.users.get_by_email(email_key(user.email.upper()))
        account = await uow.users.get(user.id)
    assert (found.id, found.password_hash) == (user.id, "hash")
    assert (account.id, account.email, account.created_at) == (user.id, user.email, NOW)


async def test_an_email_taken_in_another_case_is_refused_and_nothing_stored(uow, make_unique):
    email = f"{make_unique('ada')}@example.com"
    await _stored(uow, _user(email))
    twin = _user(email.upper())
    async with uow:
        assert not await uow.users.add(twin)
        await uow.commit()
    async with uow:
        assert await uow.users.get(twin.id) is None


async def test_a_password_hash_is_replaced(uow, make_unique):
    user = _user(f"{make_unique('ada')}@example.com", password_hash=None)
    await _stored(uow, user)
    async with uow:
        await uow.users.set_password_hash(user.id, "new hash")
        await uow.commit()
    async with uow:
        assert (await uow.users.get_by_email(user.email_key)).password_hash == "new hash"


async def test_tokens_are_listed_newest_first_unexpired_and_per_account(uow, make_unique):
    ada, grace = (_user(f"{make_unique(n)}@example.com") for n in ("ada", "grace"))
    old = _token(ada, created_at=NOW - timedelta(days=2))
    new = _token(ada, created_at=NOW - timedelta(days=1))
    expired = _token(ada, created_at=NOW - timedelta(days=40))
    theirs = _token(grace)
    await _stored(uow, ada, grace, old, new, expired, theirs)
    async with uow:
        listed = await uow.tokens.list(ada.id, now=NOW)
    assert [t.id for t in listed] == [new.id, old.id]


async def test_only_the_accounts_own_token_is_removed(uow, make_unique):
    ada, grace = (_user(f"{make_unique(n)}@example.com") for n in ("ada", "grace"))
    token = _token(ada)
    await _stored(uow, ada, grace, token)
    async with uow:
        assert not await uow.tokens.remove(grace.id, token.id)
        assert await uow.tokens.remove(ada.id, token.id)
        assert not await uow.tokens.remove(ada.id, token.id)
        await uow.commit()
    async with uow:
        assert await uow.tokens.list(ada.id, now=NOW) == []


async def test_expired_tokens_are_purged_a_batch_at_a_time(uow, make_unique):
    ada = _user(f"{make_unique('ada')}@example.com")
    expired = [_token(ada, created_at=NOW - timedelta(days=40 + i)) for i in range(3)]
    live = _token(ada)
    await _stored(uow, ada, live, *expired)
    async with uow:
        first = await uow.tokens.purge_expired(NOW, limit=2)
        rest = await uow.tokens.purge_expired(NOW, limit=100)
        await uow.commit()
    async with uow:
        listed = await uow.tokens.list(ada.id, now=NOW - timedelta(days=100))
    assert first == 2
    assert rest >= 1
    assert [t.id for t in listed] == [live.id]


async def test_failures_are_found_by_email_and_time_and_purged_when_old(uow, make_unique):
    key, other = make_unique("ada"), make_unique("grace")
    async with uow:
        for minutes in (30, 10, 5):
            await uow.login_failures.record(key, NOW - timedelta(minutes=minutes))
        await uow.login_failures.record(other, NOW)
        await uow.commit()
    async with uow:
        recent = await uow.login_failures.since(key, NOW - timedelta(minutes=15))
        purged = await uow.login_failures.purge_before(NOW - timedelta(minutes=15), limit=1000)
        await uow.commit()
    async with uow:
        left = await uow.login_failures.since(key, NOW - timedelta(days=1))
    assert recent == [NOW - timedelta(minutes=10), NOW - timedelta(minutes=5)]
    assert purged >= 1
    assert left == recent


@pytest.fixture(params=["memory", pytest.param("postgresql", marks=pytest.mark.integrated)])
async def token_store(request, memory_db):
    """Stores users and tokens, and the ``TokenReader`` that looks them up, of each kind."""
    if request.param == "memory":
        yield memory_db.unit_of_work, InMemoryTokenReader(memory_db)
        return
    pool = create_read_pool(request.getfixturevalue("settings"))
    await pool.open(wait=True, timeout=10)
    try:
        yield request.getfixturevalue("committing_uow"), PooledTokenReader(pool)
    finally:
        await pool.close()


async def test_a_token_is_found_by_its_hash_until_it_expires_and_its_use_recorded(
    token_store, make_unique
):
    units, reader = token_store
    ada = _user(f"{make_unique('ada')}@example.com")
    token = _token(ada)
    await _stored(units(), ada, token)
    used_at = NOW + timedelta(hours=1)
    principal = await reader.authenticate(token.token_hash, used_at)
    missing = await reader.authenticate(hashlib.sha256(b"other").digest(), used_at)
    expired = await reader.authenticate(token.token_hash, token.expires_at)
    async with units() as uow:
        [listed] = await uow.tokens.list(ada.id, now=NOW)
    assert (principal.user_id, principal.token_id, principal.expires_at) == (
        ada.id,
        token.id,
        token.expires_at,
    )
    assert (missing, expired) == (None, None)
    assert listed.last_used_at == used_at
