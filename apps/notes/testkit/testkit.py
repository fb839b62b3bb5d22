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

# Webhook hosts for tests on the fakes, resolved by a StaticResolver: nothing is ever sent to
# them (the in-memory tests have no HTTP client), they only pass or fail the address rules.
RECEIVER_URL = "https://hooks.example.com/notes"
PUBLIC_HOSTS = {"hooks.example.com": ["93.184.215.14"], "dual.example.com": ["2606:4700::1"]}

# Names that resolve (through a StaticResolver) to addresses a webhook may not reach.
FORBIDDEN_HOSTS = {
    "loopback.test": ["127.0.0.1"],
    "loopback6.test": ["::1"],
    "private.test": ["10.1.2.3"],
    "private172.test": ["172.16.0.9"],
    "private192.test": ["192.168.1.1"],
    "metadata.test": ["169.254.169.254"],
    "linklocal6.test": ["fe80::1"],
    "cgnat.test": ["100.64.0.1"],
    "multicast.test": ["224.0.0.1"],
    "multicast6.test": ["ff02::1"],
    "ula.test": ["fd00::1"],
    "unspecified.test": ["0.0.0.0"],  # noqa: S104 - an address refused, never bound
    "mapped.test": ["::ffff:127.0.0.1"],
    "nat64.test": ["64:ff9b::a01:203"],
    "mixed.test": ["93.184.215.14", "192.168.1.1"],
}
ALL_HOSTS = {**PUBLIC_HOSTS, **FORBIDDEN_HOSTS}

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
