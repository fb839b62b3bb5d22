"""What routes receive through ``Depends``: ready services, taken from the running app."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from notes.bootstrap import Container
from notes.core.config import Settings
from notes.services.accounts import AccountsService
from notes.services.counts import CountsService
from notes.services.health import HealthService
from notes.services.live_events import LiveEvents
from notes.services.notes import NotesService
from notes.services.transfer import TransferService
from notes.services.webhooks import WebhooksService

# All are ``async`` so FastAPI calls them on the event loop; a plain ``def`` dependency
# would be sent to the thread pool on every request.


async def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


async def get_notes_service(request: Request) -> NotesService:
    """The notes service."""
    container: Container = request.app.state.container
    return container.notes


async def get_counts_service(request: Request) -> CountsService:
    """The tag and category counts."""
    container: Container = request.app.state.container
    return container.counts


async def get_accounts_service(request: Request) -> AccountsService:
    """Accounts and tokens."""
    container: Container = request.app.state.container
    return container.accounts


async def get_health_service(request: Request) -> HealthService:
    """Readiness."""
    container: Container = request.app.state.container
    return container.health


async def get_webhooks_service(request: Request) -> WebhooksService:
    """Webhook subscriptions and their deliveries."""
    container: Container = request.app.state.container
    return container.webhooks


async def get_transfer_service(request: Request) -> TransferService:
    """Export and import of notes."""
    container: Container = request.app.state.container
    return container.transfer


async def get_live_events_service(request: Request) -> LiveEvents:
    """The live event feed."""
    container: Container = request.app.state.container
    return container.live_events


SettingsDep = Annotated[Settings, Depends(get_settings)]
NotesServiceDep = Annotated[NotesService, Depends(get_notes_service)]
CountsServiceDep = Annotated[CountsService, Depends(get_counts_service)]
HealthServiceDep = Annotated[HealthService, Depends(get_health_service)]
AccountsServiceDep = Annotated[AccountsService, Depends(get_accounts_service)]
WebhooksServiceDep = Annotated[WebhooksService, Depends(get_webhooks_service)]
TransferServiceDep = Annotated[TransferService, Depends(get_transfer_service)]
LiveEventsDep = Annotated[LiveEvents, Depends(get_live_events_service)]
