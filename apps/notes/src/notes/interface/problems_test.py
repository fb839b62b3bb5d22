# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""What a client sees when the infrastructure fails, or the code does: problems, never a trace."""

import asyncio
import logging
import uuid

import httpx
import pytest

from notes.core.errors import (
    CommitOutcomeUnknownError,
    DatabaseTimeoutError,
    DatabaseUnavailableError,
    OverloadedError,
    StoppingError,
)
from notes.interface.problems import UnexpectedErrorMiddleware

PROBLEM = "application/problem+json"
DRIVER_TEXT = "connection to server at 10.0.0.7 failed: secret detail"


@pytest.mark.parametrize(
    ("error", "problem_type"),
    [
        (DatabaseUnavailableError(DRIVER_TEXT), "database-unavailable"),
        (DatabaseTimeoutError(DRIVER_TEXT), "database-timeout"),
        (CommitOutcomeUnknownError(DRIVER_TEXT), "outcome-unknown"),
        (OverloadedError(DRIVER_TEXT), "overloaded"),
        (StoppingError(DRIVER_TEXT), "stopping"),
    ],
)
async def test_an_outage_is_a_503_problem_with_retry_after_on_every_route(
    api_factory, error, problem_type
):
    async with api_factory(unreachable=error, retry_after=7) as api:
        responses = [
            await api.post("/notes/", json={"contents": "x"}),
            await api.get(f"/notes/{uuid.uuid4()}/"),
            await api.get("/notes/"),
            await api.patch(f"/notes/{uuid.uuid4()}/", json={"contents": "y"}),
            await api.delete(f"/notes/{uuid.uuid4()}/"),
            await api.get("/tags/"),
        ]
    for response in responses:
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["retry-after"] == "7"
        body = response.json()
        assert body["type"] == f"urn:notes:problem:{problem_type}"
        assert body["status"] == 503
        assert "secret" not in response.text  # the driver's words stay in the log


async def test_an_outage_is_logged_without_a_traceback(api_factory, caplog):
    with caplog.at_level(logging.INFO, logger="notes.interface.problems"):
        async with api_factory(unreachable=DatabaseUnavailableError("refused")) as api:
            await api.get("/notes/")
    (record,) = [r for r in caplog.records if r.name == "notes.interface.problems"]
    assert record.getMessage() == "503 database-unavailable on GET /notes/: refused"
    assert record.exc_info is None


async def test_a_lost_commit_is_logged_as_an_error(api_factory, caplog):
    with caplog.at_level(logging.INFO, logger="notes.interface.problems"):
        async with api_factory(unreachable=CommitOutcomeUnknownError("lost")) as api:
            await api.post("/notes/", json={"contents": "x"})
    assert [r.levelno for r in caplog.records if r.name == "notes.interface.problems"] == [
        logging.ERROR
    ]


async def test_an_unexpected_error_is_answered_500_and_not_raised_to_the_server(
    api_factory, caplog
):
    # ASGITransport raises whatever the app lets escape: an answer here means nothing did,
    # so a server would keep the client's connection open.
    async with api_factory(unreachable=RuntimeError("a bug"), raise_app_exceptions=True) as api:
        with caplog.at_level(logging.ERROR, logger="notes.interface.problems"):
            first = await api.get("/notes/")
        second = await api.get("/")
    assert first.status_code == 500
    assert first.headers["content-type"] == PROBLEM
    assert first.json()["detail"] == "The service failed to handle this request."
    assert "a bug" not in first.text
    assert second.status_code == 200
    assert "unhandled error on GET /notes/" in caplog.text
    assert "RuntimeError: a bug" in caplog.text  # the traceback is logged


async def test_an_error_after_the_answer_began_is_raised_on():
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        msg = "failed halfway"
        raise RuntimeError(msg)

    transport = httpx.ASGITransport(app=UnexpectedErrorMiddleware(app, retry_after=1))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        with pytest.raises(RuntimeError, match="failed halfway"):
            await client.get("/")


async def test_a_request_cancelled_before_its_answer_is_answered_503_stopping():
    started = asyncio.Event()

    async def app(scope, receive, send):
        started.set()
        await asyncio.sleep(60)

    sent = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "method": "POST", "path": "/notes/", "headers": []}
    request = asyncio.create_task(
        UnexpectedErrorMiddleware(app, retry_after=3)(scope, receive, send)
    )
    await started.wait()
    request.cancel()  # as uvicorn does when its graceful shutdown times out
    await request  # answered: the cancellation was handled
    assert sent[0]["status"] == 503
    headers = dict(sent[0]["headers"])
    assert headers[b"retry-after"] == b"3"
    assert headers[b"connection"] == b"close"
    assert b"urn:notes:problem:stopping" in sent[1]["body"]
