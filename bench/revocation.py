"""How long a revoked token is still honoured: the worst case, across two API processes.

Starts the API with 2 workers (separate processes, as ``python -m notes --workers 2`` serves
it) on a database of its own, ``notes_bench_revocation``. Each trial stores a new token and
opens one keep-alive connection to each worker: the worker that accepted a connection is the
process holding the server end of its socket (``/proc/net/tcp`` and ``/proc/PID/fd``; Linux
only). Then it sets up the worst case: one worker looks the token up (``GET /users/me``,
which puts it in that worker's cache), and right after, the other revokes it
(``DELETE /tokens/current``). From the revocation's answer, both workers are asked with the
token (``GET /users/me``), in turn, until each refuses it (401). The revoking worker swaps
with every trial. The figure is how long each worker kept honouring the revoked token:
from the revocation's answer to its last 200, and to its first 401.

    python bench/revocation.py [--trials 6] [--cache-seconds 5]
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import localpg
from common import (
    bench_account,
    descendants,
    free_port,
    fresh_database,
    machine,
    migrate,
    server_url,
    start_server,
    stop,
    store_tokens,
    table,
    wait_ready,
)

DATABASE = "notes_bench_revocation"
POLL_SECONDS = 0.005  # between two rounds of asking both workers
GRACE_SECONDS = 10.0  # how long past the cache's bound a trial waits before it gives up
MAX_CONNECTIONS = 200  # opened, at most, to reach both workers
WORKERS = 2


def _loopback(port: int) -> str:
    """127.0.0.1:port as ``/proc/net/tcp`` writes it (the address in host byte order, x86)."""
    return f"0100007F:{port:04X}"


def serving_process(connection: http.client.HTTPConnection, port: int, pids: set[int]) -> int:
    """The process among ``pids`` that holds the server end of ``connection``; 0 if none."""
    assert connection.sock is not None  # noqa: S101 - connected by the caller's request
    client_port = connection.sock.getsockname()[1]
    inodes = {
        fields[9]
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
        if (fields := line.split())[1] == _loopback(port) and fields[2] == _loopback(client_port)
    }
    targets = {f"socket:[{inode}]" for inode in inodes}
    for pid in pids:
        try:
            descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for descriptor in descriptors:
            try:
                if str(descriptor.readlink()) in targets:
                    return pid
            except OSError:
                continue
    return 0


def status(
    connection: http.client.HTTPConnection, method: str, path: str, token: str | None = None
) -> int:
    """The status of one request on ``connection`` (its body read, so it can be reused)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    connection.request(method, path, headers=headers)
    response = connection.getresponse()
    response.read()
    return response.status


def one_per_worker(port: int, processes: set[int]) -> dict[int, http.client.HTTPConnection]:
    """A connection to each of the WORKERS workers among ``processes``, by process id."""
    found: dict[int, http.client.HTTPConnection] = {}
    for _ in range(MAX_CONNECTIONS):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        status(connection, "GET", "/")  # accepted and served: now held by a worker
        pid = serving_process(connection, port, processes)
        if pid and pid not in found:
            found[pid] = connection
            if len(found) == WORKERS:
                return found
        else:
            connection.close()
    msg = f"{MAX_CONNECTIONS} connections did not reach every worker ({len(found)} reached)"
    raise SystemExit(msg)


@dataclass(frozen=True)
class Honoured:
    """How long one worker kept honouring a revoked token, from the revocation's answer."""

    last_ok_ms: float | None  # its last 200 (None: it never honoured it after the revocation)
    refused_ms: float  # its first 401


def trial(
    connections: dict[int, http.client.HTTPConnection],
    revoker: int,
    token: str,
    limit_seconds: float,
) -> tuple[float, dict[int, Honoured]]:
    """Look the token up on the other worker, revoke it on ``revoker``, poll both until each
    refuses it. The time between the lookup and the revocation's answer, and each worker's
    figures."""
    (other,) = (pid for pid in connections if pid != revoker)
    if status(connections[other], "GET", "/users/me", token) != 200:
        raise SystemExit("the new token was refused before its revocation")
    looked_up = time.monotonic()
    if status(connections[revoker], "DELETE", "/tokens/current", token) != 204:
        raise SystemExit("the revocation failed")
    revoked = time.monotonic()
    last_ok: dict[int, float] = {}
    refused: dict[int, float] = {}
    while len(refused) < len(connections):
        for pid, connection in connections.items():
            if pid in refused:
                continue
            answer = status(connection, "GET", "/users/me", token)
            elapsed_ms = (time.monotonic() - revoked) * 1000
            if answer == 401:
                refused[pid] = elapsed_ms
            elif answer == 200:
                last_ok[pid] = elapsed_ms
            else:
                msg = f"worker {pid} answered {answer}"
                raise SystemExit(msg)
        if time.monotonic() - revoked > limit_seconds + GRACE_SECONDS:
            msg = f"a worker still honoured the revoked token after {limit_seconds} s and more"
            raise SystemExit(msg)
        time.sleep(POLL_SECONDS)
    figures = {pid: Honoured(last_ok.get(pid), refused[pid]) for pid in connections}
    return (revoked - looked_up) * 1000, figures


def main() -> int:
    """Start the API, run the trials, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument(
        "--cache-seconds", type=float, default=5.0, help="NOTES_TOKEN_CACHE_SECONDS of the API"
    )
    options = parser.parse_args()

    url = fresh_database(DATABASE)
    migrate(url)
    account = bench_account(url)
    workdir = Path(tempfile.mkdtemp(prefix="notes-bench-revocation-"))
    log = workdir / "api.log"
    port = free_port()
    env = {
        **os.environ,
        "NOTES_DATABASE_URL": url,
        "NOTES_LOG_LEVEL": "WARNING",
        "NOTES_TOKEN_CACHE_SECONDS": str(options.cache_seconds),
    }
    api = start_server(
        [
            *(sys.executable, "-m", "notes", "--port", str(port)),
            *("--workers", str(WORKERS), "--no-access-log"),
        ],
        port,
        log,
        env,
    )
    rows = []
    longest = 0.0  # the latest 200 after a revocation, ms
    refused_by = 0.0  # the latest first 401, ms
    try:
        wait_ready(api, port, log)
        # The workers, and whatever else uvicorn started (multiprocessing's resource tracker).
        processes = set(descendants(api.pid))
        for number in range(1, options.trials + 1):
            (token,) = store_tokens(url, account.id, 1)
            connections = one_per_worker(port, processes)
            pids = sorted(connections)
            revoker = pids[number % 2]
            (other,) = (pid for pid in pids if pid != revoker)
            gap_ms, figures = trial(connections, revoker, token, options.cache_seconds)
            for connection in connections.values():
                connection.close()
            longest = max([longest, *(f.last_ok_ms or 0.0 for f in figures.values())])
            refused_by = max([refused_by, *(f.refused_ms for f in figures.values())])
            rows.append(
                [
                    number,
                    f"{gap_ms:.1f}",
                    _ms(figures[revoker].last_ok_ms),
                    f"{figures[revoker].refused_ms:.0f}",
                    _ms(figures[other].last_ok_ms),
                    f"{figures[other].refused_ms:.0f}",
                ]
            )
            print(f"trial {number}: done", flush=True)
    finally:
        stop(api)
    localpg.drop_database(server_url(), DATABASE)
    shutil.rmtree(workdir, ignore_errors=True)  # kept, with the API's log, when a trial failed

    print()
    print(
        f"Revocation: {machine()}; API with 2 workers, NOTES_TOKEN_CACHE_SECONDS="
        f"{options.cache_seconds:g}; {options.trials} trials; times from the revocation's answer"
    )
    print()
    print(
        table(
            [
                "trial",
                "lookup on the other worker, ms before the revocation's answer",
                "revoking worker: last 200, ms",
                "revoking worker: first 401, ms",
                "other worker: last 200, ms",
                "other worker: first 401, ms",
            ],
            rows,
        )
    )
    print()
    print(
        f"Longest a worker honoured the revoked token: {longest / 1000:.3f} s (its last 200); "
        f"every worker refused it within {refused_by / 1000:.3f} s "
        f"(bound: NOTES_TOKEN_CACHE_SECONDS = {options.cache_seconds:g} s)"
    )
    return 0


def _ms(value: float | None) -> str:
    return "never" if value is None else f"{value:.0f}"


if __name__ == "__main__":
    sys.exit(main())
