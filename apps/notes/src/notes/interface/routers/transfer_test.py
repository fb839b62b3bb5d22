# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""``/notes/export`` and ``/notes/import`` in this process, on the fakes: the answers' shapes,
and the export's response class against an ASGI ``send`` of the test's own.

Streaming itself is tested over real HTTP (``transfer_external_test.py``): this transport
buffers whole bodies.
"""

import asyncio
import json

import pytest
from starlette.requests import ClientDisconnect

from notes.core.errors import (
    CommitOutcomeUnknownError,
    DatabaseTimeoutError,
    DatabaseUnavailableError,
)
from notes.interface.routers.transfer import NdjsonStream, _interrupted, parse_line
from notes.services.transfer import ImportInterruptedError, ImportReport

NDJSON = {"Content-Type": "application/x-ndjson"}
PROBLEM = "application/problem+json"


def ndjson(*notes):
    return b"".join(json.dumps(note).encode() + b"\n" for note in notes)


async def test_an_import_answers_its_report_and_the_export_gives_the_notes_back(api):
    body = ndjson({"contents": "one", "category": "a"}, {"contents": 1}, {"contents": "two"})
    imported = await api.post("/notes/import", content=body, headers=NDJSON)
    exported = await api.get("/notes/export")

    assert imported.status_code == 200
    assert imported.json() == {
        "created": 2,
        "invalid": 1,
        "lines": 3,
        "errors": [{"line": 2, "error": "contents: Input should be a valid string"}],
        "errors_truncated": False,
    }
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "application/x-ndjson"
    assert exported.headers["cache-control"] == "no-store"
    lines = [json.loads(line) for line in exported.content.splitlines()]
    assert [(n["contents"], n["category"]) for n in lines] == [("two", ""), ("one", "a")]
    listed = (await api.get("/notes/")).json()
    assert [n["id"] for n in listed] == [n["id"] for n in lines]


async def test_an_empty_export_is_an_empty_body(api):
    exported = await api.get("/notes/export", params={"category": "none"})
    assert (exported.status_code, exported.content) == (200, b"")


async def test_a_body_without_a_media_type_is_read_as_ndjson(api):
    response = await api.post("/notes/import", content=b'{"contents": "x"}')
    assert response.status_code == 200
    assert response.json()["created"] == 1


async def test_a_database_down_before_the_export_starts_is_a_503_problem(api_factory):
    async with api_factory(unreachable=DatabaseUnavailableError("refused")) as api:
        response = await api.get("/notes/export")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["retry-after"]
    assert response.json()["type"] == "urn:notes:problem:database-unavailable"


async def test_a_batch_the_database_refuses_stops_the_import_with_a_503_saying_where(
    api_factory, new_memory_db
):
    database = new_memory_db()
    async with api_factory(database) as api:
        database.fail_commits = 1
        body = b"oops\n" + ndjson({"contents": "a"}, {"contents": "b"})
        response = await api.post("/notes/import", content=body, headers=NDJSON)
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["retry-after"]
    problem = response.json()
    assert problem["type"] == "urn:notes:problem:database-unavailable"
    assert (problem["created"], problem["resume_from_line"]) == (0, 2)
    assert problem["errors"] == [{"line": 1, "error": problem["errors"][0]["error"]}]
    assert "from line 2" in problem["detail"]
    assert "batch_last_line" not in problem


async def test_a_commit_of_unknown_outcome_names_the_lines_in_doubt(api_factory, new_memory_db):
    database = new_memory_db()
    async with api_factory(database) as api:
        database.fail_commits = 1
        database.commit_error = CommitOutcomeUnknownError
        body = ndjson({"contents": "a"}, {"contents": "b"})
        response = await api.post("/notes/import", content=body, headers=NDJSON)
    problem = response.json()
    assert response.status_code == 503
    assert problem["type"] == "urn:notes:problem:outcome-unknown"
    assert (problem["resume_from_line"], problem["batch_last_line"]) == (1, 2)
    assert "lines 1 to 2" in problem["detail"]


async def test_the_import_needs_a_token_before_anything_else(api_factory):
    async with api_factory(signed_in=False) as api:
        response = await api.post(
            "/notes/import", content=b"x", headers={"Content-Type": "text/plain"}
        )
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"contents": "ok", "id": "x", "version": 3}', None),
        (b"{", "Invalid JSON"),
        (b"[]", "Input should be an object"),
        (b'{"contents": "a\\u0000b"}', "contents: Value error, must not contain NUL"),
        (b'{"contents": "x", "category": 5}', "category: Input should be a valid string"),
        (b'{"category": "x"}', "contents: Field required"),
    ],
)
def test_a_line_is_checked_as_a_create_body_is(line, reason):
    if reason is None:
        assert parse_line(line) == ("ok", "")
        return
    with pytest.raises(ValueError, match=reason) as refused:
        parse_line(line)
    assert len(str(refused.value)) <= 300


async def test_the_import_has_a_body_cap_of_its_own(api_factory):
    body = ndjson(*({"contents": "n" * 90} for _ in range(30)))  # 3,030 bytes
    async with api_factory(max_body_bytes=1000, import_max_body_bytes=4000) as api:
        imported = await api.post("/notes/import", content=body, headers=NDJSON)
        created = await api.post("/notes/", content=body, headers={"Content-Type": "text/x"})
    async with api_factory(max_body_bytes=1000, import_max_body_bytes=2000) as api:
        refused = await api.post("/notes/import", content=body, headers=NDJSON)
    assert (imported.status_code, imported.json()["created"]) == (200, 30)
    assert created.status_code == 413
    assert refused.status_code == 413
    assert refused.headers["content-type"] == PROBLEM
    assert "2000 bytes" in refused.json()["detail"]


def _stopped_by(cause):
    error = ImportInterruptedError(ImportReport(created=4), resume_from_line=5, batch_last_line=7)
    error.__cause__ = cause
    return error


def test_an_import_the_client_left_is_answered_to_nobody_without_an_error():
    answer = _interrupted(_stopped_by(ClientDisconnect()), retry_after=2)
    assert answer.status_code == 400
    assert json.loads(bytes(answer.body))["resume_from_line"] == 5


def test_an_import_stopped_by_a_bug_is_raised_on():
    error = _stopped_by(RuntimeError("a bug"))
    with pytest.raises(ImportInterruptedError) as raised:
        _interrupted(error, retry_after=2)
    assert raised.value is error


class _Source:
    """An export's chunks: ``chunks``, then ``error`` if given; says whether it was closed."""

    def __init__(self, chunks, error=None):
        self.chunks, self.error, self.closed = chunks, error, False

    async def stream(self):
        try:
            for chunk in self.chunks:
                yield chunk
            if self.error is not None:
                raise self.error
        finally:
            self.closed = True


async def _respond(response, send):
    async def receive():  # a client that stays connected
        await asyncio.Event().wait()

    scope = {"type": "http", "method": "GET", "path": "/notes/export"}
    async with asyncio.timeout(5):
        await response(scope, receive, send)


async def test_a_client_that_takes_nothing_in_time_is_dropped_and_the_source_closed(caplog):
    source = _Source([b"1\n", b"2\n", b"3\n"])
    sent = []

    async def send(message):
        sent.append(message)
        if message.get("body") == b"2\n":  # the client stops reading here
            await asyncio.Event().wait()

    await _respond(NdjsonStream(source.stream(), stall_timeout=0.05), send)

    assert source.closed
    assert [message.get("body") for message in sent] == [None, b"1\n", b"2\n"]
    assert not any(message.get("more_body") is False for message in sent)  # no end of body
    assert "read nothing for 0.05 s" in caplog.text


async def test_a_timeout_of_the_database_is_not_taken_for_a_slow_client():
    source = _Source([b"1\n"], error=DatabaseTimeoutError("statement timeout"))

    async def send(message):
        pass

    with pytest.raises(DatabaseTimeoutError):
        await _respond(NdjsonStream(source.stream(), stall_timeout=5), send)
    assert source.closed
