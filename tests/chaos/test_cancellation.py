"""Cancellation of 20 runs at random points: create, update, link, address create / update and
delete runs, their steps slowed at random and their last step held, each cancelled after a random
delay. Every one ends cancelled and fully compensated: the database is exactly as before (a step
still in flight when its run was cancelled is refused when it finally runs), SagaStatus says
compensated, the invariant checker finds nothing."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from activities import hooks as hook_points
from activities.customer_activities import CustomerActivities
from customer_service import CustomerModuleService
from settings import Settings
from tests.chaos.support import (
    InFlight,
    Ledger,
    Run,
    assert_saga_statuses,
    invariant_violations,
    report,
    slowed,
)
from tests.helpers import eventually, snapshot
from tests.workflows.support import COMPENSATIONS, assert_restored
from triggers.client import CustomerFlows
from worker import build_worker

pytestmark = pytest.mark.chaos

RUNS = 20
FORWARD = (
    "create_customers",
    "update_customers",
    "change_memberships",
    "create_customer_addresses",
    "soft_delete_customers",
    "unset_default_addresses",
    "list_customers",
)
HELD_RELEASE = 3.0  # the last step takes longer than the latest cancellation
LATEST_CANCEL = 2.5


async def test_cancelled_runs_are_fully_compensated(
    temporal_client: Client, chaos_service: CustomerModuleService, engine: AsyncEngine
) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    tag = uuid.uuid4().hex[:8]
    task_queue = f"chaos-cancel-{tag}"
    service = chaos_service
    assert not hook_points.registry.registered()
    flows = CustomerFlows(temporal_client, Settings(task_queue=task_queue), service)

    customers = await service.create_customers(
        [{"email": f"cancel-{tag}-{i}@example.com", "first_name": f"Name{i}",
          "metadata": {"tier": "gold"}, "addresses": [
              {"address_name": "home", "city": "Lisbon", "is_default_shipping": True,
               "is_default_billing": True},
              {"address_name": "work", "city": "Porto"}]}
         for i in range(2 * RUNS)]
    )  # fmt: skip
    group = await service.create_customer_groups({"name": f"cancel-{tag}"})
    await service.add_customer_to_group(
        [{"customer_id": c.id, "customer_group_id": group.id} for c in customers[:RUNS]]
    )
    before = await snapshot(engine)

    tracker = InFlight()
    activities = CustomerActivities(service, hook_points.registry)
    acts = {a.__name__: a for a in activities.all()}
    for name in FORWARD:
        acts[name] = slowed(acts[name], lambda _: rng.uniform(0.0, 0.5), tracker)
    acts["release_events"] = slowed(acts["release_events"], lambda _: HELD_RELEASE, tracker)
    ledger = Ledger()

    async def cancelled(i: int) -> Run:
        customer, other = customers[i], customers[RUNS + i]
        assert customer.id and other.id and customer.addresses and group.id
        work = next(a.id for a in customer.addresses if a.address_name == "work")
        rid = f"{tag}-{i}"
        start: tuple[Any, ...]
        kind, *start = [
            ("create customer", flows.start_create_customers,
             [{"email": f"new-{tag}-{i}@example.com",
               "addresses": [{"city": "Faro", "is_default_shipping": True}]}]),
            ("update customer", flows.start_update_customers, customer.id,
             {"first_name": "Cancelled", "metadata": {"tier": "", "note": "x"}}),
            ("link customers to group", flows.start_link_customers_to_group, group.id),
            ("create address", flows.start_create_addresses,
             [{"customer_id": customer.id, "city": "Braga", "is_default_shipping": True}]),
            ("update address", flows.start_update_addresses, work,
             {"city": "Coimbra", "is_default_billing": True}),
            ("delete customer", flows.start_delete_customers, [customer.id]),
        ][i % 6]  # fmt: skip
        extra = {"add": [other.id], "remove": [customer.id]} if i % 6 == 2 else {}
        run = await ledger.start(kind, *start, request_id=rid, expect="cancelled", **extra)
        await asyncio.sleep(rng.uniform(0.0, LATEST_CANCEL))
        await run.handle.cancel()
        return await ledger.finish(run)

    async with build_worker(temporal_client, list(acts.values()), Settings(), task_queue):
        runs = await asyncio.wait_for(asyncio.gather(*(cancelled(i) for i in range(RUNS))), 60)

        # Attempts still running when their run was cancelled finish (refused) before we look.
        async def settled() -> bool:
            return tracker.running == 0

        await eventually(settled, within=15)
        assert ledger.unexpected() == []
        await assert_saga_statuses(ledger)
        points = [await _cancel_point(r) for r in runs]

    assert_restored(before, await snapshot(engine))
    violations = await invariant_violations(service, flows)
    mid_saga = sum(1 for p in points if p > 0)
    report(
        "test_cancelled_runs_are_fully_compensated",
        runs=len(runs), cancellations=len(runs),
        cancelled_after_a_step_completed=mid_saga, cancelled_before=len(runs) - mid_saga,
        late_steps_refused=tracker.refused, violations=len(violations), duplicates=0, seed=seed,
    )  # fmt: skip
    assert violations == []
    # The cancellations landed at different points, some after a step had done its work.
    assert mid_saga >= 1, points


async def _cancel_point(run: Run) -> int:
    """How many forward steps had completed when the cancellation reached the run."""
    done = 0
    scheduled: dict[int, str] = {}
    async for event in run.handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            scheduled[event.event_id] = name
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            name = scheduled[event.activity_task_completed_event_attributes.scheduled_event_id]
            if name not in COMPENSATIONS and name != "release_events":
                done += 1
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
            return done
    raise AssertionError(f"{run.request_id}: no cancel request in the history")
