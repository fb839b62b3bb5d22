# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Test doubles for the services' unit tests that need no adapter: a clock that moves.

The in-memory fakes reach these tests through the fixtures of ``apps/notes/conftest.py``.
"""

from datetime import UTC, datetime, timedelta

import pytest


class StepClock:
    """A clock that moves one second on every reading."""

    def __init__(self):
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self):
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def clock():
    """A clock that moves one second on every reading; set ``clock.now`` to jump."""
    return StepClock()
