"""What an operator sees: search attributes to find a run by customer, email or group, the
`progress` query with each step's state, and activity summaries in words."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus

from activities.hooks import HookRegistry
from codec import tags
from customer_service import CustomerModuleService
from settings import Settings
from tests.helpers import eventually, seed
from tests.workflows.conftest import Env
from tests.workflows.support import Gate, activity_records, held, progress_of
from triggers.client import CustomerFlows
from workflows import (
    CreateCustomerAccountWorkflow,
    CreateCustomersWorkflow,
    LinkCustomerGroupsToCustomerWorkflow,
    UpdateCustomersWorkflow,
)
from workflows import contracts as wm
from workflows.visibility import CUSTOMER_EMAIL, CUSTOMER_GROUP_ID, CUSTOMER_ID, SAGA_STATUS


async def test_create_run_is_tagged_with_customer_ids_and_emails(env: Env) -> None:
    arg = wm.CreateCustomersInput.model_validate(
        {"customers_data": [{"email": "Peter.Hayes@Example.com"}, {"email": "mia@example.com"}]}
    )
    async with env.worker():
        handle = await env.start(CreateCustomersWorkflow.run, arg)
        result = await handle.result()
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(CUSTOMER_ID) == [c.id for c in result.customers]
    assert attributes.get(CUSTOMER_EMAIL) == [
        tags.email_tag("peter.hayes@example.com"),
        tags.email_tag("mia@example.com"),
    ]
    assert attributes.get(SAGA_STATUS) == "completed"

    # And the run can be found by them.
    customer_id = result.customers[0].id

    async def found() -> list[str]:
        query = f'CustomerId = "{customer_id}" AND SagaStatus = "completed"'
        return [w.id async for w in env.client.list_workflows(query)]

    assert await eventually(found, within=15) == [handle.id]


async def test_update_run_is_tagged_with_the_old_and_new_email(
    env: Env, service: CustomerModuleService
) -> None:
    world = await seed(service)
    async with env.worker():
        handle = await env.start(
            UpdateCustomersWorkflow.run,
            wm.UpdateCustomersInput(
                selector={"id": world.guest}, update={"email": "a2@example.com"}
            ),
        )
        await handle.result()
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(CUSTOMER_ID) == [world.guest]
    assert set(attributes.get(CUSTOMER_EMAIL) or []) == {
        tags.email_tag("a2@example.com"),
        tags.email_tag("ana.guest@example.com"),
    }


async def test_link_run_is_tagged_with_groups(env: Env, service: CustomerModuleService) -> None:
    world = await seed(service)
    async with env.worker():
        handle = await env.start(
            LinkCustomerGroupsToCustomerWorkflow.run,
            wm.LinkInput(id=world.guest, add=[world.empty_group], remove=[world.group]),
        )
        await handle.result()
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(CUSTOMER_ID) == [world.guest]
    assert attributes.get(CUSTOMER_GROUP_ID) == [world.empty_group, world.group]


async def test_progress_query_shows_each_step_and_its_state(
    env: Env, service: CustomerModuleService
) -> None:
    await seed(service)  # its fresh identity `authid_new` registers here
    gate = Gate()
    arg = wm.CreateCustomerAccountInput.model_validate(
        {"auth_identity_id": "authid_new", "customer_data": {"email": "p@example.com"}}
    )
    async with env.worker(create_customers=held(env.activities.create_customers, gate)):
        try:
            handle = await env.start(CreateCustomerAccountWorkflow.run, arg)
            await asyncio.wait_for(gate.entered.wait(), 15)
            running = await progress_of(handle)
            attributes = (await handle.describe()).typed_search_attributes
        finally:
            gate.opened.set()
        await handle.result()
        done = await progress_of(handle)

    assert running.status == "running"
    assert attributes.get(SAGA_STATUS) == "running"
    assert [(s.step, s.state) for s in running.steps] == [
        ("validate_customer_account_creation", "completed"),
        ("create_customers", "running"),
    ]
    assert running.steps[1].summary == "Create 1 customer(s): p@example.com"
    assert done.status == "completed"
    assert [(s.step, s.state) for s in done.steps] == [
        ("validate_customer_account_creation", "completed"),
        ("create_customers", "completed"),
        ("link_auth_identity", "completed"),
    ]
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED


async def test_activities_carry_summaries_in_words(
    env: Env, service: CustomerModuleService
) -> None:
    world = await seed(service)
    async with env.worker():
        handle = await env.start(
            UpdateCustomersWorkflow.run,
            wm.UpdateCustomersInput(selector={"id": world.guest}, update={"last_name": "Silva"}),
        )
        await handle.result()
    summaries = [r.summary for r in await activity_records(handle)]
    assert summaries == [f"Update customer(s) {world.guest}: last_name"]


async def test_a_hooked_create_is_findable_by_email_from_its_start_and_upserts_once(
    env: Env, service: CustomerModuleService, hooks: HookRegistry
) -> None:
    """Through the client, a create carries its emails from its start; the ids it mints wait for
    its end, so a run with a hook step (two workflow tasks) upserts once, as a run of one."""
    entered, opened = asyncio.Event(), asyncio.Event()

    async def slow(payload: dict[str, Any], additional_data: Any) -> None:
        entered.set()
        await opened.wait()

    hooks.register("customersCreated", slow)
    flows = CustomerFlows(env.client, Settings(task_queue=env.task_queue), service)
    async with env.worker():
        handle = await flows.start_create_customers([{"email": "Hooked@Example.com"}])
        try:
            await asyncio.wait_for(entered.wait(), 15)
            during = (await handle.describe()).typed_search_attributes
        finally:
            opened.set()
        result = await flows._result(handle, wm.CustomersResult)
    assert during.get(CUSTOMER_EMAIL) == [tags.email_tag("hooked@example.com")]
    assert during.get(SAGA_STATUS) == "running"
    assert during.get(CUSTOMER_ID) is None  # minted in the run: nobody can search for it yet
    after = (await handle.describe()).typed_search_attributes
    assert after.get(CUSTOMER_ID) == [c.id for c in result.customers]
    assert after.get(CUSTOMER_EMAIL) == [tags.email_tag("hooked@example.com")]
    assert after.get(SAGA_STATUS) == "completed"
    events = [e.event_type for e in (await handle.fetch_history()).events]
    assert events.count(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) == 2
    assert events.count(EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES) == 1
