# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Contract tests: each connector test taking ``uow`` runs on the in-memory fake and PostgreSQL."""

import pytest

from notes.connectors.memory import InMemoryUnitOfWork


@pytest.fixture(
    params=[
        pytest.param("memory"),
        pytest.param("postgresql", marks=pytest.mark.integrated),
    ]
)
def uow(request):
    """A unit of work of each kind: the fake, then the real one in a rolled-back transaction."""
    if request.param == "memory":
        return InMemoryUnitOfWork()
    return request.getfixturevalue("sql_uow")
