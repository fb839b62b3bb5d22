"""What makes a password acceptable: its length, and not being one of the most common ones."""

from __future__ import annotations

import functools
from pathlib import Path

from notes.services.errors import WeakPasswordError

MIN_LENGTH = 12
# Argon2 reads the whole password once (BLAKE2b) before its memory-hard part, so a long
# password costs little more; the bound keeps what one request can make the service hash small.
MAX_LENGTH = 128
COMMON_PASSWORDS = Path(__file__).with_name("common_passwords.txt")


@functools.cache
def _common() -> frozenset[str]:
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(
        line.strip().lower() for line in lines if line.strip() and not line.startswith("#")
    )


def check_password(password: str, *, email: str = "") -> None:
    """Raise WeakPasswordError unless ``password`` may be used.

    It must have MIN_LENGTH to MAX_LENGTH characters, not be on the list of common passwords
    shipped with the code (compared case-insensitively), not be one character repeated, and
    not be the account's email or the part of it before the ``@``.
    """
    if len(password) < MIN_LENGTH:
        msg = f"it must have at least {MIN_LENGTH} characters"
        raise WeakPasswordError(msg)
    if len(password) > MAX_LENGTH:
        msg = f"it must have at most {MAX_LENGTH} characters"
        raise WeakPasswordError(msg)
    lowered = password.lower()
    if lowered in _common():
        msg = "it is one of the most commonly used passwords"
        raise WeakPasswordError(msg)
    if len(set(password)) == 1:
        msg = "it is one character repeated"
        raise WeakPasswordError(msg)
    email = email.strip().lower()
    if email and lowered in {email, email.partition("@")[0]}:
        msg = "it is the account's email"
        raise WeakPasswordError(msg)
