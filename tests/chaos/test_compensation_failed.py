"""A compensation that cannot succeed: run A updates a customer and is held in its hook; run B
updates the same field and completes; A's hook then fails. A's compensation finds B's value where
it wrote its own, so it refuses to restore (compare-and-set): A fails as CompensationFailed, a
visibility query finds it by SagaStatus, and nothing else was touched."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from activities import hooks as hook_points
from activities.customer_activities import CustomerActivities
from customer_service import CustomerModuleService
from settings import Settings
from tests.chaos.support import Ledger, assert_saga_statuses, invariant_violations, report
from tests.helpers import eventually, snapshot
from tests.workflows.support import activity_records, assert_restored
from triggers.client import CustomerFlows
from worker import build_worker

pytestmark = pytest.mark.chaos


async def test_unrestorable_compensation_fails_loudly_and_touches_nothing_else(
    temporal_client: Client, chaos_service: CustomerModuleService, engine: AsyncEngine
) -> None:
    tag = uuid.uuid4().hex[:8]
    task_queue = f"chaos-cf-{tag}"
    service = chaos_service
    flows = CustomerFlows(temporal_client, Settings(task_queue=task_queue), service)
    entered, release = asyncio.Event(), asyncio.Event()

    async def hold_then_fail(payload: dict[str, Any], additional_data: Any) -> None:
        if (additional_data or {}).get("hold"):
            entered.set()
            await asyncio.wait_for(release.wait(), 30)
            raise RuntimeError("downstream system rejected the update")

    registry = hook_points.registry
    assert not registry.registered()
    registry.register("customersUpdated", hold_then_fail)
    try:
        target, bystander = await service.create_customers(
            [{"email": f"cf-{tag}@example.com", "first_name": "Original", "last_name": "Keep",
              "addresses": [{"city": "Lisbon", "is_default_shipping": True}]},
             {"email": f"cf-other-{tag}@example.com", "first_name": "Bystander"}]
        )  # fmt: skip
        group = await service.create_customer_groups({"name": f"cf-{tag}"})
        await service.add_customer_to_group(
            [{"customer_id": c.id, "customer_group_id": group.id} for c in (target, bystander)]
        )
        before = await snapshot(engine)
        ledger = Ledger()
        async with build_worker(
            temporal_client, CustomerActivities(service, registry), Settings(), task_queue
        ):
            a = await ledger.start(
                "update customer (A)", flows.start_update_customers, target.id,
                {"first_name": "From A"}, additional_data={"hold": True},
                request_id=f"{tag}-a", expect="CompensationFailed",
            )  # fmt: skip
            await asyncio.wait_for(entered.wait(), 30)
            b = await ledger.call(
                "update customer (B)", flows.start_update_customers, target.id,
                {"first_name": "From B"}, request_id=f"{tag}-b",
            )  # fmt: skip
            release.set()
            await asyncio.wait_for(ledger.finish(a), 60)
            restores = [
                r for r in await activity_records(a.handle) if r.name == "undo_update_customers"
            ]
        assert ledger.unexpected() == []
        await assert_saga_statuses(ledger)
    finally:
        registry._handlers.clear()

    # A says exactly what it could not undo, and why.
    assert a.error_type == "CompensationFailed"
    assert f"{target.id}.first_name" in str(a.error)
    (failures,) = a.error.details  # type: ignore[union-attr]
    assert [f["step"] for f in failures] == ["update_customers"]
    # The conflict is final: the compensation ran once, it was not retried into a clobber.
    assert [(r.attempts_started, r.outcome) for r in restores] == [([1], "failed")]

    # An operator finds it through visibility (what the Web UI's search does).
    async def listed() -> list[str]:
        query = f'SagaStatus="compensation_failed" AND WorkflowId="{a.handle.id}"'
        return [w.id async for w in temporal_client.list_workflows(query)]

    assert await eventually(listed, within=20) == [a.handle.id]
    found = await flows.find_runs(saga_status="compensation_failed", customer_id=target.id)
    assert [r["workflow_id"] for r in found] == [a.handle.id]

    # Nothing else was touched: B's value stands, every other row and column is as before, and
    # the only new events are B's (released); A published nothing.
    after = await snapshot(engine)
    (row,) = [r for r in after["customer"] if r["id"] == target.id]
    (old,) = [r for r in before["customer"] if r["id"] == target.id]
    assert row["first_name"] == "From B"
    assert {k: v for k, v in row.items() if k not in ("first_name", "updated_at")} == {
        k: v for k, v in old.items() if k not in ("first_name", "updated_at")
    }
    b_group = f"{b.handle.id}:{b.run_id}"
    new_events = [e for e in after["event_outbox"] if e not in before["event_outbox"]]
    assert new_events and {(e["event_group_id"], e["status"]) for e in new_events} == {
        (b_group, "released")
    }
    a_group = f"{a.handle.id}:{a.run_id}"
    assert not [e for e in after["event_outbox"] if e["event_group_id"] == a_group]
    after["event_outbox"] = [e for e in after["event_outbox"] if e in before["event_outbox"]]
    after["customer"] = [r if r["id"] != target.id else old for r in after["customer"]]
    assert_restored(before, after)
    violations = await invariant_violations(service, flows)
    report(
        "test_unrestorable_compensation_fails_loudly_and_touches_nothing_else",
        runs=len(ledger.runs), compensation_failed=1, violations=len(violations), duplicates=0,
    )  # fmt: skip
    assert violations == []
