"""The worker: composition root. Reads settings once, builds engine → service → activities,
connects to Temporal and serves every customer workflow and activity on one task queue until
SIGINT / SIGTERM, then drains in-flight tasks and exits.

The process started as `python worker.py` imports everything, then forks the process
that serves, and forks another if that one dies (`supervision.serve_restarting`): a crashed
worker is back in a fraction of a second, not a cold start's ~1.3 s."""

from __future__ import annotations

import compileall
import gc
from pathlib import Path

# Start-up speed is recovery speed: a restarted worker serves no sooner than its imports end.
#
# Bytecode: Python writes none when PYTHONDONTWRITEBYTECODE is set (many images and shells), and
# then every start compiles the project's source again (0.4 s of a 1.5 s start here), and every
# run's sandbox compiles the workflow modules again (about an eighth of a run's CPU). So the
# worker writes the project's bytecode where it is missing or stale, before importing it. The
# image compiles at build time; elsewhere a read-only tree only costs the speed.
FIRST_PARTY = ("activities", "auth", "codec", "customer_service", "triggers", "workflows")
_ROOT = Path(__file__).resolve().parent
BYTECODE_WRITTEN = all(
    [compileall.compile_dir(_ROOT / package, quiet=2) for package in FIRST_PARTY]
    + [compileall.compile_file(_ROOT / "settings.py", quiet=2)]
)

# The imports below allocate ~120k objects; collecting them while they load costs 15% of the
# start-up, for nothing. Collection resumes after them; `serve` then freezes what start-up made.
gc.disable()

import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import psycopg  # noqa: F401  (imported by the first engine: 0.1 s of each start if left to it)
from pydantic import ValidationError
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker
from temporalio.worker._worker import load_default_build_id

from activities.bulk_activities import BulkActivities
from activities.customer_activities import CustomerActivities
from activities.delivery_activities import DeliveryActivities
from activities.hooks import load_hooks_module
from activities.subscribers import load_subscribers_module
from auth.store import AuthStore
from customer_service import CustomerModuleService, create_engine, session_factory
from customer_service.service.bulk import BulkImports
from customer_service.service.bulk_export import BulkExports
from customer_service.service.deliveries import Deliveries
from customer_service.service.retention import Retention
from settings import ConfigurationError, Settings, get_settings
from supervision import serve_restarting
from triggers.connection import connect
from triggers.operations import delivery_policy
from workflows import ALL_WORKFLOWS
from workflows.policies import FORWARD_START_TO_CLOSE, HEARTBEAT_THROTTLE

# On SIGTERM in-flight activities get as long as one attempt may take; compose's
# stop_grace_period (docker-compose.yml) is longer still, so the drain is never cut short.
GRACEFUL_SHUTDOWN = FORWARD_START_TO_CLOSE + timedelta(seconds=5)

gc.enable()

log = logging.getLogger("customer_flows.worker")


def metrics_runtime(port: int) -> Runtime:
    """A Temporal runtime exporting Prometheus metrics (SDK metrics plus our saga counters)."""
    return Runtime(
        telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"0.0.0.0:{port}"))
    )


def build_worker(
    client: Client,
    activities: CustomerActivities | Sequence[Callable[..., Any]],
    settings: Settings,
    task_queue: str | None = None,
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=ALL_WORKFLOWS,
        activities=activities.all() if isinstance(activities, CustomerActivities) else activities,
        max_concurrent_activities=settings.max_concurrent_activities,
        max_concurrent_workflow_tasks=settings.max_concurrent_workflow_tasks,
        max_cached_workflows=settings.max_cached_workflows,
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        max_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
        sticky_queue_schedule_to_start_timeout=timedelta(
            seconds=settings.sticky_schedule_to_start_timeout
        ),
        # A start whose input does not validate fails its run (typed invalid_data, see
        # codec.converter.FailureConverter) rather than its workflow task, retried forever.
        workflow_failure_exception_types=[ValidationError],
    )


def build_activities(
    service: CustomerModuleService, client: Client, settings: Settings
) -> tuple[CustomerActivities, DeliveryActivities]:
    """The customer activities, whose release step hands events to the delivery activities."""
    deliveries = DeliveryActivities(
        Deliveries(service.sessions),
        Retention(service.sessions),
        load_subscribers_module(settings.subscribers_module),
        client,
        settings.task_queue,
        delivery_policy(settings),
    )
    hooks = load_hooks_module(settings.hooks_module)
    auth = AuthStore(service.sessions)
    return CustomerActivities(service, hooks, deliveries, auth), deliveries


async def serve(settings: Settings, on_ready: Callable[[], None]) -> None:
    """Run the worker until SIGINT / SIGTERM, then finish in-flight tasks and stop; `on_ready`
    once it polls."""
    engine = create_engine(settings.require_database_url(), pool_size=settings.db_pool_size)
    service = CustomerModuleService(session_factory(engine))
    runtime = metrics_runtime(settings.metrics_port) if settings.metrics_port else None
    client = await connect(settings, runtime=runtime)
    # The namespace is checked here, not first by the SDK worker once it runs: a wrong one is a
    # failure to start (the supervising process gives up), not a crash after serving (restarted).
    await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=client.namespace)
    )
    activities, deliveries = build_activities(service, client, settings)
    bulk = BulkActivities(BulkImports(service.sessions), BulkExports(service.sessions))
    worker = build_worker(client, [*activities.all(), *deliveries.all(), *bulk.all()], settings)

    if not BYTECODE_WRITTEN:
        log.info("could not write the project's bytecode: starts and runs compile its source")
    # Everything start-up made lives as long as the process: out of the collector's full scans.
    gc.freeze()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    log.info(
        "worker serving %d workflows and %d activities on task queue %r at %s (namespace %s), "
        "database %s",
        len(ALL_WORKFLOWS),
        len(activities.all()) + len(deliveries.all()) + len(bulk.all()),
        settings.task_queue,
        client.service_client.config.target_host,
        settings.temporal_namespace,
        engine.url.render_as_string(hide_password=True),
    )
    if settings.metrics_port:
        log.info("Prometheus metrics on :%d/metrics", settings.metrics_port)
    running = asyncio.create_task(worker.run())
    stopped = asyncio.create_task(stop.wait())
    on_ready()
    await asyncio.wait({running, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if not running.done():
        log.info("shutting down: finishing in-flight tasks")
        await worker.shutdown()
    stopped.cancel()
    await engine.dispose()
    await running  # a worker that failed on its own (a fatal poll error) fails this process
    log.info("worker stopped")


def main() -> int:
    """Check the configuration, then serve. A missing server address is one line on stderr and
    exit status 1: outside dev mode nothing is started behind the operator's back."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    try:
        settings.require_database_url()
        settings.require_temporal_address()
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    # The SDK names a worker's build by hashing the code of every loaded module (0.16 s), once
    # per process: done here, each forked serving process inherits it.
    load_default_build_id()
    gc.freeze()  # what the serving processes share with this one stays out of their collections

    def serve_forked(ready: Callable[[], None]) -> int:
        asyncio.run(serve(settings, ready))
        return 0

    return serve_restarting(serve_forked)


if __name__ == "__main__":
    sys.exit(main())
