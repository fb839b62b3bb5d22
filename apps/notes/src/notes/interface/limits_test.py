# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The body limit (1 KiB here): refused by declared length, and while the body streams in."""

import pytest

PROBLEM = "application/problem+json"


@pytest.fixture
async def api(api_factory):
    async with api_factory(max_body_bytes=1024) as client:
        yield client


async def test_declared_body_over_the_limit_is_refused_with_413(api):
    response = await api.post(
        "/notes/", content=b"x" * 2048, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 413


async def test_streamed_body_over_the_limit_is_refused_with_413(api):
    sent = 0

    async def chunks():
        nonlocal sent
        for _ in range(64):
            sent += 1
            yield b"x" * 256

    response = await api.post(
        "/notes/", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert sent < 64, "the whole body was read before refusing it"


async def test_body_under_the_limit_is_accepted(api):
    response = await api.post("/notes/", json={"contents": "x" * 900})
    assert response.status_code == 201
