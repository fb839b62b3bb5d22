# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The notes routes over in-process HTTP, on in-memory fakes: status codes, headers, problems."""

import uuid

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
