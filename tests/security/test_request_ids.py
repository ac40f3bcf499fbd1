"""Request ids: a reused key with another input is a typed conflict, never the first run's
result; a key whose run ended compensation_failed is refused (docs/security.md)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from activities import hooks as hook_points
from activities.customer_activities import CustomerActivities
from customer_service import CustomerModuleService
from settings import Settings
from tests.helpers import fingerprint
from triggers.client import CustomerFlows, FlowError
from triggers.idempotency import RequestIdConflictError
from worker import build_worker


@pytest.fixture
async def flows(temporal_client: Client, service: CustomerModuleService) -> AsyncIterator[Any]:
    queue = f"reqid-{uuid.uuid4().hex[:8]}"
    settings = Settings(task_queue=queue)
    registry = hook_points.registry
    assert not registry.registered()
    try:
        async with build_worker(
            temporal_client, CustomerActivities(service, registry), settings, queue
        ):
            yield CustomerFlows(temporal_client, settings, service)
    finally:
        registry._handlers.clear()


async def test_reused_request_id_with_another_input_is_a_conflict(
    flows: CustomerFlows, service: CustomerModuleService, engine: AsyncEngine
) -> None:
    a, b = await service.create_customers([{"email": "a@example.com"}, {"email": "b@example.com"}])
    key = f"order-{uuid.uuid4().hex[:8]}"
    [first] = await flows.update_customers(a.id, {"first_name": "Ann"}, request_id=key)
    assert first.first_name == "Ann"
    before = await fingerprint(engine)
    with pytest.raises(RequestIdConflictError) as info:
        await flows.update_customers(b.id, {"first_name": "Bob"}, request_id=key)
    assert (info.value.type, info.value.field) == ("conflict", "request_id")
    assert await fingerprint(engine) == before
    # The same input under the same key is still the first run's result (dedup intact).
    [again] = await flows.update_customers(a.id, {"first_name": "Ann"}, request_id=key)
    assert again.id == a.id and again.updated_at == first.updated_at


async def test_request_id_of_a_compensation_failed_run_is_refused(
    flows: CustomerFlows, service: CustomerModuleService
) -> None:
    [customer] = await service.create_customers([{"email": "c@example.com", "first_name": "Old"}])

    async def change_behind_its_back_then_fail(payload: Any, additional_data: Any) -> None:
        await service.update_customers(customer.id, {"first_name": "Someone else"})
        raise RuntimeError("downstream system rejected the update")

    hook_points.registry.register("customersUpdated", change_behind_its_back_then_fail)
    key = f"order-{uuid.uuid4().hex[:8]}"
    with pytest.raises(FlowError) as info:
        await flows.update_customers(customer.id, {"first_name": "New"}, request_id=key)
    assert info.value.type == "CompensationFailed"
    hook_points.registry._handlers.clear()
    with pytest.raises(RequestIdConflictError, match="compensation_failed"):
        await flows.update_customers(customer.id, {"first_name": "New"}, request_id=key)
    assert (await service.retrieve_customer(customer.id)).first_name == "Someone else"
