"""Temporal dev server restarts (state in its SQLite file) during ~50 runs, on a server of the
test's own: the worker processes reconnect by themselves, the client repeats its idempotent calls
(starts carry a request id) around the outage, and every run completes, once."""

from __future__ import annotations

import asyncio
import random
import uuid
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_service import CustomerModuleService
from devstack import ephemeral
from settings import Settings
from tests.chaos.support import (
    Ledger,
    assert_saga_statuses,
    connect_client,
    invariant_violations,
    report,
    total_retries,
    worker_pool,
)
from tests.helpers import eventually, scalar
from triggers.client import CustomerFlows

pytestmark = pytest.mark.chaos

CHAINS = 25  # create, then update: 50 runs
OUTAGES = (1.5, 2.0)  # seconds of load before each restart
DOWN = 3.0
# The chains start 0.35 s apart, in one wave per outage, each wave once the server is up again
# (its restart takes a few seconds, more on a busy machine): every outage meets runs in flight.
WAVE = -(-CHAINS // len(OUTAGES))


async def test_temporal_restarts_are_survived(
    database_url: str, chaos_service: CustomerModuleService, engine: AsyncEngine, tmp_path: Path
) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    tag = uuid.uuid4().hex[:8]
    task_queue = f"chaos-temporal-{tag}"
    ledger = Ledger(retry_rpc=True)
    restarts = 0
    in_flight_at_stop: list[int] = []

    with ephemeral.temporal() as server:
        client = await connect_client(server.address)
        flows = CustomerFlows(client, Settings(task_queue=task_queue), chaos_service)
        async with worker_pool(
            2,
            database_url=database_url,
            temporal_address=server.address,
            task_queue=task_queue,
            log_dir=tmp_path,
        ) as pool:
            server_up = [asyncio.Event() for _ in OUTAGES]
            server_up[0].set()

            async def chain(k: int) -> None:
                await server_up[k // WAVE].wait()
                await asyncio.sleep(k % WAVE * 0.35)
                created = await ledger.call(
                    "create customer", flows.start_create_customers,
                    [{"email": f"tmp-{tag}-{k}@example.com", "first_name": f"First{k}",
                      "addresses": [{"city": "Faro", "is_default_billing": True}]}],
                    additional_data={"chaos_delay": round(rng.uniform(0.1, 0.8), 2)},
                    request_id=f"{tag}-create-{k}", repeat=rng.random() < 0.3,
                )  # fmt: skip
                if created.status == "completed":
                    await ledger.call(
                        "update customer", flows.start_update_customers,
                        created.result.customers[0].id, {"first_name": f"Updated{k}"},
                        additional_data={"chaos_delay": round(rng.uniform(0.1, 0.8), 2)},
                        request_id=f"{tag}-update-{k}", repeat=rng.random() < 0.3,
                    )  # fmt: skip

            async def restarter() -> None:
                nonlocal restarts
                for outage, pause in enumerate(OUTAGES):
                    server_up[outage].set()  # the next wave of chains starts
                    await asyncio.sleep(pause)

                    async def busy() -> bool:
                        return ledger.open > 0

                    await eventually(busy, within=10, interval=0.05)
                    in_flight_at_stop.append(ledger.open)
                    await asyncio.to_thread(server.stop)
                    await asyncio.sleep(DOWN)
                    await asyncio.to_thread(server.start)
                    restarts += 1

            await asyncio.wait_for(
                asyncio.gather(asyncio.gather(*(chain(k) for k in range(CHAINS))), restarter()),
                timeout=180,
            )
            pool.assert_all_running()
            assert ledger.unexpected() == []
            await assert_saga_statuses(ledger)
            retries = await total_retries(ledger)
        violations = await invariant_violations(chaos_service, flows)

    duplicates = []
    for k in range(CHAINS):
        email = f"tmp-{tag}-{k}@example.com"
        n = await scalar(engine, "SELECT count(*) FROM customer WHERE email = :e", e=email)
        name = await scalar(
            engine, "SELECT string_agg(first_name, ',') FROM customer WHERE email = :e", e=email
        )
        if n != 1 or name != f"Updated{k}":
            duplicates.append(f"{email}: {n} customers, first_name {name}")
    for sql, want in (
        ("SELECT count(*) FROM customer_address", CHAINS),
        ("SELECT count(*) FROM event_outbox WHERE name IN ('customer.created', "
         "'customer.updated') AND status = 'released'", 2 * CHAINS),
        ("SELECT count(*) FROM event_outbox WHERE status <> 'released'", 0),
        ("SELECT count(*) FROM operation_log", 2 * CHAINS),
    ):  # fmt: skip
        n = await scalar(engine, sql)
        if n != want:
            duplicates.append(f"{sql}: {n}, expected {want}")

    report(
        "test_temporal_restarts_are_survived",
        runs=len(ledger.runs), restarts=restarts, repeated_triggers=ledger.repeated_starts,
        activity_retries=retries.activity_attempts,
        workflow_task_timeouts=retries.workflow_task_timeouts,
        violations=len(violations), duplicates=len(duplicates), seed=seed,
    )  # fmt: skip
    assert restarts == len(OUTAGES)
    assert all(n > 0 for n in in_flight_at_stop), in_flight_at_stop
    assert violations == []
    assert duplicates == []
