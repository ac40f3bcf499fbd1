from __future__ import annotations

from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from activities.hooks import HookRegistry
from tests.workflows.conftest import Env, fail_first_attempt_after_commit, fail_for_good
from tests.workflows.support import activity_records
from workflows import CreateCustomersWorkflow
from workflows.contracts import CreateCustomersInput
from workflows.visibility import CUSTOMER_ID, SAGA_STATUS


def one_customer(email: str = "peter.hayes@example.com") -> CreateCustomersInput:
    return CreateCustomersInput.model_validate(
        {"customers_data": [{"email": email, "first_name": "Peter",
                             "addresses": [{"city": "Berlin", "country_code": "de"}]}]}
    )  # fmt: skip


async def test_creates_customer_with_address_and_releases_event(env: Env) -> None:
    async with env.worker():
        result = await env.execute(CreateCustomersWorkflow.run, one_customer())
    customer = result.customers[0]
    assert customer.id.startswith("cus_")
    assert customer.addresses[0].city == "Berlin"
    assert await env.count("SELECT count(*) FROM customer") == 1
    released = await env.count(
        "SELECT count(*) FROM event_outbox WHERE name = 'customer.created' AND status = 'released'"
    )
    assert released == 1
    assert await env.count("SELECT count(*) FROM event_outbox WHERE status = 'staged'") == 0


async def test_create_committed_then_failed_has_one_effect(env: Env) -> None:
    faulty = fail_first_attempt_after_commit(env.activities.create_customers)
    async with env.worker(create_customers=faulty):
        await env.execute(CreateCustomersWorkflow.run, one_customer())
    assert await env.count("SELECT count(*) FROM customer") == 1
    assert await env.count("SELECT count(*) FROM customer_address") == 1
    assert await env.count("SELECT count(*) FROM event_outbox WHERE name='customer.created'") == 1


async def test_a_create_without_hooks_is_one_task_and_one_local_activity(env: Env) -> None:
    """The minimal durable shape (DESIGN rule 10): the create is the pivot and releases its event
    in its own transaction; the run is one workflow task, one local activity, and one
    search-attribute upsert (the client gave SagaStatus=running at start)."""
    async with env.worker():
        handle = await env.start(
            CreateCustomersWorkflow.run,
            one_customer(),
            search_attributes=TypedSearchAttributes([SearchAttributePair(SAGA_STATUS, "running")]),
        )
        await handle.result()
        types = [e.event_type async for e in handle.fetch_history_events()]
        described = await handle.describe()
    assert types.count(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) == 1
    assert types.count(EventType.EVENT_TYPE_MARKER_RECORDED) == 1
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED not in types
    assert types.count(EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES) == 1
    assert described.typed_search_attributes.get(SAGA_STATUS) == "completed"
    customer_ids = described.typed_search_attributes.get(CUSTOMER_ID) or []
    assert len(customer_ids) == 1 and customer_ids[0].startswith("cus_")
    released = "SELECT count(*) FROM event_outbox WHERE name = 'customer.created' AND status = :s"
    assert await env.count(released, s="released") == 1
    assert await env.count("SELECT count(*) FROM operation_log WHERE state = 'released'") == 1


async def test_with_a_hook_handler_the_hook_step_releases_the_events(
    env: Env, hooks: HookRegistry
) -> None:
    """The hook after the pivot is the run's last step: after its handlers it releases the
    run's events with the pivot's operation marked released. Two activities, no release step;
    when that step fails for good before it commits, the create is compensated."""
    called: list[str] = []

    async def accept(payload: dict[str, Any], additional_data: Any) -> None:
        called.append(payload["customers"][0]["email"])

    hooks.register("customersCreated", accept)
    async with env.worker():
        handle = await env.start(CreateCustomersWorkflow.run, one_customer())
        await handle.result()
    assert [(r.name, r.local) for r in await activity_records(handle)] == [
        ("create_customers", True),
        ("run_hook", False),
    ]
    assert called == ["peter.hayes@example.com"]
    released = "SELECT count(*) FROM event_outbox WHERE name = 'customer.created' AND status = :s"
    assert await env.count(released, s="released") == 1
    assert await env.count("SELECT count(*) FROM operation_log WHERE state = 'released'") == 1

    before = await env.snapshot()
    failing = fail_for_good(env.activities.run_hook, after_commit=False)
    async with env.worker(run_hook=failing):
        handle = await env.start(CreateCustomersWorkflow.run, one_customer("ann@example.com"))
        try:
            await handle.result()
            raise AssertionError("the run should have failed")
        except WorkflowFailureError as err:
            assert err.cause.type == "injected_failure"  # type: ignore[union-attr]
    assert await env.snapshot() == before
