# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Hostile and odd input, in-process on the fakes: each gets a deliberate 2xx or a 4xx problem."""

import json
import uuid

import pytest

PROBLEM = "application/problem+json"
JSON_HEADERS = {"Content-Type": "application/json"}


def _is_problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == status


async def test_405_lists_every_method_the_path_serves(api):
    note = f"/notes/{uuid.uuid4()}/"
    for method, path, allowed in [
        ("PUT", note, "GET, PATCH, DELETE"),
        ("POST", note, "GET, PATCH, DELETE"),
        ("PUT", "/notes/", "GET, POST"),
        ("OPTIONS", "/notes/", "GET, POST"),
        ("POST", "/tags/", "GET"),
        ("GET", "/tokens/current", "DELETE"),
    ]:
        response = await api.request(method, path)
        _is_problem(response, 405)
        assert response.headers["allow"] == allowed, (method, path)


@pytest.mark.parametrize(
    "value",
    ["0.5", "1700000000", "2026-01-01T00:00:00", "2026-01-01", "yesterday", "2026-13-01T00:00Z"],
)
async def test_a_timestamp_filter_without_an_iso_date_time_and_offset_is_a_422(api, value):
    for name in ("created_before", "created_after"):
        _is_problem(await api.get("/notes/", params={name: value}), 422)


@pytest.mark.parametrize(
    "value", ["2026-01-01T00:00:00Z", "2026-01-01T00:00:00.123456+02:00", "2026-01-01 00:00-0500"]
)
async def test_an_iso_date_time_with_an_offset_is_a_valid_filter(api, value):
    assert (await api.get("/notes/", params={"created_after": value})).status_code == 200


async def test_malformed_json_is_a_422_validation_problem(api):
    response = await api.post("/notes/", content=b'{"contents": ', headers=JSON_HEADERS)
    _is_problem(response, 422)
    assert response.json()["type"] == "urn:notes:problem:validation"


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
async def test_a_body_of_another_media_type_is_a_415(api, content_type):
    body = b'{"contents": "x"}'
    _is_problem(
        await api.post("/notes/", content=body, headers={"Content-Type": content_type}), 415
    )
    _is_problem(
        await api.post("/users/", content=body, headers={"Content-Type": content_type}), 415
    )
    created = (await api.post("/notes/", json={"contents": "x"})).json()
    patched = await api.patch(
        f"/notes/{created['id']}/", content=body, headers={"Content-Type": content_type}
    )
    _is_problem(patched, 415)


async def test_json_with_a_charset_or_a_json_suffix_is_json(api):
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = await api.post(
            "/notes/", content=b'{"contents": "x"}', headers={"Content-Type": content_type}
        )
        assert response.status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        b'{"contents": "\xff\xfe"}',  # not UTF-8
        b'{"contents": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",  # deeper than the parser goes
    ],
    ids=["invalid-utf-8", "nested-100000-deep"],
)
async def test_a_body_json_cannot_read_is_a_400(api, body):
    _is_problem(await api.post("/notes/", content=body, headers=JSON_HEADERS), 400)
    _is_problem(await api.post("/users/", content=body, headers=JSON_HEADERS), 400)
    _is_problem(await api.post("/tokens/", content=body, headers=JSON_HEADERS), 400)


async def test_nesting_the_parser_reads_is_an_ordinary_422(api):
    body = b'{"contents": ' + b"[" * 500 + b"]" * 500 + b"}"
    _is_problem(await api.post("/notes/", content=body, headers=JSON_HEADERS), 422)


async def test_a_login_form_with_too_many_fields_is_a_400(api):
    form = "&".join(f"f{i}=x" for i in range(20))
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    _is_problem(await api.post("/tokens/", content=form.encode(), headers=headers), 400)


@pytest.mark.parametrize("escaped", [True, False], ids=["as-surrogate-escapes", "as-utf-8"])
async def test_100000_emoji_fit_the_body_limit_however_they_are_encoded(api, escaped):
    contents, category = "\U0001f600" * 100_000, "\U0001f600" * 100
    body = json.dumps({"contents": contents, "category": category}, ensure_ascii=escaped).encode()
    assert len(body) > (1_200_000 if escaped else 400_000)

    created = await api.post("/notes/", content=body, headers=JSON_HEADERS)

    assert created.status_code == 201, created.text[:200]
    assert created.json()["contents"] == contents
    patched = await api.patch(f"/notes/{created.json()['id']}/", content=body, headers=JSON_HEADERS)
    assert patched.status_code == 200
    one_more = json.dumps({"contents": contents + "\U0001f600"}).encode()
    _is_problem(await api.post("/notes/", content=one_more, headers=JSON_HEADERS), 422)


async def test_header_fields_over_16_kib_are_a_431(api):
    _is_problem(await api.get("/notes/", headers={"X-Padding": "a" * 17_000}), 431)
    assert (await api.get("/notes/", headers={"X-Padding": "a" * 8_000})).status_code == 200


async def test_hashtags_with_combining_marks_are_kept_whole(api, dispatch):
    await api.post("/notes/", json={"contents": "#cafe\u0301 and #नमस्ते"})
    await dispatch()
    assert {t["name"] for t in (await api.get("/tags/")).json()} == {"café", "नमस्ते"}
    assert len((await api.get("/notes/", params={"tag": "#CAFE\u0301"})).json()) == 1


async def test_an_entity_tag_may_hold_a_comma(api):
    created = (await api.post("/notes/", json={"contents": "x"})).json()
    url = f"/notes/{created['id']}/"
    stale = await api.patch(url, json={"contents": "y"}, headers={"If-Match": '"1,2"'})
    _is_problem(stale, 412)
    listed = await api.patch(url, json={"contents": "y"}, headers={"If-Match": '"a,b", "1"'})
    assert listed.status_code == 200
    assert (await api.get(url, headers={"If-None-Match": '"x,2"'})).status_code == 200
    assert (await api.get(url, headers={"If-None-Match": '"x,y", W/"2"'})).status_code == 304
    _is_problem(await api.delete(url, headers={"If-Match": '"2" "3"'}), 400)
    _is_problem(await api.delete(url, headers={"If-Match": "garbage"}), 400)
