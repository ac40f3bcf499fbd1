"""Compensations never clobber a later write (DESIGN rules 3 and 4): when another writer changed a
field after the saga wrote it, the compensation leaves it alone and the run fails loudly as
`CompensationFailed`, naming the field, findable by `SagaStatus="compensation_failed"`."""

from __future__ import annotations

import uuid
from typing import Any

from activities.hooks import HookRegistry
from customer_service import CustomerModuleService
from tests.helpers import eventually, seed
from tests.workflows.conftest import Env
from tests.workflows.support import activity_records, failure_of, progress_of
from workflows import UpdateCustomersWorkflow
from workflows import contracts as wm
from workflows.visibility import SAGA_STATUS


async def test_compensation_keeps_another_writers_value_and_reports_the_conflict(
    env: Env, service: CustomerModuleService, hooks: HookRegistry
) -> None:
    world = await seed(service)

    async def another_writer_then_fail(payload: dict[str, Any], additional_data: Any) -> None:
        # Someone else edits the customer between the saga's update and its failure.
        await service.update_customers(world.guest, {"first_name": "Chosen by support"})
        raise RuntimeError("downstream system rejected the update")

    hooks.register("customersUpdated", another_writer_then_fail)
    workflow_id = f"no-clobber-{uuid.uuid4().hex}"
    async with env.worker():
        handle = await env.start(
            UpdateCustomersWorkflow.run,
            wm.UpdateCustomersInput(selector={"id": world.guest}, update={"first_name": "Saga"}),
            id=workflow_id,
        )
        cause = await failure_of(handle)
        progress = await progress_of(handle)

    assert cause.type == "CompensationFailed"
    assert f"{world.guest}.first_name" in cause.message
    (failures,) = cause.details
    assert [f["step"] for f in failures] == ["update_customers"]
    assert "first_name" in failures[0]["error"]
    assert "restore customer fields first_name" in failures[0]["compensation"]

    # The other writer's value stands.
    assert (await service.retrieve_customer(world.guest)).first_name == "Chosen by support"
    # The run published nothing: its staged customer.updated was still discarded.
    assert await env.count(
        "SELECT count(*) FROM event_outbox WHERE name = 'customer.updated'"
    ) == 0  # fmt: skip
    # The conflict is final: the compensation ran once, not retried.
    restores = [r for r in await activity_records(handle) if r.name == "undo_update_customers"]
    assert [(r.attempts_started, r.outcome) for r in restores] == [([1], "failed")]

    assert progress.status == "compensation_failed"
    update = next(s for s in progress.steps if s.step == "update_customers")
    assert update.state == "compensation_failed"
    assert "first_name" in (update.error or "")

    description = await handle.describe()
    assert description.typed_search_attributes.get(SAGA_STATUS) == "compensation_failed"

    async def listed() -> list[str]:
        query = f'SagaStatus="compensation_failed" AND WorkflowId="{workflow_id}"'
        return [w.id async for w in env.client.list_workflows(query)]

    assert await eventually(listed, within=15) == [workflow_id]


async def test_unrelated_fields_do_not_conflict(
    env: Env, service: CustomerModuleService, hooks: HookRegistry
) -> None:
    """Another writer changing a field the saga did not touch is no conflict: the compensation
    puts back the saga's field and keeps the other change."""
    world = await seed(service)
    before = await service.retrieve_customer(world.guest)

    async def other_write_then_fail(payload: dict[str, Any], additional_data: Any) -> None:
        await service.update_customers(world.guest, {"metadata": {"owner": "ops"}})
        raise RuntimeError("hook: injected failure")

    hooks.register("customersUpdated", other_write_then_fail)
    async with env.worker():
        handle = await env.start(
            UpdateCustomersWorkflow.run,
            wm.UpdateCustomersInput(selector={"id": world.guest}, update={"last_name": "Renamed"}),
        )
        cause = await failure_of(handle)
        progress = await progress_of(handle)
    assert cause.type == "hook_failed"
    assert progress.status == "compensated"
    customer = await service.retrieve_customer(world.guest)
    assert customer.last_name == before.last_name
    assert customer.metadata == {**(before.metadata or {}), "owner": "ops"}
