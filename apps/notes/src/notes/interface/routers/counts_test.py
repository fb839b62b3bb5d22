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


async def test_tag_and_category_lists_are_paged_by_signed_cursors_in_next_links(api, dispatch):
    for i in range(7):
        contents = " ".join(f"#t{j}" for j in range(i + 1))
        assert (
            await api.post("/notes/", json={"contents": contents, "category": f"c{i % 3}"})
        ).is_success
    await dispatch()

    for path, expected in [
        ("/tags/", [f"t{j}" for j in range(7)]),
        ("/categories/", ["c0", "c1", "c2"]),
    ]:
        seen, url = [], f"{path}?limit=2"
        while url:
            response = await api.get(url)
            assert response.status_code == 200
            assert len(response.json()) <= 2
            seen += [row["name"] for row in response.json()]
            url = response.links.get("next", {}).get("url")
            if url:
                assert url.startswith(f"{path}?limit=2&cursor=")
        assert seen == expected
    whole = await api.get("/tags/")
    assert "link" not in whole.headers
    assert [row["count"] for row in whole.json()] == [7, 6, 5, 4, 3, 2, 1]


async def test_a_count_cursor_from_another_list_or_account_or_altered_is_a_400(
    api, api_factory, dispatch
):
    for i in range(3):
        await api.post("/notes/", json={"contents": f"#t{i}", "category": f"c{i}"})
    await dispatch()
    link = (await api.get("/tags/?limit=1")).links["next"]["url"]
    cursor = httpx.URL(link).params["cursor"]

    assert (await api.get(f"/tags/?cursor={cursor}")).status_code == 200
    assert (await api.get(f"/categories/?cursor={cursor}")).status_code == 400
    assert (await api.get(f"/tags/?cursor={cursor[:-2]}AA")).status_code == 400
    assert (await api.get("/tags/?limit=0")).status_code == 422
    assert (await api.get("/tags/?limit=1001")).status_code == 422
    async with api_factory() as stranger:
        assert (await stranger.get(f"/tags/?cursor={cursor}")).status_code == 400


async def test_a_note_with_more_than_50_distinct_hashtags_is_refused_with_a_422(api):
    letters = "abcdefghijklmnopqrstuvwxyz"
    every = " ".join(f"#{a}{b}{c}" for a in letters for b in letters for c in letters)
    fifty = " ".join(f"#t{i}" for i in range(50)) + " #T0 #t0"  # repeats count once
    fifty_one = fifty + " #t50"

    refused = await api.post("/notes/", json={"contents": every})
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    [error] = refused.json()["errors"]
    assert error["name"] == "contents"
    assert "more than 50 distinct hashtags" in error["reason"]
    assert (await api.post("/notes/", json={"contents": fifty_one})).status_code == 422
    created = await api.post("/notes/", json={"contents": fifty})
    assert created.status_code == 201
    edited = await api.patch(f"/notes/{created.json()['id']}/", json={"contents": fifty_one})
    assert edited.status_code == 422
