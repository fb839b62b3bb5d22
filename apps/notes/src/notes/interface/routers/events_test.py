# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""``GET /events/`` in this process, on the fakes: the wire format and the answers to mistakes.

Here the hub is closed (the in-process transport returns a body only once it ends), so a
stream gives its replay and ends with ``event: closing``; the live part is tested against the
app as a process (``events_external_test.py``).
"""

import json

import pytest

from notes.services.live_events import KEEPALIVE_SECONDS


def parse(body):
    """The events of a ``text/event-stream`` body, each a dict of its fields."""
    events = []
    for block in body.split("\n\n"):
        fields = {}
        for line in block.splitlines():
            if line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        if fields:
            events.append(fields)
    return events


async def _create(api, contents, category=""):
    response = await api.post("/notes/", json={"contents": contents, "category": category})
    assert response.status_code == 201
    return response.json()


async def test_resuming_gives_the_events_after_last_event_id_in_the_sse_format(api):
    first = await _create(api, "first")
    second = await _create(api, "second #tag", "work")
    changed = await api.patch(f"/notes/{second['id']}/", json={"category": "home"})
    assert changed.status_code == 200
    resumed = await api.get("/events/", headers={"Last-Event-ID": "1"})
    assert resumed.status_code == 200
    assert resumed.headers["content-type"].startswith("text/event-stream")
    assert resumed.headers["cache-control"] == "no-cache"
    events = parse(resumed.text)
    assert [(e.get("id"), e["event"]) for e in events] == [
        ("2", "note.created"),
        ("3", "note.updated"),
        (None, "closing"),
    ]
    created = json.loads(events[0]["data"])
    assert created == {
        "event_id": 2,
        "type": "note.created",
        "note_id": second["id"],
        "occurred_at": created["occurred_at"],
        "category": "work",
        "tags": ["tag"],
    }
    assert json.loads(events[1]["data"])["previous_category"] == "work"
    assert events[2]["retry"] == "1000"
    assert first["id"] not in resumed.text


async def test_the_filters_apply_to_the_replay(api):
    await _create(api, "one", "work")
    note = await _create(api, "two", "work")
    await _create(api, "three", "home")
    assert (await api.delete(f"/notes/{note['id']}/")).status_code == 200
    by_type = await api.get(
        "/events/", params={"types": "note.deleted"}, headers={"Last-Event-ID": "1"}
    )
    by_category = await api.get(
        "/events/", params={"category": "home"}, headers={"Last-Event-ID": "1"}
    )
    both = await api.get(
        "/events/",
        params=[("types", "note.created"), ("types", "note.deleted"), ("category", "work")],
        headers={"Last-Event-ID": "1"},
    )
    assert [e.get("id") for e in parse(by_type.text)] == ["4", None]
    assert [e.get("id") for e in parse(by_category.text)] == ["3", None]
    assert [e.get("id") for e in parse(both.text)] == ["2", "4", None]


def test_the_keep_alive_interval_is_the_one_the_docs_state():
    assert KEEPALIVE_SECONDS == 15.0  # docs/streams.md: a comment after 15 s idle


@pytest.mark.parametrize("last_event_id", ["999", "abc", "0", "-5", "7" * 500])
async def test_an_unknown_last_event_id_gets_a_resync_event_first(api, last_event_id):
    await _create(api, "one")
    response = await api.get("/events/", headers={"Last-Event-ID": last_event_id})
    assert response.status_code == 200
    events = parse(response.text)
    assert [e["event"] for e in events] == ["resync", "closing"]
    assert "reload" in json.loads(events[0]["data"])["reason"]
    assert "retry" not in events[0]


async def test_another_accounts_event_id_is_not_resumed_from(api_factory, memory_db):
    async with api_factory(memory_db) as owner, api_factory(memory_db) as other:
        await _create(owner, "mine")
        await _create(owner, "mine too")
        response = await other.get("/events/", headers={"Last-Event-ID": "1"})
    assert [e["event"] for e in parse(response.text)] == ["resync", "closing"]


@pytest.mark.parametrize(
    "params", [{"types": "note.archived"}, {"types": "note.created,x"}, {"category": "x" * 101}]
)
async def test_bad_filters_are_a_422_problem(api, params):
    response = await api.get("/events/", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_an_empty_types_means_every_type(api):
    await _create(api, "one")
    await _create(api, "two")
    response = await api.get("/events/", params={"types": ""}, headers={"Last-Event-ID": "1"})
    assert [e.get("id") for e in parse(response.text)] == ["2", None]


async def test_without_a_token_it_is_a_401_problem(api_factory):
    async with api_factory(signed_in=False) as anonymous:
        response = await anonymous.get("/events/")
    assert response.status_code == 401
    assert response.json()["type"] == "urn:notes:problem:invalid-token"
