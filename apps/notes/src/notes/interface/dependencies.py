"""What routes receive through ``Depends``: ready services, taken from the running app."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from notes.bootstrap import Container
from notes.services.notes import NotesService
from notes.services.tags import TagsService

# All are ``async`` so FastAPI calls them on the event loop; a plain ``def`` dependency
# would be sent to the thread pool on every request.


async def get_container(request: Request) -> Container:
    """The container built at start-up."""
    container: Container = request.app.state.container
    return container


async def get_notes_service(request: Request) -> NotesService:
    """The notes service."""
    container: Container = request.app.state.container
    return container.notes


async def get_tags_service(request: Request) -> TagsService:
    """The tags service."""
    container: Container = request.app.state.container
    return container.tags


ContainerDep = Annotated[Container, Depends(get_container)]
NotesServiceDep = Annotated[NotesService, Depends(get_notes_service)]
TagsServiceDep = Annotated[TagsService, Depends(get_tags_service)]
