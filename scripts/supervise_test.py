# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The supervisor that ``make run`` uses: one stop signal ends every child, leaving none."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SUPERVISE = Path(__file__).with_name("supervise.py")

# A child that writes its pid, then sleeps until told to stop (exits 0 on SIGTERM).
CHILD = (
    "import os, signal, sys, time, pathlib; "
    "signal.signal(signal.SIGTERM, lambda *a: sys.exit(0)); "
    "pathlib.Path(sys.argv[1]).write_text(str(os.getpid())); "
    "time.sleep(600)"
)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _start(tmp_path, *commands, sleepers=2):
    process = subprocess.Popen([sys.executable, str(SUPERVISE), *commands])
    pid_files = [tmp_path / f"child-{i}.pid" for i in range(sleepers)]
    deadline = time.monotonic() + 30
    while not all(f.exists() and f.read_text() for f in pid_files):
        assert time.monotonic() < deadline, "the children did not start"
        time.sleep(0.05)
    return process, [int(f.read_text()) for f in pid_files]


def _child(tmp_path, i):
    return f"{sys.executable} -c '{CHILD}' {tmp_path / f'child-{i}.pid'}"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_stops_every_child_and_exits_zero(tmp_path, signum):
    process, pids = _start(tmp_path, _child(tmp_path, 0), _child(tmp_path, 1))
    process.send_signal(signum)
    assert process.wait(timeout=30) == 0
    assert not [pid for pid in pids if _alive(pid)]


def test_when_one_child_exits_the_others_are_stopped_and_its_status_returned(tmp_path):
    failing = f"{sys.executable} -c 'import time; time.sleep(1); raise SystemExit(3)'"
    process, [pid] = _start(tmp_path, _child(tmp_path, 0), failing, sleepers=1)
    assert process.wait(timeout=30) == 3
    assert not _alive(pid)
