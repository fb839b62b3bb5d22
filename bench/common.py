"""Shared pieces of the benchmark scripts: the database to use, the machine, tables."""

from __future__ import annotations

import hashlib
import os
import platform
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
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


def embedded_server_pid() -> int | None:
    """The embedded server's postmaster, when the benchmarks run on it; None otherwise."""
    if os.environ.get("NOTES_DATABASE_URL"):
        return None
    server = localpg.find_running(localdb.DATA_DIR)
    return server.pid if server else None


def descendants(pid: int) -> list[int]:
    """The processes whose parent is ``pid``, and theirs (Linux: from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = _stat_fields(stat.read_text())
        except OSError:  # ended meanwhile
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cpu_seconds(root: int) -> float:
    """CPU time used so far by process ``root`` and its descendants (user and system).

    Children that ended and were waited for count through their parent's ``cutime`` and
    ``cstime``, so a process that ends between two readings is neither lost nor counted twice.
    """
    ticks = 0
    for pid in [root, *descendants(root)]:
        try:
            fields = _stat_fields(Path(f"/proc/{pid}/stat").read_text())
        except OSError:
            continue
        # utime, stime, cutime, cstime: fields 14 to 17 of proc(5).
        ticks += sum(int(value) for value in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def _stat_fields(text: str) -> list[str]:
    """The fields of /proc/PID/stat from the third (state) on; the command name may hold
    spaces and parentheses, so the line is split after its last ``)``."""
    return text.rsplit(")", 1)[1].split()


def rss_kib(pid: int) -> int | None:
    """The resident memory of process ``pid`` (``VmRSS``) in KiB, or None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_mb(pid: int) -> float:
    """The resident memory of process ``pid`` in MB (10^6 bytes); 0 once it is gone."""
    return (rss_kib(pid) or 0) * 1024 / 1e6


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
    account_id = uuid.uuid4()
    now = datetime.now(UTC)
    with psycopg.connect(localpg.libpq_url(url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO users (id, email, email_key, password_hash, created_at)"
            " VALUES (%s, %s, %s, NULL, %s)",
            (account_id, f"{account_id}@bench.example", f"{account_id}@bench.example", now),
        )
    (token,) = store_tokens(url, account_id, 1)
    return BenchAccount(account_id, token)


def store_tokens(url: str, account_id: uuid.UUID, count: int) -> list[str]:
    """Store ``count`` new tokens of the account, valid for a day, directly (COPY); their values.

    Stored as the service stores them: the SHA-256 of each value, which has the service's form
    (``nt_`` and 43 base64url characters).
    """
    now = datetime.now(UTC)
    values = ["nt_" + secrets.token_urlsafe(32) for _ in range(count)]
    with (
        psycopg.connect(localpg.libpq_url(url), autocommit=True) as conn,
        conn.cursor() as cur,
        cur.copy(
            "COPY tokens (id, user_id, token_hash, created_at, expires_at) FROM STDIN"
        ) as copy,
    ):
        for value in values:
            digest = hashlib.sha256(value.encode()).digest()
            copy.write_row((uuid.uuid4(), account_id, digest, now, now + timedelta(days=1)))
    return values


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    command: Sequence[str], port: int, log: Path, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    """Start ``command`` (a server on ``port``, output to ``log``); its process.

    Call ``wait_ready`` before using it, so that several servers can start at the same time.
    """
    return subprocess.Popen(  # noqa: S603 - the benchmarks' own command lines
        list(command), cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )


def wait_ready(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Return once the server on ``port`` answers ``/health/ready``; exit if it never does."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready") as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    process.kill()
    msg = f"the server on port {port} did not become ready:\n{log.read_text()}"
    raise SystemExit(msg)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server started by ``start_server`` (SIGTERM, then SIGKILL after 30 s)."""
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


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
