# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The database goes away under load and comes back: the service recovers by itself.

Each test starts a PostgreSQL server of its own (``own_server``), the API and the worker as
processes, and clients that keep creating, reading and listing notes over keep-alive
connections. The server is stopped for ``NOTES_TEST_OUTAGE_SECONDS`` (10 s and 5 s by default;
``make test_outage`` runs 60) and started again. Then it is restarted while the API is idle.
"""

import asyncio
import os
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import localpg
import psycopg
import pytest
from testkit import bearer, sign_up

pytestmark = [pytest.mark.external, pytest.mark.own_process]

# How long each server stays down: NOTES_TEST_OUTAGE_SECONDS for both, else 10 s for the
# embedded one (the outage of the issue that asked for this) and 5 s for the other, which shows
# the same over TCP in less of the suite's time.
OUTAGE_SECONDS = os.environ.get("NOTES_TEST_OUTAGE_SECONDS")


def _outage_seconds(*, embedded):
    if OUTAGE_SECONDS is not None:
        return float(OUTAGE_SECONDS)
    return 10.0 if embedded else 5.0


# The app's bounds, kept short here: a request waits at most 2 s for a connection.
APP_ENV = {"NOTES_DB_POOL_TIMEOUT": "2", "NOTES_RETRY_AFTER": "1"}
# A request answered later than this hung: the service promises an answer within its bounds.
HANG = 8.0
PROBLEM_TYPES = {
    "urn:notes:problem:database-unavailable",
    "urn:notes:problem:database-timeout",
    "urn:notes:problem:outcome-unknown",
}


@dataclass
class Outcome:
    phase: str
    request: str
    status: int | None  # None: no answer (a transport error)
    seconds: float
    error: str = ""
    retry_after: str | None = None
    content_type: str = ""
    body: str = ""


@dataclass
class Load:
    """Clients that create, read and list notes until told to stop, recording every answer."""

    base_url: str
    tag: str
    token: str
    phase: str = "before"
    outcomes: list[Outcome] = field(default_factory=list)
    created: set[str] = field(default_factory=set)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def _phase(self, at_start):
        """A request belongs to "before" if it ended before the outage began, to "after" if it
        began once the service was ready again, and otherwise to the phase it began in."""
        if at_start == "before" and self.phase != "before":
            return "outage"
        return at_start

    async def _call(self, client, method, url, **kwargs):
        at_start, started = self.phase, time.monotonic()
        try:
            response = await client.request(method, url, **kwargs)
        except httpx.HTTPError as error:
            self.outcomes.append(
                Outcome(
                    self._phase(at_start),
                    f"{method} {url}",
                    None,
                    time.monotonic() - started,
                    repr(error),
                )
            )
            return None
        self.outcomes.append(
            Outcome(
                self._phase(at_start),
                f"{method} {url}",
                response.status_code,
                time.monotonic() - started,
                retry_after=response.headers.get("retry-after"),
                content_type=response.headers.get("content-type", ""),
                body=response.text,
            )
        )
        return response

    async def client(self, number):
        async with httpx.AsyncClient(
            base_url=self.base_url, timeout=HANG, headers=bearer(self.token)
        ) as client:
            last = None
            while not self.stop.is_set():
                body = {"contents": f"client {number} #{self.tag}", "category": self.tag}
                created = await self._call(client, "POST", "/notes/", json=body)
                if created is not None and created.status_code == 201:
                    last = created.json()["id"]
                    self.created.add(last)
                if last is not None:
                    await self._call(client, "GET", f"/notes/{last}/")
                await self._call(client, "GET", "/notes/", params={"category": self.tag})
                await asyncio.sleep(0.01)


async def _status(base_url, path="/health/ready"):
    async with httpx.AsyncClient(base_url=base_url, timeout=HANG) as client:
        try:
            return (await client.get(path)).status_code
        except httpx.HTTPError:
            return None


async def _until(condition, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await condition():
            return True
        await asyncio.sleep(0.1)
    return False


def _stopped(server, seconds):
    server.stop()
    time.sleep(seconds)
    server.start()


@pytest.mark.parametrize("embedded", [True, False], ids=["embedded", "external"])
async def test_the_service_rides_out_a_database_outage_and_recovers_by_itself(
    embedded, own_server, launcher, make_unique
):
    server = own_server(embedded=embedded)
    url = server.new_database("notes")
    app = launcher.start(database_url=url, **APP_ENV)
    launcher.start_worker(database_url=url, NOTES_WORKER_RECONNECT_INTERVAL="0.5")
    async with httpx.AsyncClient(base_url=app.base_url, timeout=HANG) as client:
        token = await sign_up(client)
    load = Load(app.base_url, make_unique("outage").replace("-", "_"), token)
    clients = [asyncio.create_task(load.client(n)) for n in range(4)]
    try:
        await asyncio.sleep(1)
        load.phase = "outage"
        await asyncio.to_thread(server.stop)
        readiness_during = []
        outage_seconds = _outage_seconds(embedded=embedded)
        deadline = time.monotonic() + outage_seconds
        while time.monotonic() < deadline:  # the server is down all this while
            readiness_during.append(await _status(app.base_url))
            await asyncio.sleep(0.5)
        await asyncio.to_thread(server.start)
        restarted = time.monotonic()
        load.phase = "restarting"
        assert await _until(lambda: _ready(app.base_url), 60), "never ready again"
        recovered_after = time.monotonic() - restarted
        load.phase = "after"
        await asyncio.sleep(2)
    finally:
        load.stop.set()
        await asyncio.gather(*clients)

    by_phase = {
        phase: [o for o in load.outcomes if o.phase == phase]
        for phase in ("before", "outage", "restarting", "after")
    }
    slowest = max(load.outcomes, key=lambda o: o.seconds)
    print(  # noqa: T201 - the figures a reader of -s output wants
        f"\n{'embedded' if embedded else 'external'} server down {outage_seconds} s: "
        f"{len(load.outcomes)} requests, {len(load.created)} notes acknowledged; per phase "
        + ", ".join(f"{phase} {_tally(outcomes)}" for phase, outcomes in by_phase.items())
        + f"; slowest answer {slowest.seconds:.2f} s ({slowest.phase}: {slowest.request} "
        f"{slowest.status}); ready {recovered_after:.1f} s after the restart"
    )
    # No request went unanswered, none hung, none was a 500; every failure a 503 problem.
    unanswered = [o for o in load.outcomes if o.status is None]
    assert not unanswered, unanswered[:5]
    assert {o.status for o in load.outcomes} <= {200, 201, 503}
    for failed in (o for o in load.outcomes if o.status == 503):
        assert failed.content_type == "application/problem+json", failed
        assert failed.retry_after == "1", failed
        assert "Traceback" not in failed.body
        assert any(problem in failed.body for problem in PROBLEM_TYPES), failed
    assert all(o.status in {200, 201} for o in by_phase["before"] + by_phase["after"])
    assert any(o.status == 503 for o in by_phase["outage"])
    assert readiness_during, "readiness was not asked during the outage"
    assert set(readiness_during) == {503}
    # Every acknowledged note is stored, and the worker dispatched every event, none lost.
    await _assert_stored_and_dispatched(url, load)

    await _assert_an_idle_restart_goes_unnoticed(server, app.base_url, load)


async def _assert_an_idle_restart_goes_unnoticed(server, base_url, load):
    """The server restarts while the API is idle: the first requests find the connections of
    the old server dead and take new ones; none fails."""
    await asyncio.to_thread(_stopped, server, 0)
    after = Load(base_url, load.tag, load.token, phase="idle restart")
    async with httpx.AsyncClient(
        base_url=base_url, timeout=HANG, headers=bearer(load.token)
    ) as client:
        some = sorted(load.created)[0]
        for _ in range(3):
            await after._call(client, "GET", f"/notes/{some}/")
            await after._call(client, "GET", "/notes/", params={"category": load.tag})
            await after._call(
                client, "POST", "/notes/", json={"contents": f"#{load.tag}", "category": load.tag}
            )
    assert [o.status for o in after.outcomes] == [200, 200, 201] * 3, after.outcomes


def _tally(outcomes):
    """How many answers of each status (and problem type), as text."""
    counts = Counter(
        f"{o.status}"
        + (f" {o.body.split('problem:')[1].split(chr(34))[0]}" if o.status == 503 else "")
        for o in outcomes
    )
    return "{" + ", ".join(f"{key}: {count}" for key, count in sorted(counts.items())) + "}"


async def _ready(base_url):
    return await _status(base_url) == 200


async def _assert_stored_and_dispatched(url, load):
    async with await psycopg.AsyncConnection.connect(localpg.libpq_url(url)) as conn:
        stored = {
            str(row[0])
            for row in await (
                await conn.execute("SELECT id FROM notes WHERE category = %s", (load.tag,))
            ).fetchall()
        }
        assert load.created <= stored, f"{len(load.created - stored)} acknowledged notes lost"

        async def dispatched():
            pending = await (
                await conn.execute("SELECT count(*) FROM events WHERE dispatched_at IS NULL")
            ).fetchone()
            count = await (
                await conn.execute("SELECT count FROM tag_counts WHERE name = %s", (load.tag,))
            ).fetchone()
            return pending == (0,) and count == (len(stored),)

        assert await _until(dispatched, 60), "the worker did not dispatch every event"
