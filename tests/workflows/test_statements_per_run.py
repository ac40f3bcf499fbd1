"""A create, an update or a link run with no hook handler writes in one statement, as its
workflow sends the step (ids minted in the workflow, the run's operation and event group), not
only as a direct service call does (tests/service/test_statements_per_write.py)."""

from __future__ import annotations

from typing import Any

import pytest

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
