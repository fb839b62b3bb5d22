# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The notes routes over in-process HTTP, on in-memory fakes: status codes, headers, problems."""

import uuid
from datetime import UTC, datetime

import httpx
import pytest

PROBLEM = "application/problem+json"


async def test_create_returns_201_the_note_and_its_location(api):
    response = await api.post("/notes/", json={"contents": "hello", "category": "greetings"})
    assert response.status_code == 201
    body = response.json()
    assert body["contents"] == "hello"
    assert body["category"] == "greetings"
    assert uuid.UUID(body["id"]).version == 7
    assert body["creation_date"].endswith("Z") or "+" in body["creation_date"]
    assert response.headers["location"] == f"/notes/{body['id']}/"


async def test_created_note_is_served_at_its_location(api):
    created = await api.post("/notes/", json={"contents": "hello"})
    response = await api.get(created.headers["location"])
    assert response.status_code == 200
    assert response.json() == created.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"contents": ""}, "contents"),
        ({"contents": "x" * 100_001}, "contents"),
        ({"category": "x"}, "contents"),
        ({"contents": "x", "category": "c" * 101}, "category"),
        ({"contents": 5}, "contents"),
        ({"contents": "x", "colour": "red"}, "colour"),
    ],
)
async def test_invalid_bodies_are_422_problems_naming_the_field(api, body, field):
    response = await api.post("/notes/", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == 422
    assert problem["title"]
    assert [e["name"] for e in problem["errors"]] == [field]


async def test_malformed_json_is_a_422_problem(api):
    response = await api.post(
        "/notes/", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM


async def test_unknown_note_is_a_404_problem(api):
    response = await api.get(f"/notes/{uuid.uuid4()}/")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "urn:notes:problem:note-not-found"


async def test_malformed_id_is_a_422_problem(api):
    response = await api.get("/notes/not-a-uuid/")
    assert response.status_code == 422
    assert response.json()["errors"][0]["name"] == "note_id"


async def test_delete_returns_the_note_then_it_is_gone(api):
    created = (await api.post("/notes/", json={"contents": "bye"})).json()
    deleted = await api.delete(f"/notes/{created['id']}/")
    assert deleted.status_code == 200
    assert deleted.json()["id"] == created["id"]
    assert (await api.get(f"/notes/{created['id']}/")).status_code == 404
    assert (await api.delete(f"/notes/{created['id']}/")).status_code == 404


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "offset=-1", "limit=abc", "category=" + "c" * 101]
)
async def test_out_of_range_list_parameters_are_422_problems(api, query):
    response = await api.get(f"/notes/?{query}")
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM


async def test_list_is_a_json_array_newest_first(api):
    ids = [(await api.post("/notes/", json={"contents": f"n{i}"})).json()["id"] for i in range(3)]
    response = await api.get("/notes/?limit=2")
    assert response.status_code == 200
    assert [n["id"] for n in response.json()] == ids[::-1][:2]


async def test_unknown_route_and_wrong_method_are_problems(api):
    missing = await api.get("/nothing-here")
    assert (missing.status_code, missing.headers["content-type"]) == (404, PROBLEM)
    wrong = await api.put("/notes/")
    assert (wrong.status_code, wrong.headers["content-type"]) == (405, PROBLEM)


async def test_openapi_documents_the_problem_responses(api):
    spec = (await api.get("/openapi.json")).json()
    create = spec["paths"]["/notes/"]["post"]["responses"]
    assert "application/problem+json" in create["422"]["content"]
    assert "201" in create
    assert "404" in spec["paths"]["/notes/{note_id}/"]["get"]["responses"]


# --- versions and conditional requests -------------------------------------------------------


async def _create(api, contents="hello", **headers):
    response = await api.post("/notes/", json={"contents": contents}, headers=headers)
    assert response.status_code == 201, response.text
    return response


async def test_every_single_note_response_carries_its_version_as_etag(api):
    created = await _create(api)
    note = created.json()
    assert (note["version"], created.headers["etag"]) == (1, '"1"')
    assert note["updated_at"] == note["creation_date"]
    url = created.headers["location"]
    assert (await api.get(url)).headers["etag"] == '"1"'
    patched = await api.patch(url, json={"contents": "edited"})
    assert (patched.status_code, patched.headers["etag"]) == (200, '"2"')
    assert patched.json()["version"] == 2
    assert (await api.delete(url)).headers["etag"] == '"2"'


async def test_patch_changes_only_the_given_fields(api):
    url = (await api.post("/notes/", json={"contents": "a", "category": "c"})).headers["location"]
    patched = (await api.patch(url, json={"category": "d"})).json()
    assert (patched["contents"], patched["category"]) == ("a", "d")
    assert (await api.get(url)).json() == patched


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"contents": ""}, "body.contents"),
        ({"contents": "x" * 100_001}, "body.contents"),
        ({"category": "c" * 101}, "body.category"),
        ({"contents": None}, "body"),
        ({"contents": "x", "colour": "red"}, "body.colour"),
    ],
)
async def test_invalid_patch_bodies_are_422_problems(api, body, field):
    url = (await _create(api)).headers["location"]
    response = await api.patch(url, json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert [".".join(map(str, e["location"])) for e in response.json()["errors"]] == [field]
    assert (await api.get(url)).json()["version"] == 1


async def test_patch_with_stale_if_match_is_412_and_changes_nothing(api):
    url = (await _create(api, "v1")).headers["location"]
    await api.patch(url, json={"contents": "v2"}, headers={"If-Match": '"1"'})
    stale = await api.patch(url, json={"contents": "v3"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == PROBLEM
    assert stale.json()["type"] == "urn:notes:problem:version-conflict"
    current = (await api.get(url)).json()
    assert (current["contents"], current["version"]) == ("v2", 2)


@pytest.mark.parametrize("if_match", ['"1"', "*", '"7", "1"'])
async def test_patch_with_matching_if_match_applies(api, if_match):
    url = (await _create(api)).headers["location"]
    response = await api.patch(url, json={"contents": "new"}, headers={"If-Match": if_match})
    assert response.status_code == 200
    assert response.json()["contents"] == "new"


async def test_patch_with_weak_if_match_is_412(api):
    url = (await _create(api)).headers["location"]
    response = await api.patch(url, json={"contents": "new"}, headers={"If-Match": 'W/"1"'})
    assert response.status_code == 412


async def test_patch_with_malformed_if_match_is_400(api):
    url = (await _create(api)).headers["location"]
    response = await api.patch(url, json={"contents": "new"}, headers={"If-Match": "1"})
    assert (response.status_code, response.headers["content-type"]) == (400, PROBLEM)


async def test_delete_with_stale_if_match_is_412_and_deletes_nothing(api):
    url = (await _create(api, "v1")).headers["location"]
    await api.patch(url, json={"contents": "v2"})
    stale = await api.delete(url, headers={"If-Match": '"1"'})
    assert (stale.status_code, stale.headers["content-type"]) == (412, PROBLEM)
    assert stale.json()["type"] == "urn:notes:problem:version-conflict"
    assert (await api.get(url)).status_code == 200
    current = await api.delete(url, headers={"If-Match": '"2"'})
    assert (current.status_code, current.headers["etag"]) == (200, '"2"')
    assert (await api.get(url)).status_code == 404


async def test_patch_of_unknown_or_deleted_note_is_404(api):
    assert (await api.patch(f"/notes/{uuid.uuid4()}/", json={"contents": "x"})).status_code == 404
    url = (await _create(api)).headers["location"]
    await api.delete(url)
    response = await api.patch(url, json={"contents": "x"}, headers={"If-Match": '"1"'})
    assert (response.status_code, response.headers["content-type"]) == (404, PROBLEM)


async def test_get_with_current_if_none_match_is_304_without_body(api):
    created = await _create(api)
    url = created.headers["location"]
    response = await api.get(url, headers={"If-None-Match": created.headers["etag"]})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == '"1"'
    await api.patch(url, json={"contents": "changed"})
    changed = await api.get(url, headers={"If-None-Match": '"1"'})
    assert (changed.status_code, changed.headers["etag"]) == (200, '"2"')


# --- pages, filters and search ---------------------------------------------------------------


async def test_list_announces_the_next_page_in_a_link_header(api):
    ids = [(await _create(api, f"n{i}")).json()["id"] for i in range(5)]
    seen = []
    url = "/notes/?limit=2"
    pages = 0
    while url:
        response = await api.get(url)
        assert response.status_code == 200
        seen += [n["id"] for n in response.json()]
        pages += 1
        url = response.links.get("next", {}).get("url")
        if url:
            assert url.startswith("/notes/?")
            assert "limit=2" in url
    assert seen == ids[::-1]
    assert pages == 3


async def test_last_page_has_no_link_header(api):
    await _create(api)
    assert "link" not in (await api.get("/notes/?limit=1")).headers


async def test_next_link_keeps_filters_and_limit(api):
    for i in range(3):
        await api.post("/notes/", json={"contents": f"garden work {i}", "category": "home"})
    query = {
        "limit": 1,
        "category": "home",
        "q": "garden",
        "created_after": "2000-01-01T00:00:00+02:00",
        "created_before": "2999-01-01T00:00:00Z",
    }
    response = await api.get("/notes/", params=query)
    link = httpx.URL(response.links["next"]["url"])
    assert {k: link.params[k] for k in ("limit", "category", "q")} == {
        "limit": "1",
        "category": "home",
        "q": "garden",
    }
    assert datetime.fromisoformat(link.params["created_after"]) == datetime.fromisoformat(
        str(query["created_after"])
    )
    assert datetime.fromisoformat(link.params["created_before"]) == datetime(2999, 1, 1, tzinfo=UTC)
    assert "offset" not in link.params
    assert link.params["cursor"]


async def test_offset_page_also_links_to_the_next_by_cursor(api):
    ids = [(await _create(api, f"n{i}")).json()["id"] for i in range(4)]
    response = await api.get("/notes/?limit=1&offset=1")
    assert [n["id"] for n in response.json()] == [ids[2]]
    following = await api.get(response.links["next"]["url"])
    assert [n["id"] for n in following.json()] == [ids[1]]


@pytest.mark.parametrize("cursor", ["garbage", "a.b", "x" * 150])
async def test_malformed_cursor_is_a_400_problem(api, cursor):
    response = await api.get("/notes/", params={"cursor": cursor})
    assert (response.status_code, response.headers["content-type"]) == (400, PROBLEM)
    assert response.json()["type"] == "urn:notes:problem:invalid-cursor"


async def test_tampered_cursor_is_a_400_problem(api):
    for i in range(3):
        await _create(api, f"n{i}")
    cursor = httpx.URL((await api.get("/notes/?limit=1")).links["next"]["url"]).params["cursor"]
    payload, tag = cursor.split(".")
    tampered = payload[:-1] + ("A" if payload[-1] != "A" else "B") + "." + tag
    response = await api.get("/notes/", params={"cursor": tampered})
    assert response.status_code == 400


async def test_cursor_with_offset_is_a_400_problem(api):
    for i in range(3):
        await _create(api, f"n{i}")
    next_url = (await api.get("/notes/?limit=1")).links["next"]["url"]
    response = await api.get(next_url + "&offset=0")
    assert (response.status_code, response.headers["content-type"]) == (400, PROBLEM)


@pytest.mark.parametrize(
    "query",
    [
        "created_after=2026-01-01T00:00:00",
        "created_before=2026-01-01",
        "created_after=yesterday",
        "q=",
        "q=%20%20",
        "q=" + "w" * 201,
        "cursor=",
    ],
)
async def test_invalid_filters_are_422_problems(api, query):
    response = await api.get(f"/notes/?{query}")
    assert (response.status_code, response.headers["content-type"]) == (422, PROBLEM)


async def test_list_filters_by_text_category_and_time(api):
    before = (await _create(api, "too early for tomatoes")).json()
    wanted = (
        await api.post("/notes/", json={"contents": "water the tomatoes", "category": "garden"})
    ).json()
    await api.post("/notes/", json={"contents": "water the tomatoes", "category": "other"})
    response = await api.get(
        "/notes/",
        params={"q": "tomatoes water", "category": "garden", "created_after": before["updated_at"]},
    )
    assert [n["id"] for n in response.json()] == [wanted["id"]]


# --- idempotent creates ----------------------------------------------------------------------


async def test_repeated_idempotency_key_replays_the_first_answer(api):
    headers = {"Idempotency-Key": "order-42"}
    first = await api.post("/notes/", json={"contents": "once"}, headers=headers)
    again = await api.post("/notes/", json={"contents": "once"}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["etag"] == first.headers["etag"] == '"1"'
    assert len((await api.get("/notes/")).json()) == 1


async def test_idempotency_key_with_another_body_is_a_422_problem(api):
    headers = {"Idempotency-Key": "k"}
    await api.post("/notes/", json={"contents": "one"}, headers=headers)
    response = await api.post("/notes/", json={"contents": "two"}, headers=headers)
    assert (response.status_code, response.headers["content-type"]) == (422, PROBLEM)
    assert response.json()["type"] == "urn:notes:problem:idempotency-key-reused"


@pytest.mark.parametrize("key", ["", "k" * 256, "clé", "tab\there"])
async def test_invalid_idempotency_keys_are_422_problems(api, key):
    response = await api.post(
        "/notes/", json={"contents": "x"}, headers={"Idempotency-Key": key.encode()}
    )
    assert (response.status_code, response.headers["content-type"]) == (422, PROBLEM)
    assert response.json()["errors"][0]["name"] == "Idempotency-Key"
    assert (await api.get("/notes/")).json() == []


@pytest.mark.parametrize(
    "body",
    [{"contents": "a\u0000b"}, {"contents": "ok", "category": "c\u0000"}],
)
async def test_nul_characters_in_a_note_are_a_422_problem(api, body):
    response = await api.post("/notes/", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    created = await api.post("/notes/", json={"contents": "fine"})
    patched = await api.patch(created.headers["location"], json=body)
    assert patched.status_code == 422


@pytest.mark.parametrize("query", ["category=%00", "q=a%00b", "tag=a%00"])
async def test_nul_characters_in_list_filters_are_a_422_problem(api, query):
    response = await api.get(f"/notes/?{query}")
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
