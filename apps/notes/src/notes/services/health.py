"""Whether this process can serve: the readiness use case."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from notes.services.ports import SchemaState

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
    """Readiness: the database answers and its schema is at the migration the code expects."""

    def __init__(self, schema: SchemaState, *, expected_revision: str) -> None:
        self._schema = schema
        self._expected = expected_revision

    async def readiness(self) -> Readiness:
        """Ask the database; never raises for a database that is down."""
        database = self._schema.describe()
        try:
            revision = await self._schema.current_revision()
        except ConnectionError as error:
            _logger.warning("readiness: database %s unreachable: %s", database, error)
            return self._answer("database unreachable", database, None)
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
