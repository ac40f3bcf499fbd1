"""The largest input each workflow accepts (docs/security.md): the run completes, or fails typed
and compensates leaving the database as it was; it never sticks on a payload Temporal refuses."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

from customer_service import CustomerModuleService
from customer_service.schemas import MAX_BATCH, MAX_INPUT_BYTES, MAX_METADATA_BYTES
from tests.workflows.conftest import Env
from tests.workflows.support import assert_restored
from workflows import (
    CreateCustomerAddressesWorkflow,
    CreateCustomerGroupsWorkflow,
    CreateCustomersWorkflow,
    DeleteCustomersWorkflow,
    LinkCustomersToCustomerGroupWorkflow,
    UpdateCustomersWorkflow,
)
from workflows.contracts import (
    CreateCustomerAddressesInput,
    CreateCustomerGroupsInput,
    CreateCustomersInput,
    DeleteCustomersInput,
    LinkInput,
    UpdateCustomersInput,
)

DEADLINE = 240  # seconds: far beyond any run here; a stuck run would never end
BIG = {"blob": "x" * (MAX_METADATA_BYTES - 100)}  # metadata just under its cap


def largest(model: type[BaseModel], build: Callable[[int], dict[str, Any]], top: int) -> Any:
    """The input with the largest n (≤ top) that `model` accepts (binary search)."""
    low, high = 1, top
    while low < high:
        mid = (low + high + 1) // 2
        try:
            model.model_validate(build(mid))
            low = mid
        except ValidationError:
            high = mid - 1
    return model.model_validate(build(low))


async def run_to_an_end(env: Env, workflow: Any, arg: BaseModel) -> str:
    """'completed' or 'compensated' (then nothing changed); anything else fails the test."""
    before = await env.snapshot()
    handle = await env.start(workflow, arg)
    try:
        await asyncio.wait_for(handle.result(), DEADLINE)
    except WorkflowFailureError as err:
        cause = err.cause
        assert isinstance(cause, ApplicationError) and cause.type == "invalid_data", cause
        assert_restored(before, await env.snapshot())
        return "compensated"
    return "completed"


def test_the_input_cap_is_enforced_where_runs_are_validated() -> None:
    too_many = [{"email": f"c{i}@example.com", "metadata": BIG} for i in range(40)]
    with pytest.raises(ValidationError, match=str(MAX_INPUT_BYTES)):
        CreateCustomersInput.model_validate({"customers_data": too_many})
    with pytest.raises(ValidationError, match="additional_data"):
        CreateCustomersInput.model_validate(
            {"customers_data": [{"email": "a@example.com"}], "additional_data": {"x": "\x00"}}
        )


async def test_largest_creates_end(env: Env) -> None:
    many = largest(
        CreateCustomersInput,
        lambda n: {"customers_data": [{"email": f"c{i}@example.com"} for i in range(n)]},
        MAX_BATCH,
    )
    heavy = largest(
        CreateCustomersInput,
        lambda n: {
            "customers_data": [{"email": f"h{i}@example.com", "metadata": BIG} for i in range(n)],
            "additional_data": BIG,
        },
        MAX_BATCH,
    )
    async with env.worker():
        outcomes = [
            await run_to_an_end(env, CreateCustomersWorkflow.run, many),
            await run_to_an_end(env, CreateCustomersWorkflow.run, heavy),
        ]
    assert len(json.dumps(heavy.model_dump(mode="json"))) > MAX_INPUT_BYTES * 0.9
    print("create customers:", len(many.customers_data), len(heavy.customers_data), outcomes)


async def test_largest_address_and_group_creates_end(
    env: Env, service: CustomerModuleService
) -> None:
    [customer] = await service.create_customers([{"email": "owner@example.com"}])
    addresses = largest(
        CreateCustomerAddressesInput,
        lambda n: {"addresses": [{"customer_id": customer.id, "city": "B"}] * n},
        MAX_BATCH,
    )
    groups = largest(
        CreateCustomerGroupsInput,
        lambda n: {"groups": [{"name": f"g{i}"} for i in range(n)]},
        MAX_BATCH,
    )
    async with env.worker():
        outcomes = [
            await run_to_an_end(env, CreateCustomerAddressesWorkflow.run, addresses),
            await run_to_an_end(env, CreateCustomerGroupsWorkflow.run, groups),
        ]
    print("addresses, groups:", len(addresses.addresses), len(groups.groups), outcomes)


async def test_widest_update_link_and_delete_end(env: Env, service: CustomerModuleService) -> None:
    from customer_service.schemas import MAX_SELECTED_ROWS

    customers = await service.create_customers(
        [{"email": f"u{i}@example.com", "last_name": "wide"} for i in range(MAX_SELECTED_ROWS)]
    )
    group = await service.create_customer_groups({"name": "wide"})
    ids = [c.id for c in customers]
    update = UpdateCustomersInput.model_validate(
        {"selector": {"last_name": "wide"}, "update": {"metadata": BIG}}
    )
    link = largest(LinkInput, lambda n: {"id": group.id, "add": ids[:n]}, len(ids))
    delete = largest(DeleteCustomersInput, lambda n: {"ids": ids[:n]}, len(ids))
    async with env.worker():
        outcomes = [
            await run_to_an_end(env, UpdateCustomersWorkflow.run, update),
            await run_to_an_end(env, LinkCustomersToCustomerGroupWorkflow.run, link),
            await run_to_an_end(env, DeleteCustomersWorkflow.run, delete),
        ]
    print("update, link, delete:", outcomes)
