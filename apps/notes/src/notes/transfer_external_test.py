# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Export and import as a client meets them: the app as a process of its own, real HTTP on
loopback (an in-process transport buffers whole bodies, so it cannot show streaming), real
PostgreSQL."""

import asyncio
import json
import socket
import time
from collections import Counter

import httpx
import localpg
import psycopg
import pytest
from testkit import bearer, sign_up

from notes.interface.schemas import NoteRead

pytestmark = pytest.mark.external

NDJSON = {"Content-Type": "application/x-ndjson"}
PROBLEM = "application/problem+json"
# Bounds a wait for something that should happen at once, so a regression fails, not hangs.
GUARD_SECONDS = 15


async def _account(base_url):
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        return bearer(await sign_up(client))


def _lines(notes):
    return [json.dumps(note).encode() + b"\n" for note in notes]


async def _chunks(lines, per_chunk=500):
    """The body as a client streams it: chunked, no Content-Length."""
    for start in range(0, len(lines), per_chunk):
        yield b"".join(lines[start : start + per_chunk])


async def _export(client, **params):
    async with client.stream("GET", "/notes/export", params=params) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"] == "application/x-ndjson"
        body = b"".join([chunk async for chunk in response.aiter_bytes()])
    return [json.loads(line) for line in body.splitlines()]


async def test_ten_thousand_notes_go_out_and_come_back_in(app_server):
    sent = [{"contents": f"note {i} #t{i % 7}", "category": f"c{i % 3}"} for i in range(10_000)]
    owner, copy = await _account(app_server), await _account(app_server)
    async with httpx.AsyncClient(base_url=app_server, timeout=120, headers=owner) as client:
        imported = await client.post("/notes/import", content=_chunks(_lines(sent)), headers=NDJSON)
        assert imported.status_code == 200, imported.text
        assert imported.json() == {
            "created": 10_000,
            "invalid": 0,
            "lines": 10_000,
            "errors": [],
            "errors_truncated": False,
        }
        exported = await _export(client)
        only_c1 = await _export(client, category="c1")
        listed = (await client.get("/notes/", params={"limit": 5})).json()

    assert len(exported) == 10_000
    assert all(set(line) == set(NoteRead.model_fields) for line in exported)
    views = [NoteRead.model_validate(line) for line in exported]
    assert Counter((v.contents, v.category) for v in views) == Counter(
        (n["contents"], n["category"]) for n in sent
    )
    newest_first = [(v.creation_date, v.id) for v in views]
    assert newest_first == sorted(newest_first, reverse=True)
    assert [NoteRead.model_validate(n) for n in listed] == views[:5]
    assert {line["category"] for line in only_c1} == {"c1"}
    assert len(only_c1) == sum(1 for n in sent if n["category"] == "c1")

    # The export, as it is, is an import: the copy gets the same contents and categories.
    body = b"".join(json.dumps(line).encode() + b"\n" for line in exported)
    async with httpx.AsyncClient(base_url=app_server, timeout=120, headers=copy) as client:
        again = await client.post("/notes/import", content=body, headers=NDJSON)
        assert again.status_code == 200, again.text
        assert again.json()["created"] == 10_000
        copied = await _export(client)
    assert Counter((n["contents"], n["category"]) for n in copied) == Counter(
        (v.contents, v.category) for v in views
    )
    assert not {n["id"] for n in copied} & {str(v.id) for v in views}


async def test_another_account_exports_none_of_the_owners_notes(app_server):
    owner, other = await _account(app_server), await _account(app_server)
    async with httpx.AsyncClient(base_url=app_server, timeout=30, headers=owner) as client:
        body = b'{"contents": "mine alone", "category": "private"}\n'
        assert (await client.post("/notes/import", content=body, headers=NDJSON)).is_success
        assert len(await _export(client)) == 1
    async with httpx.AsyncClient(base_url=app_server, timeout=30, headers=other) as client:
        assert await _export(client) == []


async def test_each_bad_line_is_reported_by_number_and_the_good_ones_are_stored(app_server):
    too_many_tags = " ".join(f"#tag{i}" for i in range(51))
    body = b"\n".join(
        [
            b'{"contents": "first"}',
            b'{"contents": "unfinished',
            b'{"contents": 5}',
            b"[1, 2]",
            b"",
            json.dumps({"contents": too_many_tags}).encode(),
            b'{"contents": ""}',
            b'{"contents": "with a category", "category": "x"}',
            b'{"category": "no contents"}',
            b"\xff\xfe not utf-8",
            json.dumps({"contents": "x" * 1_400_000}).encode(),  # over the line's cap
            b'{"contents": "last", "id": "ignored", "version": 9}',
        ]
    )
    headers = await _account(app_server)
    async with httpx.AsyncClient(base_url=app_server, timeout=60, headers=headers) as client:
        response = await client.post("/notes/import", content=body, headers=NDJSON)
        stored = await _export(client)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["created"], report["invalid"], report["lines"]) == (3, 8, 12)
    assert [e["line"] for e in report["errors"]] == [2, 3, 4, 6, 7, 9, 10, 11]
    reasons = {e["line"]: e["error"] for e in report["errors"]}
    assert "JSON" in reasons[2]
    assert reasons[3].startswith("contents:")
    assert "50 distinct hashtags" in reasons[6]
    assert "longer" in reasons[11]
    assert sorted(n["contents"] for n in stored) == ["first", "last", "with a category"]


async def test_an_empty_body_creates_nothing(app_server):
    headers = await _account(app_server)
    async with httpx.AsyncClient(base_url=app_server, timeout=10, headers=headers) as client:
        response = await client.post("/notes/import", content=b"", headers=NDJSON)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "created": 0,
        "invalid": 0,
        "lines": 0,
        "errors": [],
        "errors_truncated": False,
    }


@pytest.mark.parametrize(
    "content_type", ["application/json", "text/plain", "application/x-www-form-urlencoded"]
)
async def test_a_body_that_is_not_ndjson_is_refused_with_415(app_server, content_type):
    headers = await _account(app_server)
    async with httpx.AsyncClient(base_url=app_server, timeout=10, headers=headers) as client:
        response = await client.post(
            "/notes/import",
            content=b'{"contents": "x"}\n',
            headers={"Content-Type": content_type},
        )
        stored = await _export(client)
    assert response.status_code == 415
    assert response.headers["content-type"] == PROBLEM
    assert stored == []


async def test_export_filters_are_checked_as_the_lists_are(app_server):
    headers = await _account(app_server)
    async with httpx.AsyncClient(base_url=app_server, timeout=10, headers=headers) as client:
        response = await client.get("/notes/export", params={"created_after": "yesterday"})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM


@pytest.mark.own_process
async def test_a_body_over_the_import_cap_is_refused_and_says_what_was_stored(launcher):
    app = launcher.start(NOTES_IMPORT_MAX_BODY_BYTES="100000")
    headers = await _account(app.base_url)
    line = json.dumps({"contents": "y" * 80}).encode() + b"\n"  # 95 bytes
    async with httpx.AsyncClient(base_url=app.base_url, timeout=30, headers=headers) as client:
        declared = await client.post("/notes/import", content=line * 2000, headers=NDJSON)
        streamed = await client.post(
            "/notes/import", content=_chunks([line] * 2000, per_chunk=100), headers=NDJSON
        )
        fits = await client.post("/notes/import", content=line * 1000, headers=NDJSON)
        stored = await _export(client)

    assert declared.status_code == 413
    assert declared.headers["content-type"] == PROBLEM
    assert streamed.status_code == 413, streamed.text
    assert streamed.headers["content-type"] == PROBLEM
    problem = streamed.json()
    assert "100000 bytes" in problem["detail"]
    # The batches stored before the body passed the cap stay; the problem says up to where.
    assert problem["created"] == problem["resume_from_line"] - 1
    assert problem["created"] % 1000 == 0
    assert fits.status_code == 200
    assert len(stored) == problem["created"] + 1000


def _in_transaction(database_url, app_name):
    """The sessions of the app that are inside a transaction, with their last statement."""
    with psycopg.connect(localpg.libpq_url(database_url), autocommit=True) as conn:
        return conn.execute(
            "SELECT state, query FROM pg_stat_activity"
            " WHERE application_name = %s AND xact_start IS NOT NULL",
            (app_name,),
        ).fetchall()


@pytest.mark.own_process
@pytest.mark.parametrize("client_does", ["leaves", "stops reading"])
async def test_a_client_that_leaves_or_stalls_mid_export_frees_its_transaction(
    launcher, make_unique, client_does
):
    app_name = make_unique("export")
    # The server's idle-transaction limit is also how long the app waits for a client that
    # reads nothing.
    app = launcher.start(NOTES_APP_NAME=app_name, NOTES_DB_IDLE_IN_TRANSACTION_TIMEOUT="2")
    headers = await _account(app.base_url)
    lines = _lines({"contents": f"{i} " + "z" * 2000} for i in range(10_000))
    async with httpx.AsyncClient(base_url=app.base_url, timeout=60, headers=headers) as client:
        imported = await client.post("/notes/import", content=_chunks(lines), headers=NDJSON)
        assert imported.json()["created"] == 10_000, imported.text

        # A client with a small receive buffer (loopback's grows to 32 MiB otherwise), which
        # reads the start of the export and stops: 20 MB cannot all wait in the buffers.
        sock = await asyncio.to_thread(_start_export, app.base_url, headers)
        try:
            held = await _wait_for(
                lambda: _in_transaction(launcher.database_url, app_name), "the export's read"
            )
            assert any(query.startswith("COPY (") for _, query in held), held
            if client_does == "leaves":
                sock.close()
            assert await _wait_for(
                lambda: not _in_transaction(launcher.database_url, app_name), "the release"
            )
            if client_does == "stops reading":
                # The app dropped the connection without the body's last chunk.
                rest = await asyncio.to_thread(_read_to_the_end, sock)
                assert not rest.endswith(b"0\r\n\r\n")
        finally:
            sock.close()
        # The app serves on, its connection given back.
        assert (await client.get("/notes/", params={"limit": 1})).status_code == 200


def _read_to_the_end(sock):
    """What the socket holds until the peer closes it; the last bytes of it."""
    tail = b""
    while data := sock.recv(65536):
        tail = (tail + data)[-16:]
    return tail


def _start_export(base_url, headers):
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(GUARD_SECONDS)
    sock.connect((host, int(port)))
    request = f"GET /notes/export HTTP/1.1\r\nHost: {host}\r\n"
    request += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    sock.sendall(request.encode())
    start = sock.recv(4096)
    assert start.startswith(b"HTTP/1.1 200"), start
    return sock


async def _wait_for(check, what):
    """Poll ``check`` (in a thread) until it returns something true; fail after the guard."""
    deadline = time.monotonic() + GUARD_SECONDS
    while time.monotonic() < deadline:
        found = await asyncio.to_thread(check)
        if found:
            return found
        await asyncio.sleep(0.05)
    pytest.fail(f"{what}: not within {GUARD_SECONDS} s")
