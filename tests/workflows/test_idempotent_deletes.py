"""Decision 10: deleting unknown or already deleted customers and groups is done already. The
run completes, deletes what is there, and a compensation restores only what this run deleted."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import WorkflowFailureError

from activities.hooks import HookRegistry
from customer_service import CustomerModuleService
from tests.helpers import seed
from tests.workflows.conftest import Env
from tests.workflows.support import assert_restored
from workflows import (
    DeleteCustomerGroupsWorkflow,
    DeleteCustomersWorkflow,
    RemoveCustomerAccountWorkflow,
)
from workflows import contracts as wm

DELETED = "SELECT count(*) FROM {} WHERE id = :i AND deleted_at IS NOT NULL"
RELEASED = (
    "SELECT count(*) FROM event_outbox WHERE name = 'customer.deleted' AND status = 'released' "
    "AND data->>'id' = :i"
)


async def test_delete_customers_skips_unknown_and_deleted_ids(
    env: Env, service: CustomerModuleService
) -> None:
    world = await seed(service)
    await service.soft_delete_customers([world.registered])
    async with env.worker():
        result = await env.execute(
            DeleteCustomersWorkflow.run,
            wm.DeleteCustomersInput(ids=[world.guest, world.registered, "cus_unknown"]),
        )
    assert result.ids == [world.guest, world.registered, "cus_unknown"]
    assert await env.count(DELETED.format("customer"), i=world.guest) == 1
    # one customer.deleted, for the one customer this run deleted
    assert await env.count(RELEASED, i=world.guest) == 1
    assert await env.count(RELEASED, i=world.registered) == 0
    assert await env.count(RELEASED, i="cus_unknown") == 0


async def test_compensation_restores_only_what_the_run_deleted(
    env: Env, service: CustomerModuleService, hooks: HookRegistry
) -> None:
    world = await seed(service)
    await service.soft_delete_customers([world.registered])
    before = await env.snapshot()

    async def refuse(payload: dict[str, Any], additional_data: dict[str, Any] | None) -> None:
        raise RuntimeError("the customersDeleted handler refuses")

    # A failing hook after the delete committed (with a hook, the delete does not release).
    hooks.register("customersDeleted", refuse)
    async with env.worker():
        handle = await env.start(
            DeleteCustomersWorkflow.run,
            wm.DeleteCustomersInput(ids=[world.guest, world.registered]),
        )
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    # the guest is back; the customer deleted before the run stays deleted
    assert_restored(before, await env.snapshot())
    assert await env.count(DELETED.format("customer"), i=world.registered) == 1


@pytest.mark.parametrize("deleted_first", [False, True])
async def test_remove_account_of_an_unknown_or_deleted_customer_is_done(
    env: Env, service: CustomerModuleService, deleted_first: bool
) -> None:
    world = await seed(service)
    target = world.guest if deleted_first else "cus_unknown"
    if deleted_first:
        await service.soft_delete_customers([target])
    before = await env.snapshot()
    async with env.worker():
        result = await env.execute(
            RemoveCustomerAccountWorkflow.run, wm.RemoveCustomerAccountInput(customer_id=target)
        )
    assert result.ids == [target]
    assert await env.snapshot() == before
    assert await env.count(RELEASED, i=target) == 0


async def test_delete_groups_skips_unknown_ids(env: Env, service: CustomerModuleService) -> None:
    world = await seed(service)
    async with env.worker():
        result = await env.execute(
            DeleteCustomerGroupsWorkflow.run,
            wm.DeleteCustomerGroupsInput(ids=["cusgroup_unknown", world.empty_group]),
        )
    assert result.ids == ["cusgroup_unknown", world.empty_group]
    assert await env.count(DELETED.format("customer_group"), i=world.empty_group) == 1
