"""Cancellation of 20 runs at random points: create, update, link, address create / update and
delete runs. None of them lists a hook, so each run's pivot (its last write) releases the run's
events in its own transaction (DESIGN rule 10), and the run is at most two steps.

Two phases, 10 runs each:
- *before the pivot commits*: the steps before the pivot are slowed at random, the pivot is held
  before its commit (past the latest cancellation; a local attempt past its timeout), and each
  run is cancelled after a random delay. Every one ends cancelled and fully compensated: the
  database is exactly as before the phase (a pivot attempt still in flight is refused when it
  finally runs), SagaStatus says compensated, no event exists for the run.
- *after the pivot committed*: the pivot commits, then its attempt hangs, so its result is lost
  (a local attempt is cut at its timeout, an ordinary one heartbeats until the cancellation
  reaches it), and the run is cancelled meanwhile. The cancellation
  is too late: the pivot's compensation answers `released`, the step runs again and finds its
  commit, and every run completes with its events released and nothing compensated.
The invariant checker finds nothing: no event released for a run that did not complete, none
left staged."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
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
    answered_too_late,
    assert_events_follow_outcomes,
    assert_saga_statuses,
    hang_heartbeating,
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
BEFORE_PIVOT = ("unset_default_addresses", "list_customer_addresses")
PIVOTS = (
    "create_customers",
    "update_customers",
    "change_memberships",
    "create_customer_addresses",
    "update_customer_addresses",
    "soft_delete_customers",
)
HANG = 6.0  # longer than a local attempt may take (5 s): the attempt is cut
LATEST_CANCEL = 2.5
HELD = 3.0  # an ordinary pivot attempt before its commit: longer than the latest cancellation


class Pivots:
    """How the wrapped pivot activities behave in the current phase, and what they did."""

    def __init__(self, rng: random.Random, tracker: InFlight) -> None:
        self.rng = rng
        self.tracker = tracker
        self.commit_first = False
        self.committed: dict[str, asyncio.Event] = {}  # workflow id → its pivot committed
        self.hung: set[str] = set()

    def delay(self) -> float:
        """Before the real call: held past the latest cancellation unless committing first."""
        if self.commit_first:
            return 0.0
        return HANG if activity.info().is_local else self.rng.uniform(HELD, HELD + 1.0)

    async def hang_once(self, arg: Any) -> None:
        """After the real call, when committing first: the first attempt hangs, its result is
        lost. A local attempt is cut at its timeout; an ordinary one heartbeats through the hang,
        so the cancellation (up to 1.5 s later) reaches it before its heartbeat timeout (1 s)
        would end it and a retry complete the run first."""
        if self.commit_first and arg.operation_id not in self.hung:
            self.hung.add(arg.operation_id)
            self.event(activity.info().workflow_id).set()
            if activity.info().is_local:
                await asyncio.sleep(HANG)
                return
            await hang_heartbeating(HANG)

    def wrap(self, fn: Callable[[Any], Awaitable[Any]]) -> Any:
        return slowed(fn, lambda _: self.delay(), self.tracker, after=self.hang_once)

    def event(self, workflow_id: str) -> asyncio.Event:
        return self.committed.setdefault(workflow_id, asyncio.Event())


async def test_cancelled_runs_compensate_before_the_pivot_and_complete_after_it(
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

    tracker = InFlight()
    pivots = Pivots(rng, tracker)
    activities = CustomerActivities(service, hook_points.registry)
    acts = {a.__name__: a for a in activities.all()}
    for name in BEFORE_PIVOT:
        acts[name] = slowed(acts[name], lambda _: rng.uniform(0.0, 0.5), tracker)
    for name in PIVOTS:
        acts[name] = pivots.wrap(acts[name])
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
        expect = "completed" if pivots.commit_first else "cancelled"
        run = await ledger.start(kind, *start, request_id=rid, expect=expect, **extra)
        if pivots.commit_first:
            await asyncio.wait_for(pivots.event(run.handle.id).wait(), 30)
            await asyncio.sleep(rng.uniform(0.0, 1.5))
        else:
            await asyncio.sleep(rng.uniform(0.0, LATEST_CANCEL))
        await run.handle.cancel()
        return await ledger.finish(run)

    async def settled() -> bool:
        return tracker.running == 0

    half = RUNS // 2
    async with build_worker(temporal_client, list(acts.values()), Settings(), task_queue):
        before = await snapshot(engine)
        first = await asyncio.wait_for(asyncio.gather(*(cancelled(i) for i in range(half))), 60)
        # Attempts still running when their run was cancelled finish (refused) before we look.
        await eventually(settled, within=20)
        assert_restored(before, await snapshot(engine))

        pivots.commit_first = True
        late = await asyncio.wait_for(
            asyncio.gather(*(cancelled(i) for i in range(half, RUNS))), 90
        )
        await eventually(settled, within=20)
        assert ledger.unexpected() == []
        await assert_saga_statuses(ledger)
        points = [await _cancel_point(r) for r in first]
        too_late = [await answered_too_late(r) for r in late]

    violations = await invariant_violations(service, flows)
    await assert_events_follow_outcomes(service, compensated=first, completed=late)
    mid_saga = sum(1 for p in points if p > 0)
    report(
        "test_cancelled_runs_compensate_before_the_pivot_and_complete_after_it",
        runs=RUNS, cancellations=RUNS, compensated=len(first), completed_too_late=len(late),
        cancelled_after_a_step_completed=mid_saga, late_steps_refused=tracker.refused,
        violations=len(violations), seed=seed,
    )  # fmt: skip
    assert violations == []
    # The cancellations landed at different points, some after a step had done its work.
    assert mid_saga >= 1, points
    # Every late cancellation reached the run, and was answered "too late" by the pivot's
    # compensation; no other compensation ran.
    assert [t for t in too_late if t] == []


async def _cancel_point(run: Run) -> int:
    """How many forward steps had completed when the cancellation reached the run (a local
    step's completion is a marker in the history)."""
    done = 0
    scheduled: dict[int, str] = {}
    async for event in run.handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            scheduled[event.event_id] = name
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            name = scheduled[event.activity_task_completed_event_attributes.scheduled_event_id]
            if name not in COMPENSATIONS:
                done += 1
        elif event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            marker = event.marker_recorded_event_attributes
            if marker.marker_name == "core_local_activity" and not marker.HasField("failure"):
                done += 1
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
            return done
    raise AssertionError(f"{run.request_id}: no cancel request in the history")
