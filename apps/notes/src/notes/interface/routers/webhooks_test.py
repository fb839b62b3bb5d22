# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""``/webhooks/`` over HTTP, in process, on the fakes."""

import pytest
from testkit import RECEIVER_URL


async def test_a_subscription_is_created_with_its_secret_which_is_never_shown_again(api):
    created = await api.post(
        "/webhooks/", json={"url": RECEIVER_URL, "event_types": ["note.created"]}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert created.headers["location"] == f"/webhooks/{body['id']}/"
    assert body["event_types"] == ["note.created"]
    assert body["enabled"] is True
    listed = await api.get("/webhooks/")
    one = await api.get(f"/webhooks/{body['id']}/")
    assert body["secret"] not in listed.text
    assert body["secret"] not in one.text
    assert one.json()["url"] == RECEIVER_URL


async def test_a_patch_changes_what_it_names_and_null_event_types_means_all(api):
    created = (
        await api.post("/webhooks/", json={"url": RECEIVER_URL, "event_types": ["note.deleted"]})
    ).json()
    changed = await api.patch(
        f"/webhooks/{created['id']}/", json={"event_types": None, "enabled": False}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["event_types"] is None
    assert changed.json()["enabled"] is False
    assert changed.json()["disabled_reason"] == "disabled by its owner"
    assert changed.json()["description"] == created["description"]


@pytest.mark.parametrize(
    "body",
    [
        {"url": RECEIVER_URL, "event_types": ["note.read"]},
        {"url": RECEIVER_URL, "event_types": []},
        {"url": RECEIVER_URL, "unknown": 1},
        {"event_types": None},
    ],
)
async def test_a_malformed_subscription_is_a_validation_problem(api, body):
    answer = await api.post("/webhooks/", json=body)
    assert answer.status_code == 422
    assert answer.json()["type"] == "urn:notes:problem:validation"


@pytest.mark.parametrize(
    "url", ["http://hooks.example.com/x", "https://169.254.169.254/", "https://127.0.0.1/"]
)
async def test_a_url_the_service_will_not_reach_is_refused(api, url):
    answer = await api.post("/webhooks/", json={"url": url})
    assert answer.status_code == 422
    assert answer.json()["type"] == "urn:notes:problem:invalid-webhook-url"


async def test_an_empty_patch_is_refused(api):
    created = (await api.post("/webhooks/", json={"url": RECEIVER_URL})).json()
    assert (await api.patch(f"/webhooks/{created['id']}/", json={})).status_code == 422
    assert (await api.patch(f"/webhooks/{created['id']}/", json={"url": None})).status_code == 422


async def test_rotating_gives_a_new_secret_and_the_overlap(api):
    created = (await api.post("/webhooks/", json={"url": RECEIVER_URL})).json()
    rotated = await api.post(f"/webhooks/{created['id']}/secret")
    assert rotated.status_code == 200
    assert rotated.json()["secret"] != created["secret"]
    assert rotated.json()["previous_secret_expires_at"]


async def test_deliveries_are_listed_in_pages_and_only_a_failed_one_is_retried(
    api, memory_db, dispatch
):
    created = (await api.post("/webhooks/", json={"url": RECEIVER_URL})).json()
    for i in range(3):
        await api.post("/notes/", json={"contents": f"note {i}"})
    await dispatch()
    first = await api.get(f"/webhooks/{created['id']}/deliveries/?limit=2")
    assert first.status_code == 200
    assert len(first.json()) == 2
    assert first.json()[0]["status"] == "pending"
    assert first.json()[0]["attempts"] == []
    link = first.headers["link"]
    assert link.startswith(f"</webhooks/{created['id']}/deliveries/?limit=2&cursor=")
    second = await api.get(link[1 : link.index(">")])
    assert len(second.json()) == 1
    assert "link" not in second.headers
    delivery_id = second.json()[0]["id"]
    retry = await api.post(f"/webhooks/{created['id']}/deliveries/{delivery_id}/retry")
    assert retry.status_code == 409
    assert retry.json()["type"] == "urn:notes:problem:delivery-not-failed"
    failed = await api.get(f"/webhooks/{created['id']}/deliveries/?status=failed")
    assert failed.json() == []
    assert (await api.get(f"/webhooks/{created['id']}/deliveries/?status=lost")).status_code == 422


async def test_a_subscription_that_does_not_exist_is_a_404_problem(api):
    missing = "00000000-0000-7000-8000-00000000dead"
    answer = await api.get(f"/webhooks/{missing}/")
    assert answer.status_code == 404
    assert answer.json()["type"] == "urn:notes:problem:webhook-not-found"
    gone = await api.post(f"/webhooks/{missing}/deliveries/{missing}/retry")
    assert gone.status_code == 404
    created = (await api.post("/webhooks/", json={"url": RECEIVER_URL})).json()
    no_delivery = await api.post(f"/webhooks/{created['id']}/deliveries/{missing}/retry")
    assert no_delivery.status_code == 404
    assert no_delivery.json()["type"] == "urn:notes:problem:delivery-not-found"
    assert (await api.delete(f"/webhooks/{created['id']}/")).status_code == 204
    assert (await api.get(f"/webhooks/{created['id']}/")).status_code == 404
