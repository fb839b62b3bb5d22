# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The worker as a separate process: at-least-once dispatch across crashes, clean stops."""

import asyncio
import signal

import pytest
from testkit import OWNER

from notes.services.notes import NotesService

# Every test here starts worker processes of its own.
pytestmark = [pytest.mark.external, pytest.mark.own_process]


async def until(condition, seconds=30.0):
    """Poll ``condition`` (a coroutine function) until it is true; fail after ``seconds``."""
    async with asyncio.timeout(seconds):
        while not await condition():  # noqa: ASYNC110 - a bounded poll of another process's work
            await asyncio.sleep(0.05)


async def test_events_committed_while_no_worker_runs_are_dispatched_by_the_next_one(
    launcher, committing_uow, make_unique
):
    crashed = launcher.start_worker()
    crashed.process.send_signal(signal.SIGKILL)  # dies with no chance to clean up
    assert crashed.process.wait(timeout=10) == -signal.SIGKILL

    tag = make_unique("tag").replace("-", "_")
    note = await NotesService(committing_uow).create(OWNER, contents=f"after the crash #{tag}")

    async def tagged():
        async with committing_uow() as uow:
            return await uow.note_tags.note_tags(note.id) == {tag}

    assert not await tagged()  # nobody dispatched it yet
    launcher.start_worker()
    await until(tagged)
    async with committing_uow() as uow:
        counts = {t.name: t.count for t in await uow.counts.tag_counts(OWNER, limit=100_000)}
    assert counts[tag] == 1


def test_sigterm_stops_the_worker_cleanly_with_exit_zero(launcher):
    worker = launcher.start_worker()
    worker.process.send_signal(signal.SIGTERM)
    assert worker.process.wait(timeout=20) == 0
    log = worker.log()
    assert "SIGTERM received: finishing the current batch, then stopping" in log
    assert "worker stopped" in log
