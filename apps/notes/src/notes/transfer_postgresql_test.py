# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Export and import on PostgreSQL: the COPY path, a batch the server refuses, the cursor.

The imports commit for real, each test for an account of its own.
"""

import json
import uuid
from contextlib import aclosing

import pytest

from notes.connectors.database import create_read_pool
from notes.connectors.notes_repository import PooledNoteReader
from notes.connectors.transfer import PooledNoteExporter
from notes.core.config import Settings
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


async def test_leaving_an_export_early_closes_the_cursor_and_ends_the_transaction(
    committing_uow, read_pool, owner, sql, app_settings
):
    service = TransferService(committing_uow, PooledNoteExporter(read_pool), export_batch=10)
    sent = [{"contents": f"n{i}"} for i in range(100)]
    await service.import_notes(owner, chunks(ndjson(sent)), parse=parse_line)

    async with aclosing(service.export(owner)) as parts:
        async for part in parts:
            assert part.count(b"\n") == 10
            held = await _in_transaction(sql, app_settings.app_name)
            assert [query for _, query in held] == ['FETCH FORWARD 10 FROM "notes_export"']
            break
    assert await _in_transaction(sql, app_settings.app_name) == []
    # The connection went back to the pool, fit for the next request.
    assert len(await _export(service, owner)) == 100
