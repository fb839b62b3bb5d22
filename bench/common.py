"""Shared pieces of the benchmark scripts: the database to use, the machine, tables."""

from __future__ import annotations

import hashlib
import os
import platform
import secrets
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import localdb  # noqa: E402 - scripts/ is not a package; it is put on the path above
import localpg  # noqa: E402
import psycopg  # noqa: E402
from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402


def server_url() -> str:
    """The server to benchmark on: NOTES_DATABASE_URL's, else the embedded one."""
    configured = os.environ.get("NOTES_DATABASE_URL")
    if configured:
        return configured
    return localpg.ensure_running(localdb.DATA_DIR).url()


def fresh_database(name: str) -> str:
    """Drop and create database ``name`` on the benchmark server; its URL."""
    url = server_url()
    localpg.drop_database(url, name)
    localpg.create_database(url, name)
    return localpg.with_database(url, name)


def migrate(url: str) -> None:
    """Bring the database at ``url`` to the migration head."""
    config = Config(str(ROOT / "apps" / "notes" / "alembic.ini"))
    config.attributes["database_url"] = url
    config.attributes["configure_logging"] = False
    command.upgrade(config, "head")


@dataclass(frozen=True)
class BenchAccount:
    """The account the benchmark's notes belong to, and a bearer token of it."""

    id: uuid.UUID
    token: str


def bench_account(url: str) -> BenchAccount:
    """Store an account (it cannot log in) and a token of it, valid for a day, directly.

    Stored as the service stores them (the token's SHA-256), so the API accepts the token,
    without the cost of signing up and logging in through Argon2.
    """
    account = BenchAccount(uuid.uuid4(), "nt_" + secrets.token_urlsafe(32))
    now = datetime.now(UTC)
    with psycopg.connect(localpg.libpq_url(url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO users (id, email, email_key, password_hash, created_at)"
            " VALUES (%s, %s, %s, NULL, %s)",
            (account.id, f"{account.id}@bench.example", f"{account.id}@bench.example", now),
        )
        conn.execute(
            "INSERT INTO tokens (id, user_id, token_hash, created_at, expires_at)"
            " VALUES (%s, %s, %s, %s, %s)",
            (
                uuid.uuid4(),
                account.id,
                hashlib.sha256(account.token.encode()).digest(),
                now,
                now + timedelta(days=1),
            ),
        )
    return account


def machine() -> str:
    """Date, CPU model, core count and Python: what a figure was measured on."""
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{datetime.now(UTC):%Y-%m-%d}, {model}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table, so figures can be pasted into docs/benchmarks.md as they are printed."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    out = [line(cells[0]), "| " + " | ".join("-" * w for w in widths) + " |"]
    out += [line(row) for row in cells[1:]]
    return "\n".join(out)
