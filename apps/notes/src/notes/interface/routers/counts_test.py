# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""``/tags/``, ``/categories/`` and ``/notes/?tag=`` over in-process HTTP, on the fakes."""

import httpx


async def test_tags_and_categories_are_most_used_first_then_by_name(api, dispatch):
    for contents, category in [("#b #a", "home"), ("#b", "work"), ("#c", "work"), ("x", "")]:
        assert (
            await api.post("/notes/", json={"contents": contents, "category": category})
        ).is_success
    await dispatch()

    tags = await api.get("/tags/")
    categories = await api.get("/categories/")

    assert tags.status_code == categories.status_code == 200
    assert tags.json() == [
        {"name": "b", "count": 2},
        {"name": "a", "count": 1},
        {"name": "c", "count": 1},
    ]
    assert categories.json() == [{"name": "work", "count": 2}, {"name": "home", "count": 1}]


async def test_notes_are_filtered_by_tag(api, dispatch):
    tagged = (await api.post("/notes/", json={"contents": "#Idea one"})).json()
    await api.post("/notes/", json={"contents": "no idea"})
    await dispatch()

    for tag in ("idea", "%23IDEA"):
        response = await api.get(f"/notes/?tag={tag}")
        assert response.status_code == 200
        assert [n["id"] for n in response.json()] == [tagged["id"]]
    assert (await api.get("/notes/?tag=")).status_code == 422


async def test_before_any_dispatch_the_lists_are_empty(api):
    await api.post("/notes/", json={"contents": "#waiting"})
    assert (await api.get("/tags/")).json() == []


async def test_tag_pages_follow_next_links_that_keep_the_tag_and_other_filters(api, dispatch):
    ids = []
    for i in range(5):
        created = await api.post("/notes/", json={"contents": f"#Walk step {i}", "category": "a"})
        ids.append(created.json()["id"])
    await api.post("/notes/", json={"contents": "#walk elsewhere", "category": "b"})
    await api.post("/notes/", json={"contents": "step without the tag", "category": "a"})
    await dispatch()

    seen, url = [], "/notes/?limit=2&category=a&tag=%23WALK"
    while url:
        response = await api.get(url)
        assert response.status_code == 200
        seen += [n["id"] for n in response.json()]
        url = response.links.get("next", {}).get("url")
        if url:
            params = httpx.URL(url).params
            assert (params["tag"], params["category"], params["limit"]) == ("#WALK", "a", "2")
    assert seen == ids[::-1]
