"""Whether this process can serve: the readiness use case."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from notes.core.errors import UnavailableError
from notes.services.ports import DatabaseState

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Readiness:
    """The answer to "can this process serve requests?", and why not when it cannot."""

    ready: bool
    status: str
    database: str
    schema_revision: str | None
    expected_revision: str


class HealthService:
    """Readiness: reads and writes both work, and the schema is at the migration the code
    expects."""

    def __init__(self, database: DatabaseState, *, expected_revision: str) -> None:
        self._database = database
        self._expected = expected_revision

    async def readiness(self) -> Readiness:
        """Ask the database, the way reads and the way writes go, at once; never raises for a
        database that is down."""
        database = self._database.describe()
        reads, revision = await asyncio.gather(
            self._database.check_reads(),
            self._database.current_revision(),
            return_exceptions=True,
        )
        if isinstance(revision, UnavailableError):
            _logger.warning("readiness: database %s unreachable: %s", database, revision)
            return self._answer("database unreachable", database, None)
        if isinstance(reads, UnavailableError):
            _logger.warning("readiness: reads from %s fail: %s", database, reads)
            return self._answer("reads unavailable", database, None)
        if isinstance(revision, BaseException):
            raise revision
        if isinstance(reads, BaseException):
            raise reads
        if revision != self._expected:
            return self._answer("schema not at migration head", database, revision)
        return self._answer("ready", database, revision, ready=True)

    def _answer(
        self, status: str, database: str, revision: str | None, *, ready: bool = False
    ) -> Readiness:
        return Readiness(
            ready=ready,
            status=status,
            database=database,
            schema_revision=revision,
            expected_revision=self._expected,
        )
