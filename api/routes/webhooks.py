"""Admin routes for event delivery (ours, not Medusa's): webhook endpoints, and the deliveries an
operator looks at and sends again. The same operations as `customers webhooks|events`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel, Field

from api.deps import Admin, Services, ServicesDep, query_of
from api.schemas import DeleteResponse, Strict
from triggers.operations import Operations

router = APIRouter(prefix="/admin", tags=["admin: event delivery"])

MAX_EVENT_NAMES = 100


class WebhookBody(Strict):
    url: str = Field(max_length=2048)
    events: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        min_length=1, max_length=MAX_EVENT_NAMES
    )


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    created_at: datetime | None = None


class CreatedWebhookOut(WebhookOut):
    secret: str = Field(description="The signing secret; shown only in this answer.")


class CreatedWebhookResponse(BaseModel):
    webhook: CreatedWebhookOut


class WebhooksResponse(BaseModel):
    webhooks: list[WebhookOut]
    count: int


class DeliveriesQuery(Strict):
    status: Literal["pending", "delivered", "failed"] | None = None
    limit: int = Field(default=100, ge=1, le=1000)


class DeliveryOut(BaseModel):
    id: str
    event: str
    event_id: int
    subscriber: str
    lane: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    status_changed_at: datetime | None


class DeliveriesResponse(BaseModel):
    deliveries: list[DeliveryOut]


class RedeliveredResponse(BaseModel):
    delivery: dict[str, str]


def _operations(services: Services) -> Operations:
    flows = services.flows
    return Operations(flows.client, services.settings, services.customers.sessions)


@router.get("/webhooks", response_model=WebhooksResponse)
async def list_webhooks(services: ServicesDep, _: Admin) -> Any:
    hooks = await _operations(services).deliveries.list_webhooks()
    return {"webhooks": hooks, "count": len(hooks)}


@router.post("/webhooks", response_model=CreatedWebhookResponse)
async def add_webhook(services: ServicesDep, _: Admin, body: Annotated[WebhookBody, Body()]) -> Any:
    """Events are sent as signed POSTs (docs/events.md says how to verify them)."""
    endpoint = await _operations(services).deliveries.add_webhook(body.url, body.events)
    return {"webhook": endpoint}


@router.delete("/webhooks/{webhook_id}", response_model=DeleteResponse)
async def remove_webhook(services: ServicesDep, _: Admin, webhook_id: str) -> Any:
    """Stops the sending at once; an unknown or already removed id is a success (decision 10)."""
    await _operations(services).deliveries.remove_webhook(webhook_id)
    return {"id": webhook_id, "object": "webhook", "deleted": True}


@router.get("/event-deliveries", response_model=DeliveriesResponse)
async def list_deliveries(
    services: ServicesDep,
    _: Admin,
    query: Annotated[dict[str, Any], Depends(query_of(DeliveriesQuery))],
) -> Any:
    """Oldest first; `status=failed` lists those given up after the retry window."""
    deliveries = _operations(services).deliveries
    return {
        "deliveries": await deliveries.list_deliveries(
            query.get("status"), query.get("limit", DeliveriesQuery.model_fields["limit"].default)
        )
    }


@router.post("/event-deliveries/{delivery_id}/redeliver", response_model=RedeliveredResponse)
async def redeliver(services: ServicesDep, _: Admin, delivery_id: str) -> Any:
    """Sent again with the same delivery id, so a receiver that already has it can drop it."""
    await _operations(services).redeliver(delivery_id)
    return {"delivery": {"id": delivery_id, "status": "pending"}}
