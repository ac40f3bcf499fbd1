"""Worker SIGKILL: ~100 mixed runs across 3 worker processes, a random worker killed with -9 at
random moments 10 times (and restarted each time). Every run still ends as it should, the
invariant checker finds nothing, and every request id had exactly one effect."""

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
from settings import Settings
from tests.chaos.hooks import HOOK_POINTS
from tests.chaos.support import (
    Ledger,
    assert_saga_statuses,
    invariant_violations,
    report,
    rows,
    total_retries,
    worker_pool,
)
from tests.helpers import eventually, scalar
from triggers.client import CustomerFlows

pytestmark = pytest.mark.chaos

CHAINS = 17  # × 6 runs (one in three without its delete) + the group: 97 runs
KILLS = 10
WORKERS = 3


async def test_worker_sigkill_at_random_moments(
    database_url: str,
    temporal_address: str,
    temporal_client: Client,
    chaos_service: CustomerModuleService,
    engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    tag = uuid.uuid4().hex[:8]
    task_queue = f"chaos-kill-{tag}"
    flows = CustomerFlows(
        temporal_client, Settings(task_queue=task_queue), chaos_service, hooks=HOOK_POINTS
    )
    ledger = Ledger()
    expected: dict[int, dict[str, Any]] = {}
    in_flight_at_kill: list[int] = []

    def delay() -> dict[str, float]:
        return {"chaos_delay": round(rng.uniform(0.05, 0.7), 2)}

    async with worker_pool(
        WORKERS,
        database_url=database_url,
        temporal_address=temporal_address,
        task_queue=task_queue,
        log_dir=tmp_path,
    ) as pool:
        group_run = await ledger.call(
            "create group", flows.start_create_groups, [{"name": f"chaos-vip-{tag}"}],
            request_id=f"{tag}-group",
        )  # fmt: skip
        group_id = group_run.result.groups[0].id

        async def chain(k: int) -> None:
            """One customer's life: create with addresses → update → join the group → a new
            address → update it → (for some) delete the customer."""
            await asyncio.sleep(k * 0.5)
            email = f"chaos-{tag}-{k}@example.com"
            fails = k % 5 == 4  # its update's hook fails for good: compensated
            deletes = k % 3 != 2
            expected[k] = {"email": email, "update_fails": fails, "deleted": deletes}
            repeat = rng.random() < 0.3
            created = await ledger.call(
                "create customer", flows.start_create_customers,
                [{"email": email, "first_name": f"First{k}", "addresses": [
                    {"address_name": "home", "city": "Lisbon", "is_default_shipping": True},
                    {"address_name": "work", "city": "Porto", "is_default_billing": True},
                ]}],
                additional_data=delay(), request_id=f"{tag}-create-{k}", repeat=repeat,
            )  # fmt: skip
            if created.status != "completed":
                return
            customer = created.result.customers[0]
            expected[k]["id"] = customer.id
            await ledger.call(
                "update customer", flows.start_update_customers, customer.id,
                {"first_name": f"Updated{k}"},
                additional_data={**delay(), **({"chaos_fail": True} if fails else {})},
                request_id=f"{tag}-update-{k}", expect="hook_failed" if fails else "completed",
                repeat=rng.random() < 0.3,
            )  # fmt: skip
            if k % 2:
                await ledger.call(
                    "link customer to group", flows.start_link_customers_to_group, group_id,
                    add=[customer.id], request_id=f"{tag}-link-{k}", repeat=rng.random() < 0.3,
                )  # fmt: skip
            else:
                await ledger.call(
                    "link group to customer", flows.start_link_groups_to_customer, customer.id,
                    add=[group_id], request_id=f"{tag}-link-{k}", repeat=rng.random() < 0.3,
                )  # fmt: skip
            address = await ledger.call(
                "create address", flows.start_create_addresses,
                [{"customer_id": customer.id, "address_name": "extra", "city": "Braga",
                  "is_default_billing": True}],
                additional_data=delay(), request_id=f"{tag}-address-{k}",
                repeat=rng.random() < 0.3,
            )  # fmt: skip
            extra = address.result.addresses[0].id
            expected[k]["extra"] = extra
            await ledger.call(
                "update address", flows.start_update_addresses, extra,
                {"city": "Coimbra", "is_default_shipping": True},
                additional_data=delay(), request_id=f"{tag}-address-update-{k}",
                repeat=rng.random() < 0.3,
            )  # fmt: skip
            if deletes:
                await ledger.call(
                    "delete customer", flows.start_delete_customers, [customer.id],
                    request_id=f"{tag}-delete-{k}", repeat=rng.random() < 0.3,
                )  # fmt: skip

        async def run_in_flight() -> bool:
            return ledger.open > 0

        async def killer() -> None:
            await asyncio.sleep(1.5)
            for _ in range(KILLS):
                await asyncio.sleep(rng.uniform(0.3, 1.0))
                # Not in a gap between one run and the next of every chain.
                await eventually(run_in_flight, within=30, interval=0.01)
                in_flight_at_kill.append(ledger.open)
                await asyncio.to_thread(pool.kill_and_restart, rng.randrange(WORKERS))

        chains = asyncio.gather(*(chain(k) for k in range(CHAINS)))
        await asyncio.wait_for(asyncio.gather(chains, killer()), timeout=200)
        await pool.wait_ready()
        pool.assert_all_running()

        # A client repeating a finished request gets the first run back, not a second effect.
        completed = [r for r in ledger.runs if r.status == "completed"]
        for run in rng.sample(completed, 15):
            again = await run.again()
            assert (await again.describe()).run_id == run.run_id, run.request_id

        assert ledger.unexpected() == []
        await assert_saga_statuses(ledger)
        retries = await total_retries(ledger)

    # Chaos really happened: every kill landed while runs were in flight, and the histories show
    # the work that was lost with the killed workers being done again.
    assert pool.kills == KILLS and pool.restarts == KILLS
    assert all(n > 0 for n in in_flight_at_kill), in_flight_at_kill
    assert retries.total > 0, retries

    violations = await invariant_violations(chaos_service, flows)
    duplicates = await _duplicate_effects(engine, group_id, expected, f"chaos-vip-{tag}")
    report(
        "test_worker_sigkill_at_random_moments",
        runs=len(ledger.runs), kills=pool.kills, restarts=pool.restarts,
        repeated_triggers=ledger.repeated_starts + 15,
        expected_failures=sum(1 for r in ledger.runs if r.expect != "completed"),
        activity_retries=retries.activity_attempts,
        workflow_task_timeouts=retries.workflow_task_timeouts,
        violations=len(violations), duplicates=len(duplicates), seed=seed,
    )  # fmt: skip
    assert violations == []
    assert duplicates == []
    assert len(ledger.runs) >= 90


async def _duplicate_effects(
    engine: AsyncEngine, group_id: str, expected: dict[int, dict[str, Any]], group: str
) -> list[str]:
    """Each request's effect, exactly once: one customer per create request, its two nested
    addresses plus the one created later, one membership per link, one event per completed
    create / update / delete (none for the failed update), the values the runs wrote."""
    problems: list[str] = []
    n_groups = await scalar(engine, "SELECT count(*) FROM customer_group WHERE name = :n", n=group)
    if n_groups != 1:
        problems.append(f"{n_groups} groups named {group}")
    for k, e in sorted(expected.items()):
        found = await rows(
            engine,
            "SELECT id, first_name, deleted_at FROM customer WHERE lower(email) = :e",
            e=e["email"],
        )
        if len(found) != 1:
            problems.append(f"chain {k}: {len(found)} customers for {e['email']}")
            continue
        customer_id, first_name, deleted_at = found[0]
        want_name = f"First{k}" if e["update_fails"] else f"Updated{k}"
        if first_name != want_name:
            problems.append(f"chain {k}: first_name {first_name!r}, expected {want_name!r}")
        if (deleted_at is not None) != e["deleted"]:
            problems.append(f"chain {k}: deleted_at {deleted_at}, expected deleted={e['deleted']}")
        addresses = await rows(
            engine,
            "SELECT id, address_name, city, is_default_shipping, is_default_billing, deleted_at "
            "FROM customer_address WHERE customer_id = :c ORDER BY address_name",
            c=customer_id,
        )
        shape = [(a.address_name, a.city, a.is_default_shipping, a.is_default_billing,
                  a.deleted_at is not None) for a in addresses]  # fmt: skip
        deleted = e["deleted"]
        want = [("extra", "Coimbra", True, True, deleted), ("home", "Lisbon", False, False, deleted),
                ("work", "Porto", False, False, deleted)]  # fmt: skip
        if shape != want:
            problems.append(f"chain {k}: addresses {shape}, expected {want}")
        if [a.id for a in addresses if a.address_name == "extra"] != [e.get("extra")]:
            problems.append(f"chain {k}: the created address is not the one the run returned")
        members = await scalar(
            engine,
            "SELECT count(*) FROM customer_group_customer WHERE customer_id = :c AND "
            "customer_group_id = :g",
            c=customer_id,
            g=group_id,
        )
        if members != 1:
            problems.append(f"chain {k}: {members} memberships")
        for name, want_events in (
            ("customer.created", 1),
            ("customer.updated", 0 if e["update_fails"] else 1),
            ("customer.deleted", 1 if e["deleted"] else 0),
        ):
            n = await scalar(
                engine,
                "SELECT count(*) FROM event_outbox WHERE name = :n AND data->>'id' = :c "
                "AND status = 'released'",
                n=name,
                c=customer_id,
            )
            if n != want_events:
                problems.append(f"chain {k}: {n} released {name} events, expected {want_events}")
    staged = await scalar(engine, "SELECT count(*) FROM event_outbox WHERE status = 'staged'")
    if staged:
        problems.append(f"{staged} events still staged")
    return problems
