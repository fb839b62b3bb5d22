"""Constants and small helpers the notes service's tests share, importable as ``testkit``.

It sits outside the package (pytest's ``pythonpath``), so it never ships in the image; the
fixtures themselves are in ``apps/notes/conftest.py``.
"""

from __future__ import annotations

import uuid

# The account that notes built by NoteFactory belong to: stored in every test database (it
# cannot log in), and any owner will do on the in-memory fakes.
OWNER = uuid.UUID("00000000-0000-7000-8000-000000000001")
# Another account, for tests of what one owner must never see of another's.
OTHER_OWNER = uuid.UUID("00000000-0000-7000-8000-000000000002")

# Webhook hosts for tests on the fakes, resolved by a StaticResolver: nothing is ever sent to
# them (the in-memory tests have no HTTP client), they only pass or fail the address rules.
RECEIVER_URL = "https://hooks.example.com/notes"
PUBLIC_HOSTS = {"hooks.example.com": ["93.184.215.14"], "dual.example.com": ["2606:4700::1"]}

PASSWORD = "a fine long password"  # noqa: S105 - the test accounts' password, nothing secret


def new_email(prefix: str = "user") -> str:
    """An email no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


def bearer(token: str) -> dict[str, str]:
    """The header that presents ``token``."""
    return {"Authorization": f"Bearer {token}"}
