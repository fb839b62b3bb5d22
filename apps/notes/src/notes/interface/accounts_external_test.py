# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Accounts over real HTTP, as a client uses them: sign up, log in, use, log out."""

import httpx
import pytest
from testkit import PASSWORD, bearer, new_email

pytestmark = pytest.mark.external


async def _sign_up(client):
    email = new_email("ext")
    assert (
        await client.post("/users/", json={"email": email, "password": PASSWORD})
    ).status_code == 201
    token = await client.post(
        "/tokens/", data={"grant_type": "password", "username": email, "password": PASSWORD}
    )
    assert token.status_code == 201
    return email, token.json()["access_token"]


async def test_a_client_signs_up_logs_in_works_and_logs_out(anonymous_http):
    email, token = await _sign_up(anonymous_http)
    me = await anonymous_http.get("/users/me", headers=bearer(token))
    assert me.json()["email"] == email
    note = await anonymous_http.post("/notes/", json={"contents": "mine"}, headers=bearer(token))
    assert note.status_code == 201
    assert (
        await anonymous_http.delete("/tokens/current", headers=bearer(token))
    ).status_code == 204
    after = await anonymous_http.get(note.headers["location"], headers=bearer(token))
    assert after.status_code == 401
    assert after.headers["www-authenticate"].startswith("Bearer")


async def test_another_accounts_note_is_404_for_every_method(anonymous_http, http):
    _, stranger = await _sign_up(anonymous_http)
    url = (await http.post("/notes/", json={"contents": "private"})).headers["location"]
    for method, body in [("GET", None), ("PATCH", {"contents": "x"}), ("DELETE", None)]:
        response = await anonymous_http.request(method, url, json=body, headers=bearer(stranger))
        assert response.status_code == 404, method
    assert (await http.get(url)).json()["contents"] == "private"


@pytest.mark.own_process
def test_no_password_reaches_the_servers_log(launcher):
    app = launcher.start()
    email = new_email("log")
    with httpx.Client(base_url=app.base_url, timeout=10) as client:
        client.post("/users/", json={"email": email, "password": PASSWORD})
        client.post("/tokens/", json={"email": email, "password": "a wrong password!!"})
        token = client.post("/tokens/", json={"email": email, "password": PASSWORD}).json()
        client.get("/users/me", headers=bearer(token["access_token"]))
    launcher.stop(app)
    log = app.log()
    assert "POST /tokens/" in log
    for secret in (PASSWORD, "a wrong password!!", token["access_token"]):
        assert secret not in log
