"""Cancellation of runs with a hook handler, at random points: 12 create and update runs whose
hook after the pivot also releases the run's events (with the pivot's operation marked released).

Two phases, 6 runs each:
- *before the release commits*: the handler takes longer than the latest cancellation, so every
  cancellation reaches the run before its release. Each run ends cancelled and compensated; a
  hook step whose handler finishes anyway is refused at its release (the pivot was
  compensated): no event of the run exists.
- *after the release committed*: the hook step's first attempt hangs after its commit, its result
  lost, and the run is cancelled meanwhile. The cancellation is too late: the pivot's
  compensation answers `released`, the step runs again, and every run completes with its events
  released and nothing compensated.
The invariant checker finds nothing."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import Client

from activities.customer_activities import CustomerActivities
from activities.hooks import HookRegistry
from customer_service import CustomerModuleService
from settings import Settings
from tests.chaos.support import (
    InFlight,
    Ledger,
    Run,
    answered_too_late,
    assert_events_follow_outcomes,
    assert_saga_statuses,
    hang_heartbeating,
    invariant_violations,
    report,
    slowed,
)
from tests.helpers import eventually
from triggers.client import CustomerFlows
from worker import build_worker

pytestmark = pytest.mark.chaos

RUNS = 12
LATEST_CANCEL = 2.0
HELD = 3.0  # the handler, before the release: longer than the latest cancellation
HANG = 4.0  # the first attempt after its release commits (heartbeating: it is not timed out)


async def test_hooked_runs_compensate_before_their_release_and_complete_after_it(
    temporal_client: Client, chaos_service: CustomerModuleService
) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    tag = uuid.uuid4().hex[:8]
    task_queue = f"chaos-hooked-{tag}"
    service = chaos_service
    hooks = HookRegistry()
    flows = CustomerFlows(
        temporal_client,
        Settings(task_queue=task_queue),
        service,
        hooks=["customersCreated", "customersUpdated"],
    )
    customers = await service.create_customers(
        [{"email": f"hooked-{tag}-{i}@example.com", "first_name": f"Name{i}"} for i in range(RUNS)]
    )
    commit_first = False
    released: dict[str, asyncio.Event] = {}  # workflow id → its hook step's release committed
    hung: set[str] = set()

    calls = 0

    async def handler(payload: dict[str, Any], additional_data: Any) -> None:
        """Held past the latest cancellation; every other call finishes its work even when its
        step is cancelled (as a call to an outside system may), and the step goes on to its
        release."""
        nonlocal calls
        calls += 1
        finishes_anyway = calls % 2 == 0
        if commit_first:
            return
        held = asyncio.ensure_future(asyncio.sleep(rng.uniform(HELD, HELD + 1.0)))
        try:
            await asyncio.shield(held)
        except asyncio.CancelledError:
            if not finishes_anyway:
                raise
            await held

    hooks.register("customersCreated", handler)
    hooks.register("customersUpdated", handler)

    async def hang_once(arg: Any) -> None:
        workflow_id = activity.info().workflow_id
        if commit_first and workflow_id not in hung:
            hung.add(workflow_id)
            released.setdefault(workflow_id, asyncio.Event()).set()
            await hang_heartbeating(HANG)

    tracker = InFlight()
    acts = {a.__name__: a for a in CustomerActivities(service, hooks).all()}
    acts["run_hook"] = slowed(acts["run_hook"], lambda _: 0.0, tracker, after=hang_once)
    ledger = Ledger()

    async def cancelled(i: int) -> Run:
        customer = customers[i]
        assert customer.id
        kind, *start = [
            ("create customer", flows.start_create_customers,
             [{"email": f"new-{tag}-{i}@example.com", "addresses": [{"city": "Faro"}]}]),
            ("update customer", flows.start_update_customers, customer.id,
             {"first_name": "Cancelled"}),
        ][i % 2]  # fmt: skip
        expect = "completed" if commit_first else "cancelled"
        run = await ledger.start(kind, *start, request_id=f"{tag}-{i}", expect=expect)
        if commit_first:
            event = released.setdefault(run.handle.id, asyncio.Event())
            await asyncio.wait_for(event.wait(), 30)
            await asyncio.sleep(rng.uniform(0.0, 1.0))
        else:
            await asyncio.sleep(rng.uniform(0.0, LATEST_CANCEL))
        await run.handle.cancel()
        return await ledger.finish(run)

    async def settled() -> bool:
        return tracker.running == 0

    half = RUNS // 2
    async with build_worker(temporal_client, list(acts.values()), Settings(), task_queue):
        first = await asyncio.wait_for(asyncio.gather(*(cancelled(i) for i in range(half))), 60)
        await eventually(settled, within=20)  # the held hook steps end (refused) first
        commit_first = True
        late = await asyncio.wait_for(
            asyncio.gather(*(cancelled(i) for i in range(half, RUNS))), 60
        )
        await eventually(settled, within=20)
        assert ledger.unexpected() == []
        await assert_saga_statuses(ledger)
        too_late = [await answered_too_late(r) for r in late]

    violations = await invariant_violations(service, flows)
    await assert_events_follow_outcomes(service, compensated=first, completed=late)
    report(
        "test_hooked_runs_compensate_before_their_release_and_complete_after_it",
        runs=RUNS, compensated=len(first), completed_too_late=len(late),
        late_releases_refused=tracker.refused, violations=len(violations), seed=seed,
    )  # fmt: skip
    assert violations == []
    # The hook steps cancelled before their release were refused when their handler returned.
    assert tracker.refused >= 1
    assert [t for t in too_late if t] == []
