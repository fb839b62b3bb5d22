# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Readiness, on a stand-in for the database's state."""

import logging

import pytest

from notes.core.errors import DatabaseTimeoutError, DatabaseUnavailableError
from notes.services.health import HealthService


class DatabaseAt:
    """The ``DatabaseState`` port: a fixed revision, and writes or reads that fail on demand."""

    def __init__(self, revision, *, writes=None, reads=None):
        self.revision = revision
        self.writes = writes
        self.reads = reads

    def describe(self):
        return "db.example:5432/notes"

    async def current_revision(self):
        if self.writes is not None:
            raise self.writes
        return self.revision

    async def check_reads(self):
        if self.reads is not None:
            raise self.reads


async def test_ready_when_the_schema_is_at_the_expected_revision():
    answer = await HealthService(DatabaseAt("0005"), expected_revision="0005").readiness()
    assert (answer.ready, answer.status) == (True, "ready")
    assert (answer.schema_revision, answer.expected_revision) == ("0005", "0005")
    assert answer.database == "db.example:5432/notes"


async def test_not_ready_when_the_schema_is_behind_or_never_migrated():
    for revision in ("0004", None):
        answer = await HealthService(DatabaseAt(revision), expected_revision="0005").readiness()
        assert (answer.ready, answer.status) == (False, "schema not at migration head")
        assert (answer.schema_revision, answer.database) == (revision, "db.example:5432/notes")


async def test_not_ready_and_logged_when_writes_cannot_reach_the_database(caplog):
    database = DatabaseAt("0005", writes=DatabaseUnavailableError("connection refused"))
    with caplog.at_level(logging.WARNING, logger="notes.services.health"):
        answer = await HealthService(database, expected_revision="0005").readiness()
    assert (answer.ready, answer.status, answer.schema_revision) == (
        False,
        "database unreachable",
        None,
    )
    assert "db.example:5432/notes unreachable: connection refused" in caplog.text


async def test_not_ready_and_logged_when_reads_fail_though_writes_work(caplog):
    database = DatabaseAt("0005", reads=DatabaseTimeoutError("no connection in time"))
    with caplog.at_level(logging.WARNING, logger="notes.services.health"):
        answer = await HealthService(database, expected_revision="0005").readiness()
    assert (answer.ready, answer.status, answer.schema_revision) == (
        False,
        "reads unavailable",
        None,
    )
    assert "reads from db.example:5432/notes fail: no connection in time" in caplog.text


async def test_an_error_that_is_no_outage_is_raised_not_reported_as_unready():
    for database in (
        DatabaseAt("0005", reads=ValueError("a bug")),
        DatabaseAt("0005", writes=ValueError("a bug")),
    ):
        with pytest.raises(ValueError, match="a bug"):
            await HealthService(database, expected_revision="0005").readiness()
