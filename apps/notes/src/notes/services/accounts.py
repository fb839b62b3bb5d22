"""Accounts and bearer tokens: signing up, logging in, knowing who a request acts for.

A token is 32 random bytes (256 bits), shown once as ``nt_`` + base64url and stored only as its
SHA-256. Logging in costs an Argon2id verification whether the email is known or not, so a wrong
password and an unknown email take the same time and give the same error. Failed logins are
counted per email: past ``failure_limit`` within ``failure_window``, further logins for that
email are refused (429) until the oldest failure of the window has aged out of it.

Knowing who a request acts for costs no database round trip most of the time: a token found
valid is remembered in this process for ``cache_seconds``, so a revoked token may still be
honoured by another process for that long (in the process that revoked it, never). Looking a
token up records its use (``last_used_at``), so that time is exact to within ``cache_seconds``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from cachetools import TTLCache

from notes.core.clock import Clock, utc_now
from notes.core.ids import uuid7
from notes.entities import AccessToken, Account, Principal, TokenInfo, User, email_key
from notes.services.errors import (
    EmailTakenError,
    InvalidCredentialsError,
    InvalidTokenError,
    TokenNotFoundError,
    TooManyLoginAttemptsError,
)
from notes.services.passwords import check_password
from notes.services.ports import PasswordHasher, TokenReader, UnitsOfWork

TOKEN_PREFIX = "nt_"  # noqa: S105 - marks a value as this service's token; not a secret
TOKEN_BYTES = 32
# A token value is the prefix and the unpadded base64url of TOKEN_BYTES: 46 characters.
TOKEN_LENGTH = len(TOKEN_PREFIX) + (TOKEN_BYTES * 4 + 2) // 3
# Expired tokens and old failures deleted, at most, by each login.
PURGE_BATCH = 100
# Verified against when the email is unknown, so that path costs what a wrong password costs.
_DUMMY_PASSWORD = "not the password of any account"  # noqa: S105 - hashed, never accepted


@dataclass(frozen=True)
class IssuedToken:
    """A new token: its value, shown to the caller this once, and what is stored of it."""

    value: str
    info: TokenInfo


def token_hash(value: str) -> bytes:
    """What is stored of a token: the SHA-256 of its value."""
    return hashlib.sha256(value.encode()).digest()


def _new_token_value() -> str:
    raw = base64.urlsafe_b64encode(secrets.token_bytes(TOKEN_BYTES)).rstrip(b"=").decode()
    return TOKEN_PREFIX + raw


class AccountsService:
    """The account and token use cases."""

    def __init__(  # noqa: PLR0913 - the settings of the use cases, each by name
        self,
        uow: UnitsOfWork,
        *,
        hasher: PasswordHasher,
        tokens: TokenReader,
        token_lifetime: timedelta = timedelta(days=30),
        failure_limit: int = 5,
        failure_window: timedelta = timedelta(minutes=15),
        cache_seconds: float = 5.0,
        cache_size: int = 10_000,
        clock: Clock = utc_now,
        new_id: Callable[[], uuid.UUID] = uuid7,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._tokens = tokens
        self._token_lifetime = token_lifetime
        self._failure_limit = failure_limit
        self._failure_window = failure_window
        self._clock = clock
        self._new_id = new_id
        self._dummy_hash: str | None = None
        # token hash -> principal; bounded in size and in age.
        self._known: TTLCache[bytes, Principal] = TTLCache(maxsize=cache_size, ttl=cache_seconds)

    async def create_account(self, *, email: str, password: str) -> Account:
        """A new account; WeakPasswordError or EmailTakenError, and nothing stored, otherwise."""
        check_password(password, email=email)
        user = User(
            id=self._new_id(),
            email=email.strip(),
            email_key=email_key(email),
            password_hash=await self._hasher.hash(password),
            created_at=self._clock(),
        )
        async with self._uow() as uow:
            if not await uow.users.add(user):
                raise EmailTakenError
            await uow.commit()
        return Account(id=user.id, email=user.email, created_at=user.created_at)

    async def get_account(self, principal: Principal) -> Account:
        """The caller's account."""
        async with self._uow() as uow:
            account = await uow.users.get(principal.user_id)
        if account is None:  # deleted while its token was remembered
            raise InvalidTokenError
        return account

    async def issue_token(self, *, email: str, password: str) -> IssuedToken:
        """A new token for the account, if the password is its own.

        TooManyLoginAttemptsError while the email is over its failure limit (checked first, so
        it costs no hashing); InvalidCredentialsError for a wrong password, an unknown email or
        an account with no password, each recorded as a failure.
        """
        key = email_key(email)
        now = self._clock()
        async with self._uow() as uow:
            recent = await uow.login_failures.since(key, now - self._failure_window)
        if len(recent) >= self._failure_limit:
            # Allowed again once enough of the window's failures have aged out of it.
            oldest_counted = recent[len(recent) - self._failure_limit]
            wait = oldest_counted + self._failure_window - now
            raise TooManyLoginAttemptsError(max(1, int(wait.total_seconds() + 0.999)))
        async with self._uow() as uow:
            user = await uow.users.get_by_email(key)
        stored = user.password_hash if user is not None else None
        matches = await self._hasher.verify(stored or await self._dummy(), password)
        if user is None or stored is None or not matches:
            async with self._uow() as uow:
                await uow.login_failures.record(key, now)
                await uow.login_failures.purge_before(now - self._failure_window, limit=PURGE_BATCH)
                await uow.commit()
            raise InvalidCredentialsError
        value = _new_token_value()
        token = AccessToken(
            id=self._new_id(),
            user_id=user.id,
            token_hash=token_hash(value),
            created_at=now,
            expires_at=now + self._token_lifetime,
            last_used_at=None,
        )
        async with self._uow() as uow:
            await uow.tokens.add(token)
            await uow.tokens.purge_expired(now, limit=PURGE_BATCH)
            if self._hasher.needs_rehash(stored):
                await uow.users.set_password_hash(user.id, await self._hasher.hash(password))
            await uow.commit()
        info = TokenInfo(
            id=token.id, created_at=now, expires_at=token.expires_at, last_used_at=None
        )
        return IssuedToken(value=value, info=info)

    async def authenticate(self, value: str | None) -> Principal:
        """Who a request presenting the token ``value`` acts for; InvalidTokenError if nobody.

        Remembered for ``cache_seconds`` after a lookup; never past the token's expiry.
        """
        if not value or len(value) != TOKEN_LENGTH or not value.startswith(TOKEN_PREFIX):
            raise InvalidTokenError
        digest = token_hash(value)
        now = self._clock()
        principal = self._known.get(digest)
        if principal is None or principal.expires_at <= now:
            principal = await self._tokens.authenticate(digest, now)
            if principal is None:
                self._known.pop(digest, None)
                raise InvalidTokenError
            self._known[digest] = principal
        return principal

    async def list_tokens(self, principal: Principal) -> list[TokenInfo]:
        """The caller's unexpired tokens, newest first (never their values)."""
        async with self._uow() as uow:
            return await uow.tokens.list(principal.user_id, now=self._clock())

    async def revoke_token(self, principal: Principal, token_id: uuid.UUID) -> None:
        """Revoke one of the caller's tokens; TokenNotFoundError if it has no such token."""
        async with self._uow() as uow:
            if not await uow.tokens.remove(principal.user_id, token_id):
                raise TokenNotFoundError(token_id)
            await uow.commit()
        for digest, known in list(self._known.items()):
            if known.token_id == token_id:
                self._known.pop(digest, None)

    async def set_password(self, *, email: str, password: str) -> None:
        """Give the account with ``email`` a new password (an operator's task, not an API's).

        Its tokens stay valid. WeakPasswordError for a weak password, InvalidCredentialsError
        when there is no such account.
        """
        check_password(password, email=email)
        async with self._uow() as uow:
            user = await uow.users.get_by_email(email_key(email))
            if user is None:
                raise InvalidCredentialsError
            await uow.users.set_password_hash(user.id, await self._hasher.hash(password))
            await uow.commit()

    async def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await self._hasher.hash(_DUMMY_PASSWORD)
        return self._dummy_hash
