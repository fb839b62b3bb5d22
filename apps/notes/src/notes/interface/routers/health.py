"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from notes.interface.dependencies import HealthServiceDep, SettingsDep
from notes.interface.schemas import Readiness, Status

router = APIRouter(tags=["health"])


@router.get("/", summary="The service is up")
async def root(settings: SettingsDep) -> Status:
    """Answers as long as the process serves HTTP; touches nothing else."""
    return Status(app=settings.app_name, status="up")


@router.get(
    "/health/ready",
    summary="The service can serve requests",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Database down or schema not current"}},
)
async def ready(health: HealthServiceDep) -> Readiness | JSONResponse:
    """200 when the database answers and its schema is at the migration head, else 503."""
    readiness = await health.readiness()
    body = Readiness.from_service(readiness)
    if not readiness.ready:
        return JSONResponse(body.model_dump(), status_code=503)
    return body
