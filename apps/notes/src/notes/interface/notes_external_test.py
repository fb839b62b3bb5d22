# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Editing, paging and idempotent creates as a client meets them: real HTTP, real PostgreSQL."""

import asyncio

import httpx
import pytest
from testkit import bearer

pytestmark = pytest.mark.external

PROBLEM = "application/problem+json"


async def _create(http, payload):
    response = await http.post("/notes/", json=payload)
    assert response.status_code == 201, response.text
    return response


async def test_etag_304_and_412_over_http(http, payload_factory):
    created = await _create(http, payload_factory())
    url = created.headers["location"]
    assert created.headers["etag"] == '"1"'

    not_modified = await http.get(url, headers={"If-None-Match": '"1"'})
    assert (not_modified.status_code, not_modified.content) == (304, b"")
    assert not_modified.headers["etag"] == '"1"'

    edited = await http.patch(url, json={"contents": "edited"}, headers={"If-Match": '"1"'})
    assert (edited.status_code, edited.headers["etag"]) == (200, '"2"')
    assert edited.json()["version"] == 2

    stale = await http.patch(url, json={"contents": "lost"}, headers={"If-Match": '"1"'})
    assert (stale.status_code, stale.headers["content-type"]) == (412, PROBLEM)
    fetched = await http.get(url, headers={"If-None-Match": '"1"'})
    assert (fetched.status_code, fetched.json()["contents"]) == (200, "edited")


async def test_concurrent_patches_with_one_if_match_let_exactly_one_through(
    app_server, app_token, payload_factory
):
    async with httpx.AsyncClient(
        base_url=app_server, timeout=30, headers=bearer(app_token)
    ) as setup:
        url = (await _create(setup, payload_factory())).headers["location"]
    # A client (and so a connection) per request: the requests really run side by side.
    clients = [
        httpx.AsyncClient(base_url=app_server, timeout=30, headers=bearer(app_token))
        for _ in range(6)
    ]
    try:
        responses = await asyncio.gather(
            *(
                client.patch(url, json={"contents": f"edit {i}"}, headers={"If-Match": '"1"'})
                for i, client in enumerate(clients)
            )
        )
    finally:
        for client in clients:
            await client.aclose()
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [412] * 5
    winner = next(r for r in responses if r.status_code == 200).json()
    async with httpx.AsyncClient(
        base_url=app_server, timeout=30, headers=bearer(app_token)
    ) as check:
        stored = (await check.get(url)).json()
    assert (stored["contents"], stored["version"]) == (winner["contents"], 2)


async def test_following_next_links_visits_each_note_once_while_notes_come_and_go(
    http, payload_factory, make_unique
):
    category = make_unique("cat")
    ids = [(await _create(http, payload_factory(category=category))).json()["id"] for _ in range(7)]
    newest_first = ids[::-1]
    seen = []
    url = f"/notes/?limit=3&category={category}"
    turn = 0
    while url:
        response = await http.get(url)
        assert response.status_code == 200
        seen += [n["id"] for n in response.json()]
        if turn == 0:
            await _create(http, payload_factory(category=category))  # newer than the walk
            await http.delete(f"/notes/{newest_first[0]}/")  # already seen
            await http.delete(f"/notes/{newest_first[4]}/")  # not seen yet
        turn += 1
        url = response.links.get("next", {}).get("url")
    assert seen == [i for i in newest_first if i != newest_first[4]]


async def test_bad_cursor_is_400_and_naive_time_is_422(http):
    bad = await http.get("/notes/", params={"cursor": "not-a-cursor"})
    assert (bad.status_code, bad.headers["content-type"]) == (400, PROBLEM)
    naive = await http.get("/notes/", params={"created_after": "2026-01-01T00:00:00"})
    assert (naive.status_code, naive.headers["content-type"]) == (422, PROBLEM)


async def test_search_finds_stemmed_words_within_a_category(http, make_unique):
    category = make_unique("cat")
    runner = await _create(http, {"contents": "I run before work", "category": category})
    await _create(http, {"contents": "I swim before work", "category": category})
    found = await http.get("/notes/", params={"q": "running", "category": category})
    assert [n["id"] for n in found.json()] == [runner.json()["id"]]


async def test_idempotent_create_replays_over_http(http, payload_factory, make_unique):
    payload = payload_factory()
    headers = {"Idempotency-Key": make_unique("key")}
    first = await http.post("/notes/", json=payload, headers=headers)
    again = await http.post("/notes/", json=payload, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    listed = await http.get("/notes/", params={"category": payload["category"]})
    assert len(listed.json()) == 1

    other = await http.post("/notes/", json={**payload, "contents": "else"}, headers=headers)
    assert (other.status_code, other.headers["content-type"]) == (422, PROBLEM)


async def test_concurrent_creates_with_one_key_make_one_note(
    app_server, app_token, payload_factory, make_unique
):
    payload = payload_factory()
    headers = {"Idempotency-Key": make_unique("key")}
    clients = [
        httpx.AsyncClient(base_url=app_server, timeout=30, headers=bearer(app_token))
        for _ in range(5)
    ]
    try:
        responses = await asyncio.gather(
            *(client.post("/notes/", json=payload, headers=headers) for client in clients)
        )
        listed = await clients[0].get("/notes/", params={"category": payload["category"]})
    finally:
        for client in clients:
            await client.aclose()
    assert {r.status_code for r in responses} <= {201, 409}
    created = [r for r in responses if r.status_code == 201]
    assert [r.headers.get("idempotent-replayed") for r in created].count(None) == 1
    assert len({r.json()["id"] for r in created}) == 1
    assert all(r.headers["content-type"] == PROBLEM for r in responses if r.status_code == 409)
    assert len(listed.json()) == 1
