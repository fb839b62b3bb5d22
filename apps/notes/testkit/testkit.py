"""Constants and small helpers the notes service's tests share, importable as ``testkit``.

It sits outside the package (pytest's ``pythonpath``), so it never ships in the image; the
fixtures themselves are in ``apps/notes/conftest.py``.
"""

from __future__ import annotations

import uuid

import httpx

# The account that notes built by NoteFactory belong to: stored in every test database (it
# cannot log in), and any owner will do on the in-memory fakes.
OWNER = uuid.UUID("00000000-0000-7000-8000-000000000001")
# Another account, for tests of what one owner must never see of another's.
OTHER_OWNER = uuid.UUID("00000000-0000-7000-8000-000000000002")

PASSWORD = "a fine long password"  # noqa: S105 - the test accounts' password, nothing secret


def new_email(prefix: str = "user") -> str:
    """An email no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


def bearer(token: str) -> dict[str, str]:
    """The header that presents ``token``."""
    return {"Authorization": f"Bearer {token}"}


async def sign_up(client: httpx.AsyncClient, email: str | None = None) -> str:
    """Create an account through the API and log in; the bearer token."""
    email = email or new_email()
    created = await client.post("/users/", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    token = await client.post("/tokens/", json={"email": email, "password": PASSWORD})
    assert token.status_code == 201, token.text
    value: str = token.json()["access_token"]
    return value
