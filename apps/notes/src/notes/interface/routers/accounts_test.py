# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""``/users/`` and ``/tokens/`` over in-process HTTP, on the fakes."""

import pytest
from testkit import PASSWORD, bearer, new_email

PROBLEM = "application/problem+json"


@pytest.fixture
async def anonymous(api_factory, memory_db):
    async with api_factory(memory_db, signed_in=False) as client:
        yield client


async def _account(client, email=None):
    email = email or new_email()
    response = await client.post("/users/", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return email


async def test_sign_up_answers_the_account_without_its_password(anonymous):
    email = new_email()
    response = await anonymous.post("/users/", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201
    assert response.headers["location"] == "/users/me"
    assert set(response.json()) == {"id", "email", "created_at"}
    assert response.json()["email"] == email
    assert PASSWORD not in response.text


async def test_an_email_in_use_in_any_case_is_a_409_problem(anonymous):
    email = await _account(anonymous)
    again = await anonymous.post("/users/", json={"email": email.upper(), "password": PASSWORD})
    assert (again.status_code, again.headers["content-type"]) == (409, PROBLEM)
    assert again.json()["type"] == "urn:notes:problem:email-taken"


@pytest.mark.parametrize(
    ("body", "status", "problem"),
    [
        ({"email": "not an email", "password": PASSWORD}, 422, "validation"),
        ({"email": "a@example.com"}, 422, "validation"),
        ({"email": "a@example.com", "password": PASSWORD, "admin": True}, 422, "validation"),
        ({"email": "a@example.com", "password": "short"}, 422, "weak-password"),
        ({"email": "a@example.com", "password": "password1234"}, 422, "weak-password"),
    ],
)
async def test_bad_sign_ups_are_422_problems(anonymous, body, status, problem):
    response = await anonymous.post("/users/", json=body)
    assert (response.status_code, response.headers["content-type"]) == (status, PROBLEM)
    assert response.json()["type"] == f"urn:notes:problem:{problem}"


async def test_a_token_comes_from_json_or_from_the_oauth2_password_form(anonymous):
    email = await _account(anonymous)
    from_json = await anonymous.post("/tokens/", json={"email": email, "password": PASSWORD})
    from_form = await anonymous.post(
        "/tokens/", data={"grant_type": "password", "username": email, "password": PASSWORD}
    )
    for response in (from_json, from_form):
        assert response.status_code == 201
        body = response.json()
        assert body["token_type"] == "bearer"
        assert set(body) == {"access_token", "token_type", "id", "expires_at"}
        me = await anonymous.get("/users/me", headers=bearer(body["access_token"]))
        assert me.json()["email"] == email


async def test_a_wrong_password_and_an_unknown_email_get_the_same_401(anonymous):
    email = await _account(anonymous)
    wrong = await anonymous.post("/tokens/", json={"email": email, "password": "not it at all"})
    unknown = await anonymous.post("/tokens/", json={"email": new_email(), "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.headers["www-authenticate"] == unknown.headers["www-authenticate"]
    assert wrong.headers["www-authenticate"].startswith("Bearer")


async def test_repeated_failures_get_429_with_retry_after(anonymous):
    email = await _account(anonymous)
    statuses = [
        (await anonymous.post("/tokens/", json={"email": email, "password": "guess it guess"}))
        for _ in range(6)
    ]
    assert [r.status_code for r in statuses] == [401] * 5 + [429]
    refused = statuses[-1]
    assert refused.headers["content-type"] == PROBLEM
    assert 0 < int(refused.headers["retry-after"]) <= 900
    right = await anonymous.post("/tokens/", json={"email": email, "password": PASSWORD})
    assert right.status_code == 429


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("text/plain", b"email=a&password=b", 415),
        ("application/json", b"{not json", 422),
        ("application/json", b'{"email": "a@example.com"}', 422),
        ("application/json", b"\xff\xfe", 400),
        ("application/x-www-form-urlencoded", b"username=a%40example.com", 422),
    ],
)
async def test_a_login_body_of_the_wrong_shape_is_a_4xx_problem(
    anonymous, content_type, body, status
):
    response = await anonymous.post(
        "/tokens/", content=body, headers={"content-type": content_type}
    )
    assert (response.status_code, response.headers["content-type"]) == (status, PROBLEM)


async def test_tokens_are_listed_with_the_current_one_marked_and_never_their_values(api):
    listed = await api.get("/tokens/")
    assert listed.status_code == 200
    [token] = listed.json()
    assert token["current"] is True
    assert set(token) == {"id", "created_at", "expires_at", "last_used_at", "current"}
    assert api.headers["authorization"].removeprefix("Bearer ") not in listed.text


async def test_logging_out_revokes_the_token_of_the_request(api):
    assert (await api.delete("/tokens/current")).status_code == 204
    after = await api.get("/users/me")
    assert after.status_code == 401
    assert after.json()["type"] == "urn:notes:problem:invalid-token"


async def test_a_token_is_revoked_by_id_by_its_owner_only(api, anonymous):
    email = await _account(anonymous)
    other = (await anonymous.post("/tokens/", json={"email": email, "password": PASSWORD})).json()
    mine = (await api.get("/tokens/")).json()[0]["id"]
    assert (await api.delete(f"/tokens/{other['id']}")).status_code == 404
    assert (await anonymous.get("/users/me", headers=bearer(other["access_token"]))).is_success
    assert (await api.delete(f"/tokens/{mine}")).status_code == 204
    assert (await api.get("/users/me")).status_code == 401


async def test_a_request_without_a_token_is_challenged(anonymous):
    response = await anonymous.get("/notes/")
    assert (response.status_code, response.headers["content-type"]) == (401, PROBLEM)
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_the_openapi_document_offers_the_password_flow_for_the_authorize_button(api):
    document = (await api.get("/openapi.json")).json()
    [scheme] = document["components"]["securitySchemes"].values()
    assert scheme["flows"]["password"]["tokenUrl"] == "/tokens/"
    body = document["paths"]["/tokens/"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "application/x-www-form-urlencoded"}
