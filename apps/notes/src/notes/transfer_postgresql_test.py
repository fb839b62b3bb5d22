# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Export and import on PostgreSQL: COPY both ways, a batch the server refuses, leaving early.

The imports commit for real, each test for an account of its own.
"""

import asyncio
import json
import time
import uuid
from contextlib import aclosing

import pytest

from notes.connectors.database import create_read_pool
from notes.connectors.notes_repository import PooledNoteReader
from notes.connectors.transfer import PooledNoteExporter
from notes.core.config import Settings
from notes.core.errors import DatabaseTimeoutError, DatabaseUnavailableError
from notes.entities import NoteFilter
from notes.interface.routers.transfer import parse_line
from notes.interface.schemas import NoteRead
from notes.services.transfer import ImportInterruptedError, TransferService

pytestmark = pytest.mark.integrated


@pytest.fixture
async def owner(sql):
    owner_id = uuid.uuid4()
    await sql.execute(
        "INSERT INTO users (id, email, email_key, password_hash, created_at)"
        " VALUES (:id, :email, :email, NULL, now())",
        id=owner_id,
        email=f"{owner_id}@example.com",
    )
    return owner_id


@pytest.fixture
async def app_settings(settings, make_unique):
    return Settings(database_url=settings.database_url, app_name=make_unique("transfer"))


@pytest.fixture
async def read_pool(app_settings):
    pool = create_read_pool(app_settings)
    await pool.open(wait=True, timeout=10)
    yield pool
    await pool.close()


@pytest.fixture
def transfer(committing_uow, read_pool):
    return TransferService(committing_uow, PooledNoteExporter(read_pool), import_batch=1000)


def ndjson(notes):
    return b"".join(json.dumps(note).encode() + b"\n" for note in notes)


async def chunks(data, size=65536):
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def _export(transfer, owner, where=None):
    stream = transfer.export(owner) if where is None else transfer.export(owner, where=where)
    async with aclosing(stream) as parts:
        body = b"".join([part async for part in parts])
    return [json.loads(line) for line in body.splitlines()]


async def test_an_import_is_copied_in_with_one_created_event_a_note(
    transfer, owner, sql, read_pool
):
    sent = [{"contents": f"walk the dogs {i} #pets", "category": f"c{i % 2}"} for i in range(2500)]
    report = await transfer.import_notes(owner, chunks(ndjson(sent)), parse=parse_line)

    assert (report.created, report.invalid) == (2500, 0)
    notes = await sql.scalar("SELECT count(*) FROM notes WHERE owner_id = :o", o=owner)
    events = await sql.fetch(
        "SELECT type, payload FROM events WHERE owner_id = :o ORDER BY id", o=owner
    )
    assert notes == 2500
    assert len(events) == 2500
    assert {event_type for event_type, _ in events} == {"NoteCreated"}
    assert {json.dumps(payload, sort_keys=True) for _, payload in events} == {
        json.dumps({"category": "c0", "tags": ["pets"]}, sort_keys=True),
        json.dumps({"category": "c1", "tags": ["pets"]}, sort_keys=True),
    }
    # The generated search column was computed for the copied rows.
    found = await PooledNoteReader(read_pool).list(
        owner, limit=10_000, where=NoteFilter(text="walking dog")
    )
    assert len(found) == 2500


async def test_the_export_holds_what_the_list_shows_newest_first(transfer, owner, read_pool):
    sent = [{"contents": f'n{i} "quoted" \\ ünïcode', "category": "x"} for i in range(1200)]
    await transfer.import_notes(owner, chunks(ndjson(sent)), parse=parse_line)

    exported = await _export(transfer, owner)
    listed = await PooledNoteReader(read_pool).list(owner, limit=10_000)

    assert [NoteRead.model_validate(line) for line in exported] == [
        NoteRead.from_entity(note) for note in listed
    ]
    assert all(line["creation_date"].endswith("+00:00") for line in exported)
    assert await _export(transfer, owner, NoteFilter(category="y")) == []


async def test_a_batch_the_server_refuses_is_not_half_written(
    committing_uow, read_pool, owner, sql
):
    def parse_letting_a_long_category_through(line):
        fields = json.loads(line)
        return fields["contents"], fields["category"]

    # Batches of 3: lines 1-3 are stored; line 5's category is too long for its column, so the
    # COPY of lines 4-6 fails at the server after line 4 went in, and none of 4-6 is kept.
    sent = [{"contents": f"n{i}", "category": "ok"} for i in range(6)]
    sent[4]["category"] = "x" * 101
    service = TransferService(committing_uow, PooledNoteExporter(read_pool), import_batch=3)
    with pytest.raises(ImportInterruptedError) as stopped:
        await service.import_notes(
            owner, chunks(ndjson(sent)), parse=parse_letting_a_long_category_through
        )

    assert (stopped.value.report.created, stopped.value.resume_from_line) == (3, 4)
    assert "too long" in str(stopped.value.__cause__)
    stored = await sql.fetch(
        "SELECT contents FROM notes WHERE owner_id = :o ORDER BY contents", o=owner
    )
    assert [row[0] for row in stored] == ["n0", "n1", "n2"]
    assert await sql.scalar("SELECT count(*) FROM events WHERE owner_id = :o", o=owner) == 3


async def _in_transaction(sql, app_name):
    return await sql.fetch(
        "SELECT state, query FROM pg_stat_activity"
        " WHERE application_name = :name AND xact_start IS NOT NULL",
        name=app_name,
    )


async def _many_large_notes(sql, owner, count=20_000):
    """``count`` notes of some 600 characters that do not compress, stored directly: 12 MB,
    more than the socket buffers between the server and the app hold (so the COPY still runs
    after one chunk), and more than PostgreSQL's least sizes for a parallel index scan."""
    await sql.execute(
        "INSERT INTO notes (id, owner_id, contents, category, creation_date, updated_at, version)"
        " SELECT gen_random_uuid(), :o, (SELECT string_agg(md5(g || '-' || i || random()), ' ')"
        " FROM generate_series(1, 18) i), 'c', now() - g * interval '1 ms', now(), 1"
        " FROM generate_series(1, :count) g",
        o=owner,
        count=count,
    )
    await sql.execute("ANALYZE notes")


async def test_leaving_an_export_early_cancels_the_copy_and_ends_the_transaction(
    committing_uow, read_pool, owner, sql, app_settings
):
    await _many_large_notes(sql, owner)
    service = TransferService(committing_uow, PooledNoteExporter(read_pool), export_batch=10)

    async with aclosing(service.export(owner)) as parts:
        async for part in parts:
            assert part.count(b"\n") == 10
            held = await _in_transaction(sql, app_settings.app_name)
            assert held, "the export holds no transaction"
            assert all(state == "active" for state, _ in held), held
            assert all(query.startswith("COPY (SELECT concat(") for _, query in held), held
            # The session, and the parallel workers that render the lines beside it.
            assert len(held) >= 2, held
            break
    assert await _in_transaction(sql, app_settings.app_name) == []
    # The connection went back to the pool, fit for the next request.
    assert len(await _export(service, owner)) == 20_000


async def test_each_line_is_the_notes_json_whatever_its_characters(transfer, owner, sql):
    # The COPY's delimiter and quote (U+0002, U+0001), CSV's own quote, line ends, COPY's
    # end-of-data marker and text escapes: each note must come back as it was, one a line.
    contents = ["a\x01b\x02c", '"quoted", comma', "line\r\nend\n", "\\.", "tab\t\\ \\N", "ünï 🎉"]
    for position, text in enumerate(contents):
        await sql.execute(
            "INSERT INTO notes (id, owner_id, contents, category, creation_date, updated_at,"
            " version) VALUES (gen_random_uuid(), :o, :c, :k, now() - :p * interval '1 s',"
            " now(), 1)",
            o=owner,
            c=text,
            k=text[:5],
            p=position,
        )

    stream = transfer.export(owner)
    async with aclosing(stream) as parts:
        body = b"".join([part async for part in parts])

    lines = body.split(b"\n")
    assert lines[-1] == b""  # every line ends with a newline
    notes = [json.loads(line) for line in lines[:-1]]
    assert [(note["contents"], note["category"]) for note in notes] == [
        (text, text[:5]) for text in contents
    ]


async def test_an_export_longer_than_the_statement_timeout_is_not_cut(
    committing_uow, owner, sql, settings, make_unique
):
    await _many_large_notes(sql, owner)
    quick = Settings(
        database_url=settings.database_url,
        app_name=make_unique("transfer"),
        db_statement_timeout=0.2,
    )
    pool = create_read_pool(quick)
    await pool.open(wait=True, timeout=10)
    try:
        service = TransferService(committing_uow, PooledNoteExporter(pool))
        lines = 0
        started = time.monotonic()
        async with aclosing(service.export(owner)) as parts:
            async for part in parts:
                lines += part.count(b"\n")
                await asyncio.sleep(0.01)  # a client slower than the server
        assert time.monotonic() - started > 0.2
        assert lines == 20_000
    finally:
        await pool.close()


async def _read_and_end_the_copy(export, end, sql, app_name, got):
    """Read ``export`` to its end, ending its COPY's session with ``end`` after one chunk;
    the lines read go into ``got``."""
    async with aclosing(export) as parts:
        async for part in parts:
            if not got:
                assert await sql.scalar(
                    f"SELECT {end}(pid) FROM pg_stat_activity"  # noqa: S608 - a test's own
                    " WHERE application_name = :name AND query LIKE 'COPY%'"
                    " AND leader_pid IS NULL",
                    name=app_name,
                )
            got.append(part.count(b"\n"))


@pytest.mark.parametrize(
    "ending",
    [
        ("pg_terminate_backend", DatabaseUnavailableError),
        ("pg_cancel_backend", DatabaseTimeoutError),
    ],
)
async def test_a_copy_the_server_ends_midway_fails_the_export_and_the_pool_recovers(
    transfer, owner, sql, app_settings, ending
):
    end, error = ending
    await _many_large_notes(sql, owner)

    got: list[int] = []
    with pytest.raises(error):
        await _read_and_end_the_copy(transfer.export(owner), end, sql, app_settings.app_name, got)
    assert 0 < sum(got) < 20_000  # what was already on its way, not the rest
    # The pool may be opening a connection in place of an ended one: wait for it.
    async with asyncio.timeout(10):
        while held := await _in_transaction(sql, app_settings.app_name):
            assert all(state == "starting" for state, _ in held), held
            await asyncio.sleep(0.05)
    assert len(await _export(transfer, owner)) == 20_000
