# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Export and import against the in-memory fakes: no database."""

import json
from contextlib import aclosing

import pytest
from testkit import OTHER_OWNER, OWNER

from notes.core.errors import CommitOutcomeUnknownError, DatabaseUnavailableError
from notes.entities import NO_FILTER, NoteCreated, NoteFilter
from notes.services.notes import NotesService
from notes.services.transfer import ImportInterruptedError, TransferService


def parse(line):
    """The lines of these tests: JSON with contents and category; ValueError otherwise."""
    try:
        fields = json.loads(line)
    except json.JSONDecodeError as error:
        msg = f"invalid JSON: {error.msg}"
        raise ValueError(msg) from None
    if not isinstance(fields.get("contents"), str) or not fields["contents"]:
        msg = "contents: a non-empty string is required"
        raise ValueError(msg)
    return fields["contents"], fields.get("category", "")


def ndjson(*notes):
    return b"".join(json.dumps(note).encode() + b"\n" for note in notes)


async def body_of(data, size=7):
    """``data`` in chunks of ``size`` bytes, as a request body arrives."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.fixture
def exporter(memory_exporter):
    return memory_exporter


@pytest.fixture
def transfer(memory_db, exporter):
    return TransferService(memory_db.unit_of_work, exporter, import_batch=3)


def stored_notes(memory_db):
    return sorted((n.contents, n.category) for n in memory_db.notes.values())


async def test_valid_lines_are_stored_in_batches_each_with_its_created_events(transfer, memory_db):
    body = ndjson(*({"contents": f"#t{i} note {i}", "category": f"c{i}"} for i in range(7)))
    report = await transfer.import_notes(OWNER, body_of(body), parse=parse)

    assert (report.created, report.invalid, report.lines, report.errors) == (7, 0, 7, [])
    assert memory_db.commits == 3  # batches of 3, 3 and 1
    assert stored_notes(memory_db) == sorted((f"#t{i} note {i}", f"c{i}") for i in range(7))
    events = list(memory_db.events.values())
    assert all(isinstance(e, NoteCreated) for e in events)
    assert sorted(e.note_id for e in events) == sorted(memory_db.notes)
    assert sorted(e.tags for e in events) == sorted((f"t{i}",) for i in range(7))
    assert {n.owner_id for n in memory_db.notes.values()} == {OWNER}


async def test_each_bad_line_is_reported_by_number_and_the_others_are_kept(memory_db, exporter):
    body = b"\n".join(
        [
            b'{"contents": "one"}',
            b"not json",
            b"",
            b"   ",
            b'{"contents": ""}',
            b'{"contents": "two"}',
            b"x" * 100,
            b'{"contents": "three"}',
        ]
    )
    service = TransferService(memory_db.unit_of_work, exporter, max_line_bytes=50)
    report = await service.import_notes(OWNER, body_of(body), parse=parse)

    assert (report.created, report.invalid, report.lines) == (3, 3, 8)
    assert [(e.line, e.error) for e in report.errors] == [
        (2, "invalid JSON: Expecting value"),
        (5, "contents: a non-empty string is required"),
        (7, "the line is longer than allowed"),
    ]
    assert not report.errors_truncated
    assert stored_notes(memory_db) == [("one", ""), ("three", ""), ("two", "")]


async def test_the_errors_reported_are_capped_but_all_are_counted(memory_db, exporter):
    service = TransferService(memory_db.unit_of_work, exporter, max_reported_errors=5)
    report = await service.import_notes(OWNER, body_of(b"bad\n" * 20), parse=parse)
    assert (report.invalid, len(report.errors), report.errors_truncated) == (20, 5, True)
    assert [e.line for e in report.errors] == [1, 2, 3, 4, 5]


async def test_a_batch_is_also_stored_once_it_holds_enough_bytes(memory_db, exporter):
    service = TransferService(memory_db.unit_of_work, exporter, import_batch_bytes=60)
    body = ndjson(*({"contents": "a" * 20} for _ in range(6)))  # 37 bytes a line
    report = await service.import_notes(OWNER, body_of(body), parse=parse)
    assert report.created == 6
    assert memory_db.commits == 3  # two lines a batch


async def test_the_body_is_read_only_as_fast_as_batches_are_stored(memory_db, exporter):
    read = []
    stored_when = []

    async def body():
        for i in range(10):
            read.append(i)
            yield json.dumps({"contents": f"n{i}"}).encode() + b"\n"

    units = memory_db.unit_of_work

    class Recording:
        def __call__(self):
            stored_when.append(len(read))
            return units()

    service = TransferService(Recording(), exporter, import_batch=3)
    report = await service.import_notes(OWNER, body(), parse=parse)
    assert report.created == 10
    # Each batch is stored having read its own lines and no more (one chunk a line here).
    assert stored_when == [3, 6, 9, 10]


async def test_a_batch_that_fails_to_commit_stops_the_import_and_says_where(memory_db, exporter):
    memory_db.fail_commits = 0
    body = ndjson(*({"contents": f"n{i}"} for i in range(9)))
    commits = 0
    units = memory_db.unit_of_work

    def failing_second_batch():
        nonlocal commits
        commits += 1
        if commits == 2:
            memory_db.fail_commits = 1
        return units()

    service = TransferService(failing_second_batch, exporter, import_batch=3)
    with pytest.raises(ImportInterruptedError) as stopped:
        await service.import_notes(OWNER, body_of(body), parse=parse)

    error = stopped.value
    assert isinstance(error.__cause__, DatabaseUnavailableError)
    assert (error.report.created, error.resume_from_line, error.batch_last_line) == (3, 4, 6)
    # Nothing of the failed batch, nor after it.
    assert stored_notes(memory_db) == [("n0", ""), ("n1", ""), ("n2", "")]
    assert len(memory_db.events) == 3


async def test_a_commit_of_unknown_outcome_names_the_lines_in_doubt(memory_db, exporter):
    memory_db.fail_commits = 1
    memory_db.commit_error = CommitOutcomeUnknownError
    service = TransferService(memory_db.unit_of_work, exporter, import_batch=2)
    body = b"bad\n" + ndjson({"contents": "a"}, {"contents": "b"}, {"contents": "c"})
    with pytest.raises(ImportInterruptedError) as stopped:
        await service.import_notes(OWNER, body_of(body), parse=parse)
    error = stopped.value
    assert isinstance(error.__cause__, CommitOutcomeUnknownError)
    assert (error.resume_from_line, error.batch_last_line) == (2, 3)
    assert [e.line for e in error.report.errors] == [1]


async def test_a_body_that_fails_midway_stores_no_part_of_the_batch_being_filled(
    transfer, memory_db
):
    class BodyError(Exception):
        pass

    async def body():
        yield ndjson(*({"contents": f"n{i}"} for i in range(4)))
        yield b'{"contents": "cut'
        raise BodyError

    with pytest.raises(ImportInterruptedError) as stopped:
        await transfer.import_notes(OWNER, body(), parse=parse)
    assert isinstance(stopped.value.__cause__, BodyError)
    assert stopped.value.resume_from_line == 4
    assert stored_notes(memory_db) == [("n0", ""), ("n1", ""), ("n2", "")]


async def test_an_empty_body_stores_nothing(transfer, memory_db):
    report = await transfer.import_notes(OWNER, body_of(b""), parse=parse)
    assert (report.created, report.lines, memory_db.commits) == (0, 0, 0)


async def test_the_body_is_closed_when_the_import_ends_early(memory_db, exporter):
    closed = []

    async def body():
        try:
            yield b'{"contents": "a"}\n'
            yield b'{"contents": "b"}\n'
        finally:
            closed.append(True)

    memory_db.fail_commits = 1
    service = TransferService(memory_db.unit_of_work, exporter, import_batch=1)
    with pytest.raises(ImportInterruptedError):
        await service.import_notes(OWNER, body(), parse=parse)
    assert closed == [True]


# --- export ----------------------------------------------------------------------------------


async def _collect(stream):
    async with aclosing(stream) as chunks:
        return [chunk async for chunk in chunks]


async def test_the_export_gives_the_owners_notes_newest_first_in_batches(memory_db, exporter):
    notes = NotesService(memory_db.unit_of_work)
    for i in range(5):
        await notes.create(OWNER, contents=f"n{i}", category="even" if i % 2 == 0 else "odd")
    await notes.create(OTHER_OWNER, contents="not mine")
    service = TransferService(memory_db.unit_of_work, exporter, export_batch=2)

    chunks = await _collect(service.export(OWNER))
    lines = [json.loads(line) for chunk in chunks for line in chunk.splitlines()]

    assert [chunk.count(b"\n") for chunk in chunks] == [2, 2, 1]
    assert [line["contents"] for line in lines] == ["n4", "n3", "n2", "n1", "n0"]
    assert set(lines[0]) == {"id", "contents", "category", "creation_date", "updated_at", "version"}
    even = await _collect(service.export(OWNER, where=NoteFilter(category="even")))
    assert b"".join(even).count(b"\n") == 3


async def test_the_export_matches_a_tag_as_the_list_does(memory_db, exporter, dispatch):
    notes = NotesService(memory_db.unit_of_work)
    await notes.create(OWNER, contents="plans #Work")
    await notes.create(OWNER, contents="other #home")
    await dispatch()
    service = TransferService(memory_db.unit_of_work, exporter)
    found = b"".join(await _collect(service.export(OWNER, where=NoteFilter(tag="#WORK"))))
    assert [json.loads(line)["contents"] for line in found.splitlines()] == ["plans #Work"]


async def test_leaving_an_export_early_releases_it_at_once(memory_db, exporter):
    notes = NotesService(memory_db.unit_of_work)
    for i in range(5):
        await notes.create(OWNER, contents=f"n{i}")
    service = TransferService(memory_db.unit_of_work, exporter, export_batch=1)
    async with aclosing(service.export(OWNER, where=NO_FILTER)) as chunks:
        async for _ in chunks:
            assert exporter.open_exports == 1
            break
    assert exporter.open_exports == 0


async def test_an_export_that_fails_midway_raises_to_its_consumer(memory_db, exporter):
    notes = NotesService(memory_db.unit_of_work)
    for i in range(3):
        await notes.create(OWNER, contents=f"n{i}")
    exporter.fail_after = 1
    service = TransferService(memory_db.unit_of_work, exporter, export_batch=1)
    got = []

    async def read_all():
        async with aclosing(service.export(OWNER)) as chunks:
            async for chunk in chunks:
                got.append(chunk)

    with pytest.raises(DatabaseUnavailableError):
        await read_all()
    assert len(got) == 1
    assert exporter.open_exports == 0


async def test_the_listeners_count_the_tags_and_categories_of_imported_notes(
    transfer, memory_db, dispatch
):
    body = ndjson(
        {"contents": "#a #b one", "category": "work"},
        {"contents": "#a two", "category": "work"},
        {"contents": "three", "category": "home"},
    )
    await transfer.import_notes(OWNER, body_of(body), parse=parse)
    await dispatch()
    assert memory_db.tag_counts_of(OWNER) == {"a": 2, "b": 1}
    assert memory_db.category_counts_of(OWNER) == {"work": 2, "home": 1}
