"""``/webhooks/``: subscriptions to the caller's note events, their secrets and deliveries."""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response, status

from notes.entities import DeliveryStatus
from notes.interface.auth import PrincipalDep
from notes.interface.dependencies import WebhooksServiceDep
from notes.interface.limits import require_json
from notes.interface.schemas import problem_responses
from notes.interface.webhook_schemas import (
    DeliveryListQuery,
    DeliveryRead,
    SecretRotated,
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
    WebhookUpdate,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


@router.post(
    "/",
    status_code=status.HTTP_201_CREATED,
    summary="Subscribe a URL to the caller's note events",
    response_model=WebhookCreated,
    responses=problem_responses(400, 401, 409, 413, 415, 422),
    dependencies=[Depends(require_json)],
)
async def create_webhook(
    body: WebhookCreate, principal: PrincipalDep, service: WebhooksServiceDep, response: Response
) -> WebhookCreated:
    """Register a receiver; the answer holds its signing secret, shown this once.

    422 when the URL is not https (or http where allowed) or its host resolves to an address
    a webhook may not reach; 409 when the account has as many subscriptions as it may.
    """
    created = await service.create(
        principal.user_id,
        url=body.url,
        event_types=body.event_types,
        description=body.description,
    )
    response.headers["Location"] = f"/webhooks/{created.subscription.id}/"
    return WebhookCreated.of(created.subscription, created.secret)


@router.get("/", summary="List the caller's subscriptions", responses=problem_responses(401))
async def list_webhooks(principal: PrincipalDep, service: WebhooksServiceDep) -> list[WebhookRead]:
    """The caller's subscriptions, oldest first (an account has at most a few)."""
    return [WebhookRead.from_entity(s) for s in await service.list(principal.user_id)]


@router.get(
    "/{subscription_id}/",
    summary="Read a subscription",
    responses=problem_responses(401, 404, 422),
)
async def get_webhook(
    subscription_id: uuid.UUID, principal: PrincipalDep, service: WebhooksServiceDep
) -> WebhookRead:
    """The subscription, with whether it is enabled and, if not, why."""
    return WebhookRead.from_entity(await service.get_or_raise(principal.user_id, subscription_id))


@router.patch(
    "/{subscription_id}/",
    summary="Change a subscription",
    responses=problem_responses(400, 401, 404, 413, 415, 422),
    dependencies=[Depends(require_json)],
)
async def update_webhook(
    subscription_id: uuid.UUID,
    body: WebhookUpdate,
    principal: PrincipalDep,
    service: WebhooksServiceDep,
) -> WebhookRead:
    """Change ``url``, ``event_types``, ``description`` and/or ``enabled``.

    Enabling a disabled subscription starts it afresh; its failed deliveries stay failed
    until retried.
    """
    changes = body.model_dump(include=body.model_fields_set)
    view = await service.update(principal.user_id, subscription_id, **changes)
    return WebhookRead.from_entity(view)


@router.delete(
    "/{subscription_id}/",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a subscription",
    responses=problem_responses(401, 404, 422),
)
async def delete_webhook(
    subscription_id: uuid.UUID, principal: PrincipalDep, service: WebhooksServiceDep
) -> Response:
    """Delete the subscription and its deliveries; none of them is sent afterwards."""
    await service.delete(principal.user_id, subscription_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{subscription_id}/secret",
    summary="Rotate the signing secret",
    responses=problem_responses(401, 404, 422),
)
async def rotate_secret(
    subscription_id: uuid.UUID, principal: PrincipalDep, service: WebhooksServiceDep
) -> SecretRotated:
    """A new secret, shown this once; deliveries are signed by both secrets until
    ``previous_secret_expires_at``."""
    rotated = await service.rotate_secret(principal.user_id, subscription_id)
    return SecretRotated(
        secret=rotated.secret, previous_secret_expires_at=rotated.previous_expires_at
    )


@router.get(
    "/{subscription_id}/deliveries/",
    summary="List a subscription's deliveries, newest first",
    responses={
        **problem_responses(401, 400, 404, 422),
        200: {"headers": {"Link": {"description": 'The next page: rel="next"'}}},
    },
)
async def list_deliveries(  # noqa: PLR0913, PLR0917 - FastAPI passes each part of the request by name
    subscription_id: uuid.UUID,
    request: Request,
    response: Response,
    principal: PrincipalDep,
    service: WebhooksServiceDep,
    query: Annotated[DeliveryListQuery, Query()],
) -> list[DeliveryRead]:
    """Deliveries (of ``status``, when given) with their latest attempts; paged as notes
    are, by the ``Link`` header."""
    page = await service.deliveries(
        principal.user_id,
        subscription_id,
        status=None if query.status is None else DeliveryStatus(query.status),
        limit=query.limit,
        cursor=query.cursor,
    )
    if page.next_cursor is not None:
        target = f"{request.url.path}?{urlencode(query.next_page(page.next_cursor))}"
        response.headers["Link"] = f'<{target}>; rel="next"'
    return [DeliveryRead.from_entity(d) for d in page.deliveries]


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Queue a failed delivery again",
    responses=problem_responses(401, 404, 409, 422),
)
async def retry_delivery(
    subscription_id: uuid.UUID,
    delivery_id: uuid.UUID,
    principal: PrincipalDep,
    service: WebhooksServiceDep,
) -> DeliveryRead:
    """Put a failed delivery back on the queue with a fresh retry schedule (409 unless it
    failed)."""
    view = await service.retry(principal.user_id, subscription_id, delivery_id)
    return DeliveryRead.from_entity(view)
