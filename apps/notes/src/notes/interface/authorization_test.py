# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Who may do what: every route and method of the app, with no token, an expired token, a
revoked token, another account's token and the owner's token.

The routes come from the app's own OpenAPI document, so a new route without a row in EXPECTED fails
``test_every_route_has_a_row``. Each request runs on a fresh app on the in-memory fakes, in
which the owner has a note, a second token and counts; what it answers is compared with
docs/api.md's promise.
"""

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from testkit import PASSWORD, RECEIVER_URL, bearer, new_email

from notes.core.config import Settings
from notes.core.ids import uuid7
from notes.entities import AccessToken, WebhookDelivery
from notes.interface.app import create_app
from notes.services.accounts import TOKEN_PREFIX

CASES = ["none", "expired", "revoked", "other", "owner"]
PUBLIC: dict[str, int | None] = dict.fromkeys(
    CASES
)  # the answer does not depend on the token: None means "as owner"
DENIED: dict[str, int | None] = {"none": 401, "expired": 401, "revoked": 401}

# (method, path) -> the status for each case; PUBLIC routes answer alike whatever is sent.
EXPECTED: dict[tuple[str, str], dict[str, int | None]] = {
    ("GET", "/"): PUBLIC,
    ("GET", "/health/ready"): PUBLIC,
    ("POST", "/users/"): PUBLIC,
    ("POST", "/tokens/"): PUBLIC,
    ("GET", "/users/me"): {**DENIED, "other": 200, "owner": 200},
    ("GET", "/tokens/"): {**DENIED, "other": 200, "owner": 200},
    ("DELETE", "/tokens/current"): {**DENIED, "other": 204, "owner": 204},
    ("DELETE", "/tokens/{token_id}"): {**DENIED, "other": 404, "owner": 204},
    ("POST", "/notes/"): {**DENIED, "other": 201, "owner": 201},
    ("GET", "/notes/"): {**DENIED, "other": 200, "owner": 200},
    ("GET", "/notes/{note_id}/"): {**DENIED, "other": 404, "owner": 200},
    ("GET", "/notes/export"): {**DENIED, "other": 200, "owner": 200},
    ("POST", "/notes/import"): {**DENIED, "other": 200, "owner": 200},
    ("PATCH", "/notes/{note_id}/"): {**DENIED, "other": 404, "owner": 200},
    ("DELETE", "/notes/{note_id}/"): {**DENIED, "other": 404, "owner": 200},
    ("GET", "/tags/"): {**DENIED, "other": 200, "owner": 200},
    ("GET", "/categories/"): {**DENIED, "other": 200, "owner": 200},
    ("GET", "/events/"): {**DENIED, "other": 200, "owner": 200},
    ("POST", "/webhooks/"): {**DENIED, "other": 201, "owner": 201},
    ("GET", "/webhooks/"): {**DENIED, "other": 200, "owner": 200},
    ("GET", "/webhooks/{subscription_id}/"): {**DENIED, "other": 404, "owner": 200},
    ("PATCH", "/webhooks/{subscription_id}/"): {**DENIED, "other": 404, "owner": 200},
    ("DELETE", "/webhooks/{subscription_id}/"): {**DENIED, "other": 404, "owner": 204},
    ("POST", "/webhooks/{subscription_id}/secret"): {**DENIED, "other": 404, "owner": 200},
    ("GET", "/webhooks/{subscription_id}/deliveries/"): {**DENIED, "other": 404, "owner": 200},
    ("POST", "/webhooks/{subscription_id}/deliveries/{delivery_id}/retry"): {
        **DENIED,
        "other": 404,
        "owner": 202,
    },
}
PUBLIC_STATUS = {
    ("GET", "/"): 200,
    ("GET", "/health/ready"): 200,
    ("POST", "/users/"): 201,
    ("POST", "/tokens/"): 201,
}


def _routes():
    """Every (method, path) the app serves, as its OpenAPI document lists them."""
    app = create_app(Settings(database_url="postgresql://nobody@127.0.0.1:1/none"))
    return {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }


def test_every_route_has_a_row():
    assert _routes() == set(EXPECTED)


class World:
    """An app on fresh fakes where an owner has a note (tagged, in a category), two tokens, a
    webhook subscription with a failed delivery, and where another account, an expired token
    and a revoked token exist."""

    def __init__(self, client, database, dispatch):
        self.client = client
        self.database = database
        self.dispatch = dispatch

    async def build(self):
        self.email = new_email("owner")
        self.owner = await self._sign_up(self.email)
        self.second_token = (await self._login(self.email))["id"]
        self.other = await self._sign_up(new_email("other"))
        revoked = await self._login(self.email)
        gone = await self.client.delete("/tokens/current", headers=bearer(revoked["access_token"]))
        assert gone.status_code == 204
        self.revoked = revoked["access_token"]
        self.expired = self._expired_token()
        note = await self.client.post(
            "/notes/",
            json={"contents": "#secret plans", "category": "private"},
            headers=bearer(self.owner),
        )
        self.note_id = note.json()["id"]
        await self.dispatch()
        webhook = await self.client.post(
            "/webhooks/", json={"url": RECEIVER_URL}, headers=bearer(self.owner)
        )
        assert webhook.status_code == 201, webhook.text
        self.subscription_id = webhook.json()["id"]
        self.delivery_id = self._failed_delivery()

    def _failed_delivery(self):
        now = datetime.now(UTC)
        delivery = WebhookDelivery(
            id=uuid7(),
            subscription_id=uuid.UUID(self.subscription_id),
            event_id=1,
            event_type="note.created",
            payload=b"{}",
            status="failed",
            attempt_count=8,
            next_attempt_at=None,
            created_at=now,
            updated_at=now,
        )
        self.database.webhook_deliveries[delivery.id] = delivery
        return str(delivery.id)

    async def _sign_up(self, email):
        created = await self.client.post("/users/", json={"email": email, "password": PASSWORD})
        assert created.status_code == 201
        return (await self._login(email))["access_token"]

    async def _login(self, email):
        token = await self.client.post("/tokens/", json={"email": email, "password": PASSWORD})
        assert token.status_code == 201
        return token.json()

    def _expired_token(self):
        value = TOKEN_PREFIX + "E" * 43
        owner_id = next(iter(self.database.users))
        past = datetime.now(UTC) - timedelta(days=1)
        self.database.tokens[uuid7()] = AccessToken(
            id=uuid7(),
            user_id=owner_id,
            token_hash=hashlib.sha256(value.encode()).digest(),
            created_at=past - timedelta(days=30),
            expires_at=past,
            last_used_at=None,
        )
        return value

    def headers(self, case):
        token = {
            "none": None,
            "expired": self.expired,
            "revoked": self.revoked,
            "other": self.other,
            "owner": self.owner,
        }[case]
        return {} if token is None else bearer(token)

    def request(self, method, path):
        url = (
            path.replace("{note_id}", self.note_id)
            .replace("{token_id}", self.second_token)
            .replace("{subscription_id}", self.subscription_id)
            .replace("{delivery_id}", self.delivery_id)
        )
        body = {
            ("POST", "/notes/"): {"contents": "a new note"},
            ("PATCH", "/notes/{note_id}/"): {"contents": "changed"},
            ("POST", "/users/"): {"email": new_email("new"), "password": PASSWORD},
            ("POST", "/tokens/"): {"email": self.email, "password": PASSWORD},
            ("POST", "/webhooks/"): {"url": RECEIVER_URL},
            ("PATCH", "/webhooks/{subscription_id}/"): {"description": "changed"},
        }.get((method, path))
        return method, url, body


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize(("method", "path"), sorted(EXPECTED))
async def test_each_route_answers_each_kind_of_caller_as_promised(
    api_factory, new_memory_db, method, path, case
):
    database = new_memory_db()
    async with api_factory(database, signed_in=False) as client:
        from notes.services.dispatch import Dispatcher  # noqa: PLC0415 - wiring of this test
        from notes.services.listeners import build_bus  # noqa: PLC0415

        dispatch = Dispatcher(database.unit_of_work, build_bus(database.unit_of_work))
        world = World(client, database, dispatch.dispatch_pending)
        await world.build()
        verb, url, body = world.request(method, path)
        headers = world.headers(case)
        if (method, path) == ("POST", "/notes/import"):
            headers["Content-Type"] = "application/x-ndjson"
            body_args = {"content": b'{"contents": "an imported note"}\n'}
        else:
            body_args = {"json": body}
        response = await client.request(verb, url, headers=headers, **body_args)

    expected = EXPECTED[method, path][case] or PUBLIC_STATUS[method, path]
    assert response.status_code == expected, (case, method, path, response.text)
    if expected == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["type"] == "urn:notes:problem:invalid-token"
    if case == "other" and response.status_code == 200:
        assert world.note_id not in response.text
        assert "secret" not in response.text
        assert "private" not in response.text
        assert world.email not in response.text
        assert world.subscription_id not in response.text


async def test_the_owner_sees_what_another_account_does_not(api_factory, new_memory_db):
    database = new_memory_db()
    async with api_factory(database, signed_in=False) as client:
        from notes.services.dispatch import Dispatcher  # noqa: PLC0415 - wiring of this test
        from notes.services.listeners import build_bus  # noqa: PLC0415

        dispatch = Dispatcher(database.unit_of_work, build_bus(database.unit_of_work))
        world = World(client, database, dispatch.dispatch_pending)
        await world.build()
        owner = world.headers("owner")
        listed = (await client.get("/notes/", headers=owner)).json()
        tags = (await client.get("/tags/", headers=owner)).json()
        categories = (await client.get("/categories/", headers=owner)).json()
    assert [n["id"] for n in listed] == [world.note_id]
    assert tags == [{"name": "secret", "count": 1}]
    assert categories == [{"name": "private", "count": 1}]
