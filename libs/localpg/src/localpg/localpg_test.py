# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

import localpg


@pytest.fixture
def data_dir():
    """A data folder outside pytest's ``tmp_path``: as root the server runs as another user,
    who must be let through every folder above it, and every pytest run that starts (xdist
    workers, other checkouts) takes that right away from ``/tmp/pytest-of-<user>`` again."""
    root = Path(tempfile.mkdtemp(prefix="localpg-test-"))
    yield root / "pg"
    shutil.rmtree(root, ignore_errors=True)


def test_with_database_keeps_the_server_and_options():
    url = "postgresql+psycopg://u:p@/postgres?host=/tmp/sock&port=5433"
    assert (
        localpg.with_database(url, "notes")
        == "postgresql+psycopg://u:p@/notes?host=/tmp/sock&port=5433"
    )


def test_libpq_url_drops_the_driver_suffix():
    assert localpg.libpq_url("postgresql+psycopg://u@h:1/db") == "postgresql://u@h:1/db"


def test_public_names_are_what_all_promises():
    assert set(localpg.__all__) == {
        "LocalServer",
        "create_database",
        "destroy",
        "drop_database",
        "ensure_running",
        "find_running",
        "libpq_url",
        "stop",
        "with_database",
    }
    assert all(hasattr(localpg, name) for name in localpg.__all__)


@pytest.mark.integrated
def test_processes_starting_one_server_at_once_all_get_it(data_dir):
    script = (
        "import sys, localpg; s = localpg.ensure_running(__import__('pathlib').Path(sys.argv[1]));"
        " print(s.pid)"
    )
    starters = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(data_dir)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    try:
        pids = {p.communicate(timeout=120)[0].strip() for p in starters}
        assert all(p.returncode == 0 for p in starters)
        assert len(pids) == 1
    finally:
        localpg.destroy(data_dir)


@pytest.mark.integrated
def test_server_starts_serves_a_new_database_stops_and_is_destroyed(data_dir):
    assert localpg.find_running(data_dir) is None
    server = localpg.ensure_running(data_dir)
    try:
        assert localpg.ensure_running(data_dir) == server  # already running: same server
        localpg.create_database(server.url(), "made_here")
        with psycopg.connect(server.url("made_here")) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("made_here",)
        localpg.drop_database(server.url(), "made_here")
    finally:
        assert localpg.stop(data_dir) is True
    assert localpg.find_running(data_dir) is None
    assert localpg.stop(data_dir) is False
    localpg.destroy(data_dir)
    assert not data_dir.exists()


@pytest.mark.integrated
def test_a_server_stopped_is_started_again_by_the_same_process(data_dir):
    first = localpg.ensure_running(data_dir)
    try:
        assert localpg.stop(data_dir) is True
        again = localpg.ensure_running(data_dir)
        assert again.pid != first.pid
        assert again.url() == first.url()  # same socket: clients find it where it was
        with psycopg.connect(again.url()) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        localpg.destroy(data_dir)
