# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Readiness, on a stand-in for the database's schema state."""

import logging

from notes.services.health import HealthService


class SchemaAt:
    """The ``SchemaState`` port, answering a fixed revision, or failing as a dead database."""

    def __init__(self, revision, *, reachable=True):
        self.revision = revision
        self.reachable = reachable

    def describe(self):
        return "db.example:5432/notes"

    async def current_revision(self):
        if not self.reachable:
            msg = "connection refused"
            raise ConnectionError(msg)
        return self.revision


async def test_ready_when_the_schema_is_at_the_expected_revision():
    answer = await HealthService(SchemaAt("0005"), expected_revision="0005").readiness()
    assert (answer.ready, answer.status) == (True, "ready")
    assert (answer.schema_revision, answer.expected_revision) == ("0005", "0005")
    assert answer.database == "db.example:5432/notes"


async def test_not_ready_when_the_schema_is_behind_or_never_migrated():
    for revision in ("0004", None):
        answer = await HealthService(SchemaAt(revision), expected_revision="0005").readiness()
        assert (answer.ready, answer.status) == (False, "schema not at migration head")
        assert (answer.schema_revision, answer.database) == (revision, "db.example:5432/notes")


async def test_not_ready_and_logged_when_the_database_cannot_be_reached(caplog):
    schema = SchemaAt("0005", reachable=False)
    with caplog.at_level(logging.WARNING, logger="notes.services.health"):
        answer = await HealthService(schema, expected_revision="0005").readiness()
    assert (answer.ready, answer.status, answer.schema_revision, answer.database) == (
        False,
        "database unreachable",
        None,
        "db.example:5432/notes",
    )
    assert caplog.messages == [
        "readiness: database db.example:5432/notes unreachable: connection refused"
    ]
