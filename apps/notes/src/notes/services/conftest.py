# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Test doubles for the services' unit tests: a clock that moves, and reads that are recorded."""

from datetime import UTC, datetime, timedelta

import pytest

from notes.connectors.memory import InMemoryNoteRepository, InMemoryUnitOfWork


class StepClock:
    """A clock that moves one second on every reading."""

    def __init__(self):
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self):
        self.now += timedelta(seconds=1)
        return self.now


class ReadRecordingRepository(InMemoryNoteRepository):
    """The in-memory repository, noting for each read whether it asked for a row lock."""

    def __init__(self, rows, reads):
        super().__init__(rows)
        self.reads = reads

    async def get(self, note_id):
        self.reads.append((note_id, False))
        return await super().get(note_id)

    async def get_for_update(self, note_id):
        self.reads.append((note_id, True))
        return await super().get_for_update(note_id)


class ReadRecordingUnitOfWork(InMemoryUnitOfWork):
    """A unit of work whose repository records its reads in ``reads``."""

    def __init__(self):
        super().__init__()
        self.reads = []

    async def __aenter__(self):
        await super().__aenter__()
        self.notes = ReadRecordingRepository(self.notes.rows, self.reads)
        return self


@pytest.fixture
def clock():
    """A clock that moves one second on every reading; set ``clock.now`` to jump."""
    return StepClock()


@pytest.fixture
def recording_uow():
    """An in-memory unit of work whose ``reads`` lists (note id, locked?) for every read."""
    return ReadRecordingUnitOfWork()
