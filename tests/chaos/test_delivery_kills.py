"""Event delivery under worker SIGKILL: customers live their lives (create, update, a failing
update for some, delete) across 2 worker processes while a random one is killed with -9 again
and again, mid-delivery (the receiver takes its time to answer). Afterwards: every event a run
released reached every subscriber recorded at its release (a webhook and a local subscriber), no
(event, subscriber) had two effects (a repeat carries the same delivery id, and receivers dedupe
on it), each customer's events arrived in release order, and nothing arrived for rolled-back
changes."""

from __future__ import annotations

import asyncio
import random
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from customer_service import CustomerModuleService
from customer_service.delivery_invariants import settled_violations
from customer_service.service.deliveries import Deliveries
from settings import Settings
from tests.chaos.hooks import HOOK_POINTS
from tests.chaos.support import Ledger, invariant_violations, report, worker_pool
from tests.events.receiver import Receiver
from tests.helpers import eventually, fetch
from triggers.client import CustomerFlows

pytestmark = pytest.mark.chaos

CUSTOMERS = 10
KILLS = 6
WORKERS = 2
LOCAL = "local:chaos.crm_sync"


async def test_deliveries_survive_worker_sigkill(
    database_url: str,
    temporal_address: str,
    temporal_client: Client,
    chaos_service: CustomerModuleService,
    engine: AsyncEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    tag = uuid.uuid4().hex[:8]
    task_queue = f"chaos-delivery-{tag}"
    receiver = Receiver(delay=0.15).start()
    deliveries = Deliveries(chaos_service.sessions)
    await deliveries.add_webhook(
        receiver.url, ["customer.created", "customer.updated", "customer.deleted"]
    )
    monkeypatch.setenv("SUBSCRIBERS_MODULE", "tests.chaos.delivery_subscribers")
    monkeypatch.setenv("CHAOS_RECEIVER_URL", receiver.url)
    monkeypatch.setenv("DELIVERY_FIRST_RETRY_SECONDS", "0.2")
    monkeypatch.setenv("DELIVERY_MAX_INTERVAL_SECONDS", "1")
    monkeypatch.setenv("WEBHOOK_TIMEOUT_SECONDS", "3")
    flows = CustomerFlows(
        temporal_client, Settings(task_queue=task_queue), chaos_service, hooks=HOOK_POINTS
    )
    ledger = Ledger()
    pending_at_kill: list[int] = []
    try:
        async with worker_pool(
            WORKERS,
            database_url=database_url,
            temporal_address=temporal_address,
            task_queue=task_queue,
            log_dir=tmp_path,
        ) as pool:

            async def life(k: int) -> None:
                await asyncio.sleep(k * 0.3)
                created = await ledger.call(
                    "create", flows.start_create_customers,
                    [{"email": f"dlv-{tag}-{k}@example.com"}], request_id=f"{tag}-c-{k}",
                )  # fmt: skip
                customer_id = created.result.customers[0].id
                for step in range(3):
                    fails = k % 4 == 3 and step == 1  # rolled back: no event may arrive
                    await ledger.call(
                        "update", flows.start_update_customers, customer_id,
                        {"first_name": f"N{step}"},
                        additional_data={"chaos_fail": True} if fails else None,
                        request_id=f"{tag}-u-{k}-{step}",
                        expect="hook_failed" if fails else "completed",
                    )  # fmt: skip
                await ledger.call(
                    "delete", flows.start_delete_customers, [customer_id],
                    request_id=f"{tag}-d-{k}",
                )  # fmt: skip

            async def killer() -> None:
                await asyncio.sleep(1.0)
                for _ in range(KILLS):
                    await asyncio.sleep(rng.uniform(0.4, 1.2))
                    pending_at_kill.append(len(await deliveries.list_deliveries("pending")))
                    await asyncio.to_thread(pool.kill_and_restart, rng.randrange(WORKERS))

            lives = asyncio.gather(*(life(k) for k in range(CUSTOMERS)))
            await asyncio.wait_for(asyncio.gather(lives, killer()), timeout=240)
            await pool.wait_ready()

            async def none_pending() -> bool:
                return not await deliveries.list_deliveries("pending")

            await eventually(none_pending, within=120, interval=0.5)
            pool.assert_all_running()
        assert ledger.unexpected() == []

        rows = await deliveries.list_deliveries(limit=100_000)
        failed_runs = sum(1 for r in ledger.runs if r.expect != "completed")
        problems = _delivery_problems(rows, receiver)
        repeats = len(receiver.accepted()) - len({r.json["id"] for r in receiver.accepted()})
        violations = await invariant_violations(chaos_service, flows)
        async with chaos_service.sessions() as session:
            violations += await settled_violations(session)
        released = await fetch(
            engine,
            "SELECT count(*) AS n FROM event_outbox WHERE NOT internal AND status = 'released'",
        )
        report(
            "test_deliveries_survive_worker_sigkill",
            runs=len(ledger.runs), kills=pool.kills, restarts=pool.restarts,
            deliveries=len(rows), redelivered_after_crash=repeats,
            pending_at_kills=pending_at_kill,
            violations=len(violations), duplicates=len(problems), seed=seed,
        )  # fmt: skip
        # Every completed run's event, to both subscribers: create + 3 updates (one rolled back
        # for a quarter of the customers) + delete.
        expected_events = CUSTOMERS * 5 - failed_runs
        assert released[0]["n"] == expected_events
        assert len(rows) == 2 * expected_events
        assert problems == []
        assert violations == []
        # The kills landed while deliveries were under way.
        assert sum(1 for n in pending_at_kill if n) >= KILLS // 2, pending_at_kill
    finally:
        receiver.stop()


def _delivery_problems(rows: list[dict[str, Any]], receiver: Receiver) -> list[str]:
    """Every delivery delivered and received; one effect per delivery id (repeats carry the same
    id and body); each (subscriber, customer) received in release order."""
    problems = [f"{r['id']} is {r['status']}" for r in rows if r["status"] != "delivered"]
    first: dict[str, dict[str, Any]] = {}
    for request in receiver.accepted():
        body = request.json
        earlier = first.setdefault(body["id"], body)
        if (earlier["event"], earlier["data"]) != (body["event"], body["data"]):
            problems.append(f"{body['id']}: two different effects")
    by_id = {r["id"]: r for r in rows}
    problems += [f"{d} received but not recorded" for d in first.keys() - by_id.keys()]
    problems += [f"{d} recorded but never received" for d in by_id.keys() - first.keys()]
    # `rows` come in seq (release) order; first receptions must follow it per lane.
    received_order = {d: i for i, d in enumerate(first)}
    lanes: dict[tuple[str, str], list[int]] = {}
    for row in rows:
        if row["id"] in received_order:
            lanes.setdefault((row["subscriber"], row["lane"]), []).append(received_order[row["id"]])
    problems += [
        f"lane {lane} out of order" for lane, seen in lanes.items() if seen != sorted(seen)
    ]
    subscribers = {r["subscriber"] for r in rows}
    if LOCAL not in subscribers or len(subscribers) != 2:
        problems.append(f"subscribers recorded: {sorted(subscribers)}")
    return problems
