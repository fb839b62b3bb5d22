# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from notes.connectors.database import describe, wait_for_database
from notes.core.errors import DatabaseUnavailableError


def _closed_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_waiting_for_an_absent_database_fails_after_the_attempts():
    port = _closed_port()
    engine = create_async_engine(f"postgresql+psycopg://u@127.0.0.1:{port}/db")
    try:
        with pytest.raises(
            DatabaseUnavailableError, match=f"127.0.0.1:{port}/db did not answer after 3"
        ):
            await wait_for_database(engine, attempts=3, interval=0.01)
    finally:
        await engine.dispose()


def test_describe_hides_the_password():
    engine = create_async_engine("postgresql+psycopg://user:secret@db.example:6543/notes")
    assert describe(engine) == "db.example:6543/notes"


@pytest.mark.integrated
async def test_waiting_for_a_live_database_returns(engine):
    await wait_for_database(engine, attempts=1, interval=0.01)
