"""Password hashing with Argon2id (argon2-cffi): the adapter of the ``PasswordHasher`` port.

Parameters: Argon2id, 19 MiB of memory (``m=19456``), 2 passes (``t=2``), 1 lane (``p=1``), a
16-byte random salt and a 32-byte hash: OWASP's first recommended configuration for Argon2id.
Stored hashes carry their parameters (PHC form), so raising them later rehashes each password
at its owner's next login (``needs_rehash``).

Hashing is slow on purpose and runs in a thread, so it never stalls the event loop; at most
``concurrency`` hashes run at once, so a burst of logins queues instead of taking every core
and ``concurrency`` x 19 MiB of memory at most.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TIME_COST = 2
MEMORY_COST_KIB = 19_456
PARALLELISM = 1


class Argon2PasswordHasher:
    """Argon2id hashes, computed in threads, ``concurrency`` at a time."""

    def __init__(self, *, concurrency: int = 2) -> None:
        self._hasher = PasswordHasher(
            time_cost=TIME_COST, memory_cost=MEMORY_COST_KIB, parallelism=PARALLELISM
        )
        self._slots = asyncio.Semaphore(concurrency)

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        async with self._slots:
            try:
                return await asyncio.to_thread(self._hasher.verify, password_hash, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)
