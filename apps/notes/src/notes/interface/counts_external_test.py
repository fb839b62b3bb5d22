# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Tags over real HTTP: the API and a worker process, as ``make run`` starts them."""

import asyncio

import pytest

pytestmark = pytest.mark.external


async def until(condition, seconds=10.0):
    """Poll ``condition`` (a coroutine function) until it is true; fail after ``seconds``."""
    async with asyncio.timeout(seconds):
        while not await condition():  # noqa: ASYNC110 - a bounded poll of another process's work
            await asyncio.sleep(0.1)


@pytest.mark.own_process
async def test_a_new_notes_hashtags_show_up_in_tags_within_seconds(http, launcher, make_unique):
    launcher.start_worker()
    tag = make_unique("tag").replace("-", "_")
    category = make_unique("cat")
    created = await http.post(
        "/notes/", json={"contents": f"first #{tag.upper()} #{tag}x", "category": category}
    )
    await http.post("/notes/", json={"contents": f"second #{tag}", "category": category})
    assert created.status_code == 201

    async def counted():
        tags = {t["name"]: t["count"] for t in (await http.get("/tags/")).json()}
        return tags.get(tag) == 2 and tags.get(f"{tag}x") == 1

    await until(counted)
    categories = {c["name"]: c["count"] for c in (await http.get("/categories/")).json()}
    assert categories[category] == 2
    tagged = await http.get("/notes/", params={"tag": f"#{tag}x"})
    assert [n["id"] for n in tagged.json()] == [created.json()["id"]]

    await http.delete(f"/notes/{created.json()['id']}/")

    async def uncounted():
        tags = {t["name"]: t["count"] for t in (await http.get("/tags/")).json()}
        return tags.get(tag) == 1 and f"{tag}x" not in tags

    await until(uncounted)
