"""The API without authentication, for ``make bench_http`` only: the baseline a check costs against.

``create_app`` builds the served app (``notes.interface.app.create_app``) with one change: the
``PrincipalDep`` of ``notes.interface.auth``, which every route that needs a caller declares,
resolves to a fixed ``Principal`` (the account ``NOTES_BENCH_ACCOUNT_ID`` names, whose notes
the benchmark seeds) instead of ``current_principal``, which reads and checks the bearer token.
Middleware, routes, services, database work and serialization are those of the served app.
Nothing in the service can turn authentication off: this module is outside it, and only the
benchmark serves it (``uvicorn --app-dir bench unauthenticated_app:create_app --factory``).

Why not ``app.dependency_overrides``: while that mapping is non-empty, FastAPI rebuilds the
dependant of every sub-dependency on every request (``get_dependant`` in
``solve_dependencies``; about 25 us for the fixed principal and 50 us for the notes service
here), work the served app never does. The baseline would be slower by that much and the
ratio would flatter authentication. So ``PrincipalDep`` is replaced before the routers are
imported: they take it from ``notes.interface.auth`` and, their annotations being strings,
FastAPI resolves it in their modules whenever it builds a route's dependencies.
"""

from __future__ import annotations

import importlib
import os
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from notes.entities import Principal
from notes.interface import auth

ACCOUNT_ENV = "NOTES_BENCH_ACCOUNT_ID"
ROUTERS = ("accounts", "counts", "health", "notes")


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    """``dependant`` and every dependant below it."""
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def create_app() -> FastAPI:
    """The served app, whose routes act for the benchmark's account without a token."""
    principal = Principal(
        user_id=uuid.UUID(os.environ[ACCOUNT_ENV]),
        token_id=uuid.UUID(int=0),
        expires_at=datetime.max.replace(tzinfo=UTC),
    )

    async def fixed_principal() -> Principal:
        return principal

    if "notes.interface.app" in sys.modules:
        msg = "the routers were imported before PrincipalDep could be replaced"
        raise RuntimeError(msg)
    # An alias replaced by an alias of the same type; mypy sees a class in its place.
    auth.PrincipalDep = Annotated[Principal, Depends(fixed_principal)]  # type: ignore[assignment]
    from notes.interface.app import create_app as create_served_app  # noqa: PLC0415 - after that

    app = create_served_app()
    calls = [
        dependant.call
        for name in ROUTERS
        for route in importlib.import_module(f"notes.interface.routers.{name}").router.routes
        if isinstance(route, APIRoute)
        for dependant in _dependants(route.dependant)
    ]
    if auth.current_principal in calls or fixed_principal not in calls:
        msg = "a route still reads the bearer token, or none acts for the fixed principal"
        raise RuntimeError(msg)
    return app
