"""Infrastructure errors retry (DESIGN rule 6): with PostgreSQL down, the step keeps retrying with
backoff; when the database is back the run completes, with one effect."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from activities.customer_activities import CustomerActivities
from customer_service import CustomerModuleService, create_engine, session_factory
from customer_service.migrate import upgrade_to_head
from devstack import ephemeral
from devstack.postgres import EmbeddedPostgres
from tests.helpers import eventually
from tests.workflows.conftest import Env
from tests.workflows.support import activity_records
from workflows import CreateCustomersWorkflow
from workflows import contracts as wm


@pytest.fixture
async def outage_env(temporal_client: Client) -> AsyncIterator[tuple[Env, EmbeddedPostgres]]:
    """A PostgreSQL of this test's own (the session's may be an external DATABASE_URL, which a
    test must not stop), migrated, behind the same kind of worker."""
    with ephemeral.postgres() as postgres:  # starts before any run: blocking here is harmless
        await asyncio.to_thread(upgrade_to_head, postgres.url)
        engine = create_engine(postgres.url, pool_size=4)
        try:
            service = CustomerModuleService(session_factory(engine))
            yield Env(temporal_client, CustomerActivities(service), engine), postgres
        finally:
            await engine.dispose()


async def test_database_outage_is_retried_until_the_database_is_back(
    outage_env: tuple[Env, EmbeddedPostgres],
) -> None:
    env, postgres = outage_env
    arg = wm.CreateCustomersInput.model_validate(
        {"customers_data": [{"email": "outage@example.com", "addresses": [{"city": "Lagos"}]}]}
    )
    async with env.worker():
        await asyncio.to_thread(postgres.stop)
        try:
            handle = await env.start(CreateCustomersWorkflow.run, arg)

            async def retrying() -> object:
                description = await handle.describe()
                pending = description.raw_description.pending_activities
                return next((p for p in pending if p.attempt > 1), None)

            pending = await eventually(retrying, within=30, interval=0.1)
            assert pending.activity_type.name == "create_customers"
            failure = pending.last_failure
            assert failure.message  # the connection error, as the Web UI shows it
            assert not failure.application_failure_info.non_retryable
            assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        finally:
            await asyncio.to_thread(postgres.start)
        result = await asyncio.wait_for(handle.result(), 60)

    customer_id = result.customers[0].id
    assert await env.count("SELECT count(*) FROM customer WHERE email = 'outage@example.com'") == 1
    assert await env.count(
        "SELECT count(*) FROM customer_address WHERE customer_id = :c", c=customer_id
    ) == 1  # fmt: skip
    released = await env.count(
        "SELECT count(*) FROM event_outbox WHERE name = 'customer.created' AND status = 'released'"
    )
    assert released == 1
    # The step's one local attempt failed on the connection and handed the step to an ordinary
    # activity, which the server retried until the database was back.
    local, durable = [r for r in await activity_records(handle) if r.name == "create_customers"]
    assert (local.local, local.outcome) == (True, "failed")
    assert (durable.local, durable.outcome) == (False, "completed")
    assert durable.attempts_started[-1] > 1
