"""Event delivery test kit: a worker per test (customer + delivery activities, a fresh task
queue and subscriber registry) over the real servers, and a real HTTP receiver."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from activities.customer_activities import CustomerActivities
from activities.delivery_activities import DeliveryActivities
from activities.delivery_contracts import DeliveryPolicy
from activities.hooks import HookRegistry
from activities.subscribers import SubscriberRegistry
from customer_service import CustomerModuleService
from customer_service.delivery_invariants import settled_violations
from customer_service.invariants import check_invariants
from customer_service.service.deliveries import Deliveries
from customer_service.service.retention import Retention
from settings import Settings
from tests.helpers import eventually, fetch
from triggers.client import CustomerFlows
from worker import build_worker

FAST = DeliveryPolicy(
    first_retry_seconds=0.2,
    max_interval_seconds=1.0,
    give_up_after_seconds=30.0,
    attempt_timeout_seconds=5.0,
)


class EventsEnv:
    def __init__(
        self,
        client: Client,
        service: CustomerModuleService,
        engine: AsyncEngine,
        hooks: HookRegistry,
        policy: DeliveryPolicy = FAST,
    ) -> None:
        self.task_queue = f"test-events-{uuid.uuid4().hex[:12]}"
        self.client = client
        self.service = service
        self.engine = engine
        self.subscribers = SubscriberRegistry()
        self.deliveries = Deliveries(service.sessions)
        self.policy = policy
        self.relay_rounds = 500
        self.flows = CustomerFlows(client, Settings(task_queue=self.task_queue), service)

    def delivery_activities(self, kind: type[DeliveryActivities] = DeliveryActivities) -> Any:
        return kind(
            self.deliveries,
            Retention(self.service.sessions),
            self.subscribers,
            self.client,
            self.task_queue,
            self.policy,
            self.relay_rounds,
        )

    @asynccontextmanager
    async def worker(
        self, hooks: HookRegistry | None = None, deliveries: DeliveryActivities | None = None
    ) -> AsyncIterator[DeliveryActivities]:
        deliveries = deliveries or self.delivery_activities()
        customers = CustomerActivities(self.service, hooks, deliveries)
        activities = [*customers.all(), *deliveries.all()]
        async with build_worker(self.client, activities, Settings(), self.task_queue):
            yield deliveries

    async def deliveries_of(self, status: str | None = None) -> list[dict[str, Any]]:
        return await self.deliveries.list_deliveries(status, limit=10_000)

    async def settle(self, within: float = 30.0) -> None:
        """Wait until no delivery is pending."""

        async def none_pending() -> bool:
            return not await self.deliveries_of("pending")

        await eventually(none_pending, within=within, interval=0.1)

    async def violations(self) -> list[Any]:
        """The invariant checker (run outcomes from Temporal) plus the settled delivery rules."""
        found: list[Any] = list(
            await check_invariants(self.service.sessions, self.flows.run_outcome)
        )
        async with self.service.sessions() as session:
            found += await settled_violations(session)
        return found

    async def events(self, name: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM event_outbox WHERE NOT internal"
        rows = await fetch(self.engine, sql + " ORDER BY id")
        return [r for r in rows if name is None or r["name"] == name]


@pytest.fixture
async def events_env(
    temporal_client: Client, service: CustomerModuleService, engine: AsyncEngine
) -> EventsEnv:
    return EventsEnv(temporal_client, service, engine, HookRegistry())
