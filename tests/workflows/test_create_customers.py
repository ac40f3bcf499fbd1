from __future__ import annotations

from temporalio.client import WorkflowFailureError

from tests.workflows.conftest import Env, fail_first_attempt_after_commit, fail_for_good
from workflows import CreateCustomersWorkflow
from workflows.contracts import CreateCustomersInput


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


async def test_failing_release_compensates_to_the_state_before(env: Env) -> None:
    before = await env.snapshot()
    failing = fail_for_good(env.activities.release_events, after_commit=False)
    async with env.worker(release_events=failing):
        handle = await env.start(CreateCustomersWorkflow.run, one_customer())
        try:
            await handle.result()
            raise AssertionError("the run should have failed")
        except WorkflowFailureError as err:
            assert err.cause.type == "injected_failure"  # type: ignore[union-attr]
    assert await env.snapshot() == before
