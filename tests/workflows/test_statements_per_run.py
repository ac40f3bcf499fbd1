"""What a run costs beyond the engine's own work: a create, an update or a link run with no hook
handler writes in one statement, as its workflow sends the step (ids minted in the workflow, the
run's operation and event group), not only as a direct service call does (tests/service/
test_statements_per_write.py); and a run builds no pydantic type adapter of its own."""

from __future__ import annotations

from typing import Any

import pytest

from codec import converter
from customer_service import CustomerModuleService
from tests.helpers import Statements, seed
from tests.workflows.conftest import Env
from workflows import (
    CreateCustomersWorkflow,
    LinkCustomersToCustomerGroupWorkflow,
    UpdateCustomersWorkflow,
)
from workflows import contracts as wm


@pytest.mark.parametrize("kind", ["create", "update", "link"])
async def test_a_run_without_hooks_writes_in_one_statement(
    env: Env, service: CustomerModuleService, kind: str
) -> None:
    world = await seed(service)
    run: Any
    run, arg = {
        "create": (
            CreateCustomersWorkflow.run,
            wm.CreateCustomersInput.model_validate(
                {"customers_data": [{"email": "one@example.com", "addresses": [{"city": "Rome"}]}]}
            ),
        ),
        "update": (
            UpdateCustomersWorkflow.run,
            wm.UpdateCustomersInput(selector={"id": world.guest}, update={"first_name": "Ana B"}),
        ),
        "link": (
            LinkCustomersToCustomerGroupWorkflow.run,
            wm.LinkInput(id=world.empty_group, add=[world.guest, world.registered]),
        ),
    }[kind]
    async with env.worker():
        with Statements(env.engine) as sent:
            await (await env.start(run, arg)).result()
    assert len(sent.sql) == 1, "\n\n".join(sent.sql)


async def test_runs_read_their_payloads_with_the_process_adapters(
    env: Env, service: CustomerModuleService
) -> None:
    """The SDK makes a payload converter per run; ours shares the process's pydantic type
    adapters (`codec.converter`), so a run after the first builds none, and the cache does not
    grow with every run (the types are the same objects in every run)."""
    world = await seed(service)

    async def update(name: str) -> None:
        arg = wm.UpdateCustomersInput(selector={"id": world.guest}, update={"first_name": name})
        await (await env.start(UpdateCustomersWorkflow.run, arg)).result()

    async with env.worker():
        await update("First")
        before = converter._ADAPTERS.cache_info()
        for name in ("Second", "Third", "Fourth"):
            await update(name)
        after = converter._ADAPTERS.cache_info()
    assert after.misses == before.misses
    assert after.currsize == before.currsize
    assert after.hits >= before.hits + 3 * 2  # at least the run's input and its step's result
