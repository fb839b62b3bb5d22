"""Liveness and readiness."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from notes.connectors.database import describe
from notes.connectors.migrations import current_revision
from notes.interface.dependencies import ContainerDep
from notes.interface.schemas import Readiness, Status

router = APIRouter(tags=["health"])
_logger = logging.getLogger(__name__)


@router.get("/", summary="The service is up")
async def root(container: ContainerDep) -> Status:
    """Answers as long as the process serves HTTP; touches nothing else."""
    return Status(app=container.settings.app_name, status="up")


@router.get(
    "/health/ready",
    summary="The service can serve requests",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Database down or schema not current"}},
)
async def ready(container: ContainerDep) -> Readiness | JSONResponse:
    """200 when the database answers and its schema is at the migration head, else 503."""
    database = describe(container.engine)
    try:
        revision = await current_revision(container.engine)
    except (SQLAlchemyError, OSError) as error:
        _logger.warning("readiness: database %s unreachable: %s", database, error)
        body = Readiness(
            status="database unreachable",
            database=database,
            schema_revision=None,
            expected_revision=container.schema_head,
        )
        return JSONResponse(body.model_dump(), status_code=503)
    state = "ready" if revision == container.schema_head else "schema not at migration head"
    body = Readiness(
        status=state,
        database=database,
        schema_revision=revision,
        expected_revision=container.schema_head,
    )
    if revision != container.schema_head:
        return JSONResponse(body.model_dump(), status_code=503)
    return body
