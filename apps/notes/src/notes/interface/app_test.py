# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The app refuses to start where its workers would each sign cursors with a key of their own."""

import multiprocessing

import pytest
from pydantic import SecretStr

from notes.core.config import Settings
from notes.interface.app import (
    SharedSecretRequiredError,
    one_of_several_workers,
    refuse_a_key_per_worker,
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
