# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The app's process: it refuses to start where its workers would each sign cursors with a key
of their own, ends its streams on a stop signal, and settles its garbage collector."""

import asyncio
import gc
import multiprocessing
import signal

import pytest
from pydantic import SecretStr

from notes.core.config import Settings
from notes.interface.app import (
    GC_YOUNG_THRESHOLD,
    SharedSecretRequiredError,
    ending_streams_on_signals,
    one_of_several_workers,
    refuse_a_key_per_worker,
    settle_garbage_collector,
)

URL = "postgresql://nobody@127.0.0.1:1/none"


def test_a_process_started_alone_is_not_one_of_several_workers(monkeypatch):
    monkeypatch.delenv("SERVER_SOFTWARE", raising=False)
    assert not one_of_several_workers()


def test_a_process_started_by_multiprocessing_or_gunicorn_is_one_of_several(monkeypatch):
    monkeypatch.delenv("SERVER_SOFTWARE", raising=False)
    monkeypatch.setattr(multiprocessing, "parent_process", object)
    assert one_of_several_workers()
    monkeypatch.undo()
    monkeypatch.setenv("SERVER_SOFTWARE", "gunicorn/23.0.0")
    assert one_of_several_workers()


def test_one_of_several_workers_needs_the_shared_secret(monkeypatch):
    monkeypatch.setattr(multiprocessing, "parent_process", object)
    with pytest.raises(SharedSecretRequiredError, match="NOTES_CURSOR_SECRET is not set"):
        refuse_a_key_per_worker(Settings(database_url=URL, cursor_secret=None))
    refuse_a_key_per_worker(Settings(database_url=URL, cursor_secret=SecretStr("s" * 32)))


def test_a_process_alone_may_draw_its_own_key(monkeypatch):
    monkeypatch.delenv("SERVER_SOFTWARE", raising=False)
    refuse_a_key_per_worker(Settings(database_url=URL, cursor_secret=None))


async def test_a_stop_signal_ends_the_streams_then_reaches_the_handler_that_was_there():
    seen, ended = [], []

    def handler(signum, _):
        seen.append(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        async with ending_streams_on_signals(lambda: ended.append(True)):
            signal.raise_signal(signal.SIGTERM)
            await asyncio.sleep(0)  # the loop runs what the handler scheduled
            assert ended == [True]
            assert seen == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGTERM) is handler
        signal.raise_signal(signal.SIGTERM)  # the handler that was there is back
        assert ended == [True]
        assert seen == [signal.SIGTERM, signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)


async def test_off_the_main_thread_no_signal_handler_is_touched():
    before = signal.getsignal(signal.SIGTERM)

    async def in_a_thread():
        async with ending_streams_on_signals(lambda: None):
            return signal.getsignal(signal.SIGTERM)

    during = await asyncio.to_thread(asyncio.run, in_a_thread())
    assert during is before


def test_settling_the_collector_freezes_what_start_up_made_and_collects_less_often():
    threshold = gc.get_threshold()
    try:
        settle_garbage_collector()
        assert gc.get_freeze_count() > 10_000  # modules, classes, the app: left out from now on
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *threshold[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
