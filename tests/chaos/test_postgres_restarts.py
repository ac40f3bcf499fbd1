"""PostgreSQL restarts during ~50 runs, on a PostgreSQL of the test's own: two short outages while
25 creates run, then one that lasts 30 s while 25 updates are started. Activities retry with
backoff (the history and `describe()` show it), every run completes once the database is back,
and nothing is duplicated."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from customer_service import CustomerModuleService, create_engine, session_factory
from customer_service.migrate import upgrade_to_head
from devstack import ephemeral
from settings import Settings
from tests.chaos.hooks import HOOK_POINTS
from tests.chaos.support import (
    Ledger,
    Run,
    assert_saga_statuses,
    invariant_violations,
    report,
    retries_of,
    worker_pool,
)
from tests.helpers import eventually, scalar
from triggers.client import CustomerFlows

pytestmark = pytest.mark.chaos

CUSTOMERS = 25
LONG_OUTAGE = 30.0


async def test_postgres_restarts_are_waited_out(
    temporal_address: str, temporal_client: Client, tmp_path: Path
) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    tag = uuid.uuid4().hex[:8]
    task_queue = f"chaos-pg-{tag}"
    ledger = Ledger()
    stops = 0
    in_flight_at_stop: list[int] = []

    with ephemeral.postgres() as pg:
        await asyncio.to_thread(upgrade_to_head, pg.url)
        engine = create_engine(pg.url, pool_size=5)
        service = CustomerModuleService(session_factory(engine))
        flows = CustomerFlows(
            temporal_client, Settings(task_queue=task_queue), service, hooks=HOOK_POINTS
        )
        try:
            async with worker_pool(
                2,
                database_url=pg.url,
                temporal_address=temporal_address,
                task_queue=task_queue,
                log_dir=tmp_path,
            ) as pool:
                # Phase 1: creates in flight through two short outages.
                async def create(k: int) -> Run:
                    await asyncio.sleep(k * 0.25)
                    return await ledger.call(
                        "create customer", flows.start_create_customers,
                        [{"email": f"pg-{tag}-{k}@example.com", "first_name": f"First{k}",
                          "addresses": [{"city": "Lisbon", "is_default_shipping": True}]}],
                        # Each run stays open longer than the 0.25 s between starts, so the
                        # short outages always hit runs in flight (asserted below).
                        additional_data={"chaos_delay": round(rng.uniform(0.3, 0.8), 2)},
                        request_id=f"{tag}-create-{k}",
                    )  # fmt: skip

                async def short_outages() -> None:
                    nonlocal stops
                    for pause in (1.0, 2.0):
                        await asyncio.sleep(pause)
                        in_flight_at_stop.append(ledger.open)
                        await asyncio.to_thread(pg.stop)
                        stops += 1
                        await asyncio.sleep(2.0)
                        await asyncio.to_thread(pg.start)

                created, _ = await asyncio.wait_for(
                    asyncio.gather(asyncio.gather(*(create(k) for k in range(CUSTOMERS))),
                                   short_outages()),
                    timeout=90,
                )  # fmt: skip
                assert [r.status for r in created] == ["completed"] * CUSTOMERS, ledger.unexpected()
                customers = [r.result.customers[0].id for r in created]

                # Phase 2: a 30 s outage; the updates are started while the database is down.
                in_flight_at_stop.append(ledger.open)
                await asyncio.to_thread(pg.stop)
                stops += 1
                down_since = time.monotonic()
                updates: list[Run] = []

                async def update(k: int) -> Run:
                    # Started 18.5 to 27 s into the outage: the retry schedule (200 ms, doubling)
                    # then has an attempt 0-13 s after the database is back, so the test waits
                    # that long instead of the 30 s a retry can be away later in the schedule.
                    await asyncio.sleep(rng.uniform(18.5, LONG_OUTAGE - 3.0))
                    run = await ledger.start(
                        "update customer", flows.start_update_customers, customers[k],
                        {"first_name": f"Updated{k}"}, request_id=f"{tag}-update-{k}",
                    )  # fmt: skip
                    updates.append(run)
                    return run

                starting = asyncio.gather(*(update(k) for k in range(CUSTOMERS)))

                async def retrying() -> Any:
                    for run in updates:
                        pending = (await run.handle.describe()).raw_description.pending_activities
                        hit = next((p for p in pending if p.attempt > 1), None)
                        if hit is not None:
                            return hit
                    return None

                # While the database is down the Web UI shows the step retrying, with the error.
                pending = await eventually(retrying, within=LONG_OUTAGE - 2.0, interval=0.5)
                assert pending.activity_type.name == "update_customers"
                assert pending.last_failure.message
                assert not pending.last_failure.application_failure_info.non_retryable
                statuses = {(await r.handle.describe()).status for r in list(updates)}
                assert statuses == {WorkflowExecutionStatus.RUNNING}
                await asyncio.wait_for(starting, timeout=LONG_OUTAGE)
                await asyncio.sleep(max(0.0, LONG_OUTAGE - (time.monotonic() - down_since)))
                await asyncio.to_thread(pg.start)
                outage = time.monotonic() - down_since
                await asyncio.wait_for(
                    asyncio.gather(*(ledger.finish(r) for r in updates)), timeout=60
                )
                back_after = time.monotonic() - down_since - outage
                pool.assert_all_running()
                assert ledger.unexpected() == []
                await assert_saga_statuses(ledger)

                # The history keeps the retries: each update's step ran on attempt > 1.
                retried_updates = [(await retries_of(r.handle)).activity_attempts for r in updates]
                retried_creates = sum(
                    [(await retries_of(r.handle)).activity_attempts for r in created]
                )

            violations = await invariant_violations(service, flows)
            duplicates = await _duplicates(engine, tag)
        finally:
            await engine.dispose()

    report(
        "test_postgres_restarts_are_waited_out",
        runs=len(ledger.runs), restarts=stops, longest_outage=f"{outage:.0f}s",
        done_after_restart=f"{back_after:.1f}s",
        activity_retries=sum(retried_updates) + retried_creates,
        violations=len(violations), duplicates=len(duplicates), seed=seed,
    )  # fmt: skip
    assert stops == 3 and outage >= LONG_OUTAGE
    assert in_flight_at_stop[:2] != [0, 0], in_flight_at_stop
    assert all(n >= 1 for n in retried_updates), retried_updates
    assert violations == []
    assert duplicates == []


async def _duplicates(engine: Any, tag: str) -> list[str]:
    problems = []
    for k in range(CUSTOMERS):
        email = f"pg-{tag}-{k}@example.com"
        n = await scalar(engine, "SELECT count(*) FROM customer WHERE email = :e", e=email)
        name = await scalar(
            engine, "SELECT string_agg(first_name, ',') FROM customer WHERE email = :e", e=email
        )
        if n != 1 or name != f"Updated{k}":
            problems.append(f"{email}: {n} customers, first_name {name}")
    for sql, want in (
        ("SELECT count(*) FROM customer_address", CUSTOMERS),
        ("SELECT count(*) FROM event_outbox WHERE name = 'customer.created' "
         "AND status = 'released'", CUSTOMERS),
        ("SELECT count(*) FROM event_outbox WHERE name = 'customer.updated' "
         "AND status = 'released'", CUSTOMERS),
        ("SELECT count(*) FROM event_outbox WHERE status <> 'released'", 0),
        ("SELECT count(*) FROM operation_log", 2 * CUSTOMERS),
    ):  # fmt: skip
        n = await scalar(engine, sql)
        if n != want:
            problems.append(f"{sql}: {n}, expected {want}")
    return problems
