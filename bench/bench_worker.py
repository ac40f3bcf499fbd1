"""The worker for `bench/bench_flows.py`: the normal worker plus a bare reference workflow.

Run as `python bench/bench_worker.py` with DATABASE_URL, TEMPORAL_ADDRESS and TASK_QUEUE set. It
builds exactly what `worker.serve` builds (settings → engine → service → `build_activities`: the
customer, delivery and bulk activities → `build_worker`), adding only `ReferenceWorkflow` and its no-op activity to the same worker, so
the benchmark compares the customer workflows with plain Temporal on one server and one worker.

Top-level imports stay sandbox-friendly (temporalio, pydantic, stdlib): the workflow sandbox
re-imports this module for every run of the reference workflow, as it does the workflow modules.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.common import RetryPolicy, SearchAttributeKey

READY_LINE = "bench worker ready"
CUSTOMER_ID = SearchAttributeKey.for_keyword_list("CustomerId")
SAGA_STATUS = SearchAttributeKey.for_keyword("SagaStatus")


class ReferenceInput(BaseModel):
    activities: int = 2
    hold: bool = False  # wait for the `release` signal before the activities (runs kept open)
    local: int = 0  # how many of the activities, from the first, run as local activities
    # Tagged as a create is (the client gives SagaStatus and CustomerEmail at start): the run
    # upserts this CustomerId and SagaStatus=completed at its end, as the saga does.
    customer_id: str | None = None


@activity.defn(name="bench_noop")
async def bench_noop(step: int) -> int:
    return step


@workflow.defn(name="BenchReferenceWorkflow")
class ReferenceWorkflow:
    """`activities` sequential no-op activities, with the saga's forward timeouts and retry; the
    first `local` of them local activities with the saga's local-attempt options (as a run's
    first step runs)."""

    def __init__(self) -> None:
        self._released = False

    @workflow.signal
    def release(self) -> None:
        self._released = True

    @workflow.query
    def held(self) -> bool:
        return not self._released

    @workflow.run
    async def run(self, input: ReferenceInput) -> int:
        if input.hold:
            await workflow.wait_condition(lambda: self._released)
        for step in range(input.activities):
            if step < input.local:
                await workflow.execute_local_activity(
                    bench_noop,
                    step,
                    start_to_close_timeout=timedelta(seconds=5),
                    retry_policy=RetryPolicy(maximum_attempts=1),
                    cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                )
                continue
            await workflow.execute_activity(
                bench_noop,
                step,
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=timedelta(hours=6),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(milliseconds=200),
                    maximum_interval=timedelta(seconds=30),
                ),
            )
        if input.customer_id:
            workflow.upsert_search_attributes(
                [CUSTOMER_ID.value_set([input.customer_id]), SAGA_STATUS.value_set("completed")]
            )
        return input.activities


async def build(settings: Any, client: Any = None) -> tuple[Any, Any]:
    """The product's worker (as `worker.main` builds it) serving the reference workflow too;
    returns it and its database engine. `client`: share the caller's (eager workflow start)."""
    import worker as worker_module
    from activities.bulk_activities import BulkActivities
    from customer_service import CustomerModuleService, create_engine, session_factory
    from customer_service.service.bulk import BulkImports
    from customer_service.service.bulk_export import BulkExports
    from triggers.connection import connect
    from workflows import ALL_WORKFLOWS

    engine = create_engine(settings.require_database_url(), pool_size=settings.db_pool_size)
    service = CustomerModuleService(session_factory(engine))
    client = client or await connect(settings)
    # As `worker.serve` builds them: a pivot's release hands its events on to the delivery
    # activities (one more transaction per pivot, which the product's runs pay too).
    activities, deliveries = worker_module.build_activities(service, client, settings)
    bulk = BulkActivities(BulkImports(service.sessions), BulkExports(service.sessions))
    served = [*activities.all(), *deliveries.all(), *bulk.all(), bench_noop]
    # `build_worker` serves `worker.ALL_WORKFLOWS`: in this process only, that list also holds
    # the reference workflow, so every other worker option stays the product's own.
    worker_module.ALL_WORKFLOWS = [*ALL_WORKFLOWS, ReferenceWorkflow]
    overrides = worker_overrides()
    if overrides:  # a lever under test: extra / changed `Worker` options
        product_worker = worker_module.Worker
        worker_module.Worker = functools.partial(product_worker, **overrides)  # type: ignore[misc]
        try:
            worker = worker_module.build_worker(client, served, settings)
        finally:
            worker_module.Worker = product_worker  # type: ignore[misc]
    else:
        worker = worker_module.build_worker(client, served, settings)
    return worker, engine


def worker_overrides() -> dict[str, Any]:
    """BENCH_WORKER_OPTIONS (JSON: `Worker` keyword arguments) and BENCH_SANDBOX_PASSTHROUGH
    (modules the workflow sandbox shares instead of re-importing per run): levers to measure."""
    import json
    import os

    overrides: dict[str, Any] = json.loads(os.environ.get("BENCH_WORKER_OPTIONS") or "{}")
    passthrough = [m for m in os.environ.get("BENCH_SANDBOX_PASSTHROUGH", "").split(",") if m]
    if passthrough:
        from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

        restrictions = SandboxRestrictions.default.with_passthrough_modules(*passthrough)
        overrides["workflow_runner"] = SandboxedWorkflowRunner(restrictions=restrictions)
    return overrides


async def main() -> None:
    import asyncio
    import logging
    import signal

    from settings import get_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    import flows_profile

    flows_profile.install()  # SIGUSR1 / SIGUSR2: the bench's sampling profile of this process
    settings = get_settings()
    worker, engine = await build(settings)
    import gc

    gc.freeze()  # as `worker.serve` does
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with worker:
        print(f"{READY_LINE} on task queue {settings.task_queue}", flush=True)
        await stop.wait()
    await engine.dispose()


if __name__ == "__main__":
    import asyncio
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent.parent.absolute()))
    asyncio.run(main())
