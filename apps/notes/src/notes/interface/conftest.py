# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""An in-process app whose notes service runs on the in-memory fakes: HTTP without a database."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest

from notes.connectors.memory import InMemoryDatabase
from notes.core.config import Settings
from notes.interface.app import create_app
from notes.interface.dependencies import get_notes_service, get_tags_service
from notes.services.dispatch import Dispatcher
from notes.services.listeners import build_bus
from notes.services.notes import NotesService
from notes.services.tags import TagsService

ApiFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@asynccontextmanager
async def _api(
    database: InMemoryDatabase | None = None, **settings: object
) -> AsyncIterator[httpx.AsyncClient]:
    # The URL points nowhere: the lifespan (which would connect) does not run under
    # ASGITransport, and the routes get a service on in-memory fakes instead.
    app = create_app(Settings(database_url="postgresql://nobody@127.0.0.1:1/none", **settings))  # type: ignore[arg-type]
    database = database or InMemoryDatabase()
    notes, tags = NotesService(database.unit_of_work), TagsService(database.unit_of_work)
    app.dependency_overrides[get_notes_service] = lambda: notes
    app.dependency_overrides[get_tags_service] = lambda: tags
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
def api_factory() -> ApiFactory:
    """Builds in-process clients; keyword arguments override settings."""
    return _api


@pytest.fixture
async def api(memory_db) -> AsyncIterator[httpx.AsyncClient]:
    async with _api(memory_db) as client:
        yield client


@pytest.fixture
def dispatch(memory_db):
    """Dispatches the events pending in the in-process app's database, as the worker would."""
    return Dispatcher(memory_db.unit_of_work, build_bus(memory_db.unit_of_work)).dispatch_pending
