# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The service as a user meets it: a separate uvicorn process, real HTTP, real PostgreSQL."""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import httpx
import pytest
from testkit import bearer, sign_up

pytestmark = pytest.mark.external

PROBLEM = "application/problem+json"


async def test_root_says_the_app_is_up(http):
    response = await http.get("/")
    assert response.status_code == 200
    assert response.json() == {"app": "notes", "status": "up"}


async def test_ready_when_database_answers_at_the_migration_head(http):
    response = await http.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["schema_revision"] == body["expected_revision"]


async def test_create_get_and_delete_a_note(http, payload_factory):
    payload = payload_factory()
    created = await http.post("/notes/", json=payload)
    assert created.status_code == 201
    note = created.json()
    assert (note["contents"], note["category"]) == (payload["contents"], payload["category"])
    assert created.headers["location"] == f"/notes/{note['id']}/"

    fetched = await http.get(created.headers["location"])
    assert (fetched.status_code, fetched.json()) == (200, note)

    deleted = await http.delete(created.headers["location"])
    assert (deleted.status_code, deleted.json()) == (200, note)
    for response in (
        await http.get(created.headers["location"]),
        await http.delete(created.headers["location"]),
    ):
        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM


async def test_list_filters_by_category_pages_and_excludes_deleted(
    http, payload_factory, make_unique
):
    category = make_unique("cat")
    ids = []
    for _ in range(5):
        created = await http.post("/notes/", json=payload_factory(category=category))
        ids.append(created.json()["id"])
    await http.post("/notes/", json=payload_factory())  # another category
    await http.delete(f"/notes/{ids[2]}/")
    live_newest_first = [i for i in reversed(ids) if i != ids[2]]

    first = await http.get("/notes/", params={"category": category, "limit": 3})
    second = await http.get("/notes/", params={"category": category, "limit": 3, "offset": 3})
    assert first.status_code == second.status_code == 200
    assert [n["id"] for n in first.json()] == live_newest_first[:3]
    assert [n["id"] for n in second.json()] == live_newest_first[3:]
    assert all(n["category"] == category for n in first.json() + second.json())


async def test_bad_input_gets_problem_details_never_500(http):
    cases = [
        http.post("/notes/", json={"contents": ""}),
        http.post("/notes/", json={"contents": "x", "extra": 1}),
        http.post("/notes/", content=b"[", headers={"content-type": "application/json"}),
        http.get("/notes/", params={"limit": 101}),
        http.get("/notes/", params={"offset": -1}),
        http.get("/notes/zzz/"),
    ]
    for request in cases:
        response = await request
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["errors"]


async def test_longest_allowed_note_is_stored_and_one_more_character_is_refused(http):
    longest = await http.post("/notes/", json={"contents": "x" * 100_000})
    assert longest.status_code == 201
    too_long = await http.post("/notes/", json={"contents": "x" * 100_001})
    assert too_long.status_code == 422


def _raw_post(base_url: str, head: bytes, body_part: bytes) -> bytes:
    """Send headers and only part of a body, then read what the server answers."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head + body_part)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


LIMIT = 1_310_720  # NOTES_MAX_BODY_BYTES's default: 1.25 MiB


def test_declared_body_over_the_limit_is_refused_before_it_is_sent(app_server):
    head = (
        b"POST /notes/ HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {LIMIT + 1}\r\n\r\n".encode()
    )
    # Only 1 KiB of the declared 1.25 MiB goes out: the answer must not wait for the rest.
    answer = _raw_post(app_server, head, b"x" * 1024)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"application/problem+json" in answer


def test_chunked_body_is_refused_once_it_passes_the_limit(app_server):
    head = (
        b"POST /notes/ HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"x" * 65536
    # 21 chunks of 64 KiB pass the limit; the body is never finished (no last chunk).
    body = (f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n") * 21
    answer = _raw_post(app_server, head, body)
    assert answer.startswith(b"HTTP/1.1 413 ")


def test_header_fields_of_a_megabyte_get_a_431_problem_from_the_app(app_server):
    head = b"GET /notes/ HTTP/1.1\r\nHost: t\r\nX-Padding: " + b"a" * 1_000_000 + b"\r\n\r\n"
    answer = _raw_post(app_server, head, b"")
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert b"application/problem+json" in answer


async def test_unknown_note_is_404_problem(http):
    response = await http.get(f"/notes/{uuid.uuid4()}/")
    assert response.status_code == 404
    assert response.json()["status"] == 404


async def test_openapi_and_docs_are_served(http):
    assert (await http.get("/docs")).status_code == 200
    spec = (await http.get("/openapi.json")).json()
    assert {"/", "/health/ready", "/notes/", "/notes/{note_id}/"} <= set(spec["paths"])


@pytest.mark.own_process
def test_sigterm_logs_shutdown_and_exits_zero_within_ten_seconds(launcher):
    app = launcher.start()
    assert httpx.get(app.base_url + "/").status_code == 200
    started = time.monotonic()
    app.process.send_signal(signal.SIGTERM)
    returncode = app.process.wait(timeout=10)
    elapsed = time.monotonic() - started
    assert returncode == 0
    assert elapsed < 10
    log = app.log()
    assert "notes is shutting down" in log
    assert "notes stopped" in log


@pytest.mark.own_process
def test_app_without_a_database_gives_up_with_a_clear_message(launcher):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = launcher.start(
        database_url=f"postgresql://nobody@127.0.0.1:{port}/none",
        wait_ready=False,
        NOTES_DB_CONNECT_ATTEMPTS="3",
        NOTES_DB_CONNECT_INTERVAL="0.1",
    )
    returncode = app.process.wait(timeout=30)
    assert returncode != 0
    assert f"127.0.0.1:{port}/none did not answer after 3 attempts" in app.log()


@pytest.mark.non_parallel
async def test_unfiltered_first_page_is_exactly_the_newest_notes(http, payload_factory):
    # Alone on the database, nothing else can slip in between these notes.
    created = [(await http.post("/notes/", json=payload_factory())).json()["id"] for _ in range(3)]
    page = await http.get("/notes/", params={"limit": 3})
    assert [n["id"] for n in page.json()] == created[::-1]


@pytest.mark.own_process
def test_uvicorn_workers_without_a_shared_cursor_secret_refuse_to_start(database_url, tmp_path):
    env = {name: value for name, value in os.environ.items() if name != "NOTES_CURSOR_SECRET"}
    log_path = tmp_path / "uvicorn.log"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "--workers",
                "2",
                "--port",
                str(port),
                "notes.interface.app:create_app",
            ],
            env={**env, "NOTES_DATABASE_URL": database_url},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    log_text = log_path.read_text()
    assert "NOTES_CURSOR_SECRET is not set, and this process is one of several workers" in log_text
    assert "failed to start, stopping the parent process" in log_text


@pytest.mark.own_process
async def test_every_worker_of_one_launch_accepts_the_cursors_of_the_others(launcher, make_unique):
    app = launcher.start(args=("--workers", "2"))
    category = make_unique("workers")
    async with httpx.AsyncClient(base_url=app.base_url, timeout=10) as client:
        token = bearer(await sign_up(client))
        client.headers.update(token)
        created = [
            (await client.post("/notes/", json={"contents": f"n{i}", "category": category})).json()[
                "id"
            ]
            for i in range(4)
        ]
    for _ in range(3):
        seen: list[str] = []
        url: str | None = f"/notes/?category={category}&limit=1"
        while url:
            # A connection per page: the kernel hands each to either worker.
            async with httpx.AsyncClient(
                base_url=app.base_url, timeout=10, headers=token
            ) as client:
                page = await client.get(url)
            assert page.status_code == 200, page.text
            seen += [note["id"] for note in page.json()]
            url = page.links.get("next", {}).get("url")
        assert seen == created[::-1]
