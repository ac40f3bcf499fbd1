"""The worker for `bench/bench_flows.py`: the normal worker plus a bare reference workflow.

Run as `python bench/bench_worker.py` with DATABASE_URL, TEMPORAL_ADDRESS and TASK_QUEUE set. It
builds exactly what `worker.serve` builds (settings → engine → service → `build_activities`: the
customer, delivery and bulk activities → `build_worker`), adding only `ReferenceWorkflow` and its no-op activity to the same worker, so
the benchmark compares the customer workflows with plain Temporal on one server and one worker.

The reference workflow is in `reference_workflow` (its input and activity in
`reference_contracts`), laid out as the product's workflow modules are.
"""

from __future__ import annotations

import functools
from typing import Any

from reference_contracts import bench_noop
from reference_workflow import ReferenceWorkflow

READY_LINE = "bench worker ready"


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
