# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""``GET /events/`` against the app as a process, over real HTTP on loopback: the events
arrive while the stream is open (an in-process transport would buffer the whole body).

Every stream is read through ``EventStream``, which waits for the ``: open`` comment that a
stream sends once it is subscribed: what is committed after it must arrive.
"""

import asyncio
import json
import signal
import socket
import subprocess
import uuid
from contextlib import asynccontextmanager

import httpx
import pytest
from testkit import PASSWORD, bearer, new_email

pytestmark = pytest.mark.external

GUARD = 30  # seconds: only against a hang; no test relies on it running out


class EventStream:
    """The events of an open ``text/event-stream`` response, one dict of fields each."""

    def __init__(self, response):
        self.response = response
        self._lines = response.aiter_lines()

    async def block(self):
        """The next block (event or comment), as a dict; None at the end of the stream."""
        fields: dict[str, str] = {}
        async with asyncio.timeout(GUARD):
            async for line in self._lines:
                if not line:
                    if fields:
                        return fields
                    continue
                name, _, value = line.partition(":")
                fields[name or "comment"] = value.removeprefix(" ")
        return fields or None

    async def event(self):
        """The next event, skipping comments (pings); None at the end of the stream."""
        while True:
            block = await self.block()
            if block is None or "event" in block:
                return block

    async def rest(self):
        """Every event left, to the end of the stream."""
        events = []
        while (event := await self.event()) is not None:
            events.append(event)
        return events


@asynccontextmanager
async def events(client, *, last_event_id=None, **params):
    """An open stream of ``client``'s events, subscribed (its ``: open`` read)."""
    headers = {} if last_event_id is None else {"Last-Event-ID": str(last_event_id)}
    async with client.stream("GET", "/events/", headers=headers, params=params) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = EventStream(response)
        assert await stream.block() == {"comment": "open"}
        yield stream


@asynccontextmanager
async def account(base_url):
    """A client of the app at ``base_url`` signed in as a new account."""
    timeout = httpx.Timeout(10, read=60)
    async with httpx.AsyncClient(base_url=base_url, timeout=timeout) as client:
        email = new_email("events")
        created = await client.post("/users/", json={"email": email, "password": PASSWORD})
        assert created.status_code == 201, created.text
        token = await client.post("/tokens/", json={"email": email, "password": PASSWORD})
        client.headers.update(bearer(token.json()["access_token"]))
        yield client


async def create(client, contents="a note", category=""):
    response = await client.post("/notes/", json={"contents": contents, "category": category})
    assert response.status_code == 201, response.text
    return response.json()


def data(event):
    return json.loads(event["data"])


async def test_a_live_event_arrives(app_server):
    async with account(app_server) as client, events(client) as stream:
        note = await create(client, "hello #world", "greetings")
        event = await stream.event()
    assert event["event"] == "note.created"
    assert event["id"].isdecimal()
    assert data(event) == {
        "event_id": int(event["id"]),
        "type": "note.created",
        "note_id": note["id"],
        "occurred_at": data(event)["occurred_at"],
        "category": "greetings",
        "tags": ["world"],
    }
    assert "hello" not in event["data"]  # the contents are never sent


async def test_a_resumed_stream_replays_the_missed_events_then_goes_on_live(app_server):
    async with account(app_server) as client:
        async with events(client) as stream:
            first = await create(client, "first")
            seen = await stream.event()
        # Missed while disconnected:
        second = await create(client, "second")
        patched = await client.patch(f"/notes/{second['id']}/", json={"category": "c"})
        assert patched.status_code == 200
        assert (await client.delete(f"/notes/{first['id']}/")).status_code == 200
        async with events(client, last_event_id=seen["id"]) as stream:
            replayed = [await stream.event() for _ in range(3)]
            third = await create(client, "third")
            live = await stream.event()
    assert [(e["event"], data(e)["note_id"]) for e in [*replayed, live]] == [
        ("note.created", second["id"]),
        ("note.updated", second["id"]),
        ("note.deleted", first["id"]),
        ("note.created", third["id"]),
    ]
    ids = [int(e["id"]) for e in [seen, *replayed, live]]
    assert len(set(ids)) == 5


async def test_reconnecting_again_and_again_while_notes_are_written_misses_none_twice_none(
    app_server,
):
    """Events committed while streams switch from replay to live come out once each."""
    async with account(app_server) as client:
        created = []

        async def write():
            for n in range(40):
                created.append((await create(client, f"n{n}"))["id"])

        writing = asyncio.create_task(write())
        received: list[str] = []
        last = None
        try:
            while len(received) < 40:
                async with events(client, last_event_id=last) as stream:
                    for _ in range(3):  # a few events, then reconnect
                        event = await stream.event()
                        received.append(data(event)["note_id"])
                        last = event["id"]
                        if len(received) == 40:
                            break
        finally:
            await writing
    assert received == created


async def test_an_account_never_receives_another_accounts_events(app_server):
    async with (
        account(app_server) as alice,
        account(app_server) as bob,
        events(alice) as alices,
        events(bob) as bobs,
    ):
        bobs_note = await create(bob, "bob's secret", "bob")
        alices_note = await create(alice, "alice's", "alice")
        alices_event = await alices.event()
        bobs_event = await bobs.event()
    assert data(alices_event)["note_id"] == alices_note["id"]
    assert data(bobs_event)["note_id"] == bobs_note["id"]
    async with account(app_server) as eve, events(eve, last_event_id=bobs_event["id"]) as stream:
        resync = await stream.event()  # bob's event id means nothing to another account
        mine = await create(eve, "eve's")
        after = await stream.event()
    assert resync["event"] == "resync"
    assert data(after)["note_id"] == mine["id"]


async def test_the_filters_apply_to_the_live_events(app_server):
    async with (
        account(app_server) as client,
        events(client, types="note.deleted", category="work") as stream,
    ):
        await create(client, "elsewhere", "home")
        note = await create(client, "at work", "work")
        assert (await client.delete(f"/notes/{note['id']}/")).status_code == 200
        event = await stream.event()
    assert (event["event"], data(event)["note_id"]) == ("note.deleted", note["id"])


async def test_a_last_event_id_the_log_no_longer_holds_gets_a_resync_then_live(app_server):
    async with account(app_server) as client, events(client, last_event_id=10**15) as stream:
        resync = await stream.event()
        note = await create(client)
        event = await stream.event()
    assert resync["event"] == "resync"
    assert "reload" in data(resync)["reason"]
    assert data(event)["note_id"] == note["id"]


async def test_no_token_is_a_401_problem(app_server):
    async with httpx.AsyncClient(base_url=app_server, timeout=10) as client:
        response = await client.get("/events/")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


# --- the tests that start app processes of their own ----------------------------------------


@pytest.mark.own_process
async def test_an_event_committed_through_one_process_reaches_a_client_of_another(launcher):
    one, two = launcher.start(), launcher.start()
    async with account(one.base_url) as writer, account(two.base_url) as reader:
        reader.headers.update({"Authorization": writer.headers["Authorization"]})
        async with events(reader) as stream:
            note = await create(writer, "through the first")
            event = await stream.event()
    assert data(event)["note_id"] == note["id"]


@pytest.mark.own_process
async def test_sigterm_ends_every_stream_cleanly_and_the_process_exits(launcher):
    app = launcher.start()
    async with account(app.base_url) as client, events(client) as one, events(client) as two:
        app.process.send_signal(signal.SIGTERM)
        ends = [await one.rest(), await two.rest()]  # each stream ends, by itself
    assert [[e["event"] for e in end] for end in ends] == [["closing"], ["closing"]]
    assert ends[0][0]["retry"] == "1000"
    try:
        assert await asyncio.to_thread(app.process.wait, 15) == 0
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running 15 s after SIGTERM:\n{app.log()}")
    log = app.log()
    assert "timeout graceful shutdown exceeded" not in log
    assert "Traceback" not in log


@pytest.mark.own_process
async def test_a_client_that_leaves_is_noticed_and_its_subscription_freed(launcher):
    app = launcher.start()
    async with account(app.base_url) as client:
        async with events(client):
            assert "opened (1 open)" in app.log()
        # Leaving the block closed the connection; the server notices without writing to it.
        await asyncio.to_thread(launcher.wait_for_log, app, "ended (0 open)")


def _raw_stream(base_url, token):
    """A socket with a small receive buffer, its request for /events/ sent: a slow reader."""
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    request = (
        f"GET /events/ HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        "Connection: close\r\n\r\n"
    )
    sock.sendall(request.encode())
    return sock


def _read_all(sock):
    sock.settimeout(GUARD)
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    sock.close()
    return b"".join(chunks)


@pytest.mark.own_process
async def test_a_client_too_slow_to_keep_up_is_dropped_with_a_final_event(launcher, sql):
    app = launcher.start(NOTES_EVENTS_BUFFER_SIZE="2")
    async with account(app.base_url) as client:
        owner = (await client.get("/users/me")).json()["id"]
        token = client.headers["Authorization"].removeprefix("Bearer ")
    sock = _raw_stream(app.base_url, token)
    try:
        await asyncio.to_thread(launcher.wait_for_log, app, "opened (1 open)")
        # Big events, more than the socket buffers hold, while the client reads nothing.
        await sql.execute(
            "INSERT INTO events (type, note_id, owner_id, occurred_at, payload)"
            " SELECT 'NoteCreated', gen_random_uuid(), :owner, now(),"
            " jsonb_build_object('category', repeat('x', 65536), 'tags', '[]'::jsonb)"
            " FROM generate_series(1, 300)",
            owner=uuid.UUID(owner),
        )
        await asyncio.to_thread(launcher.wait_for_log, app, "behind: dropped")
        body = await asyncio.to_thread(_read_all, sock)
    finally:
        sock.close()
    head, _, rest = body.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert rest.endswith(b"0\r\n\r\n")  # the chunked body ended properly
    text = rest.decode()
    assert text.count("event: note.created") < 300  # it could not take them all ...
    assert text.count("event: dropped") == 1  # ... and was told why, last
    assert "event: note.created" not in text[text.index("event: dropped") :]  # none after it
    assert "more than 2 events behind" in text
    assert "ended (0 open)" in app.log()
