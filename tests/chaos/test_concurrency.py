"""Concurrency: 50 concurrent updates of one customer and 50 concurrent membership changes of one
group, some of each failing on purpose after their change committed (so their compensations race
the other runs). The end state must be one a serial order of the successful runs can reach, and
no compensation may overwrite another run's write: a failed run ends compensated or, when another
run wrote over its change, CompensationFailed — never silently clobbering."""

from __future__ import annotations

import asyncio
import random
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities import hooks as hook_points
from activities.customer_activities import CustomerActivities
from activities.hooks import HookRegistry
from customer_service import CustomerModuleService
from settings import Settings
from tests.chaos.support import (
    InFlight,
    Ledger,
    Run,
    assert_saga_statuses,
    invariant_violations,
    report,
    rows,
    slowed,
)
from tests.helpers import eventually
from triggers.client import CustomerFlows
from worker import build_worker

pytestmark = pytest.mark.chaos

RUNS = 50
# Updates come in five waves of ten concurrent runs, 1 s apart: a failed run's compensation
# sometimes finds its change untouched (compensated), sometimes written over (a conflict).
WAVE = 1.0


def _fails(i: int) -> bool:
    return i % 4 == 3


def _worker(client: Client, acts: dict[str, Any], task_queue: str) -> Any:
    """One in-process worker (its activities run concurrently: up to 64 at a time)."""
    return build_worker(client, list(acts.values()), Settings(), task_queue)


def _ended_as_allowed(run: Run, fails: bool, failure: str) -> bool:
    if not fails:
        return run.status == "completed"
    return run.status == "failed" and run.error_type in (failure, "CompensationFailed")


# --- 50 updates of one customer -------------------------------------------------------------------

_AUDIT = (
    "CREATE TABLE chaos_first_name_audit (seq bigserial PRIMARY KEY, customer_id text, "
    "old text, new text)",
    """CREATE FUNCTION chaos_audit_first_name() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF NEW.first_name IS DISTINCT FROM OLD.first_name THEN
           INSERT INTO chaos_first_name_audit (customer_id, old, new)
           VALUES (NEW.id, OLD.first_name, NEW.first_name);
         END IF;
         RETURN NEW;
       END $$""",
    "CREATE TRIGGER chaos_audit_first_name AFTER UPDATE ON customer FOR EACH ROW "
    "EXECUTE FUNCTION chaos_audit_first_name()",
)
_NO_AUDIT = (
    "DROP TRIGGER IF EXISTS chaos_audit_first_name ON customer",
    "DROP FUNCTION IF EXISTS chaos_audit_first_name()",
    "DROP TABLE IF EXISTS chaos_first_name_audit",
)


@asynccontextmanager
async def _first_name_audit(engine: AsyncEngine) -> AsyncIterator[None]:
    """Every change of a customer's first_name, in the order the row saw them (a row lock
    serialises the writers, and the trigger runs while holding it)."""
    async with engine.begin() as conn:
        for statement in (*_NO_AUDIT, *_AUDIT):
            await conn.execute(text(statement))
    try:
        yield
    finally:
        async with engine.begin() as conn:
            for statement in _NO_AUDIT:
                await conn.execute(text(statement))


async def test_concurrent_updates_of_one_customer(
    temporal_client: Client,
    chaos_service: CustomerModuleService,
    engine: AsyncEngine,
    chaos_hooks: HookRegistry,
) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    tag = uuid.uuid4().hex[:8]
    task_queue = f"chaos-upd-{tag}"
    service = chaos_service
    flows = CustomerFlows(temporal_client, Settings(task_queue=task_queue), service)
    customer = await service.create_customers({"email": f"hot-{tag}@example.com",
                                               "first_name": "Initial"})  # fmt: skip
    tracker = InFlight()
    acts = {a.__name__: a for a in CustomerActivities(service, chaos_hooks).all()}
    value = {i: f"Name-{i:02d}" for i in range(RUNS)}
    failing = {value[i] for i in range(RUNS) if _fails(i)}

    def write_delay(step: Any) -> float:
        # Within a wave the failing runs tend to write last: some of them are then undone
        # cleanly (last first, as a stack), the others find their value written over.
        late = step.update.get("first_name") in failing
        return rng.uniform(0.2, 0.4) if late else rng.uniform(0.0, 0.3)

    acts["update_customers"] = slowed(acts["update_customers"], write_delay, tracker)
    ledger = Ledger()

    async def update(i: int) -> Run:
        await asyncio.sleep(i // 10 * WAVE)
        data: dict[str, Any] = {
            "chaos_delay": 0.0 if _fails(i) else round(rng.uniform(0.0, 0.4), 2)
        }
        if _fails(i):
            data["chaos_fail"] = True
        return await ledger.call(
            "update customer", flows.start_update_customers, customer.id,
            {"first_name": value[i]}, additional_data=data, request_id=f"{tag}-{i}",
            expect="hook_failed" if _fails(i) else "completed",
        )  # fmt: skip

    async with _first_name_audit(engine):
        async with _worker(temporal_client, acts, task_queue):
            runs = await asyncio.wait_for(asyncio.gather(*(update(i) for i in range(RUNS))), 90)
            await assert_saga_statuses(ledger)
        audit = await rows(
            engine,
            "SELECT old, new FROM chaos_first_name_audit WHERE customer_id = :c ORDER BY seq",
            c=customer.id,
        )
    wrong = [r.request_id for i, r in enumerate(runs) if not _ended_as_allowed(r, _fails(i), "hook_failed")]  # fmt: skip
    assert wrong == [], [(r.request_id, r.status, r.error_type) for r in runs]

    # What each run's step replaced (its operation record), by the value it wrote.
    records = await rows(
        engine,
        "SELECT result FROM operation_log WHERE result ? 'written' AND result->'ids' ? :c",
        c=customer.id,
    )
    previous = {r.result["written"][0]["first_name"]: r.result["previous"][0]["first_name"]
                for r in records}  # fmt: skip
    assert sorted(previous) == sorted(value.values()), "every run's step ran exactly once"
    by_value = {value[i]: (i, r) for i, r in enumerate(runs)}

    # Replay the row's history. A value's first appearance is its run's write, replacing exactly
    # what that run recorded; any later transition must be a compensation that put back its own
    # run's previous value while the row still held that run's value — never another run's.
    seen: set[str] = set()
    undone: dict[str, int] = {}
    clobbers: list[str] = []
    overwritten: set[str] = set()  # values another run's write replaced
    for old, new in audit:
        if new in by_value and new not in seen:
            seen.add(new)
            overwritten.add(old)
            if previous[new] != old:
                clobbers.append(f"write {new}: replaced {old}, recorded {previous[new]}")
            continue
        run = by_value.get(old)
        if run is None or previous.get(old) != new:
            clobbers.append(f"{old} → {new} is no run's write and no run's own undo")
            continue
        undone[old] = undone.get(old, 0) + 1
    assert seen == set(value.values())
    assert clobbers == []
    for i, run in enumerate(runs):
        want = 1 if run.status == "failed" and run.error_type != "CompensationFailed" else 0
        assert undone.get(value[i], 0) == want, (run.request_id, run.error_type, undone)
    # A compensation that refused did so because another run had written over its value.
    compensation_failed = [(i, r) for i, r in enumerate(runs) if r.error_type == "CompensationFailed"]  # fmt: skip
    for i, run in compensation_failed:
        (failures,) = run.error.details  # type: ignore[union-attr]
        assert "first_name" in failures[0]["error"], failures
        assert value[i] in overwritten, f"{run.request_id} reported a conflict nobody caused"

    final = (await service.retrieve_customer(customer.id)).first_name
    assert final == (audit[-1].new if audit else "Initial")
    succeeded = {value[i] for i, r in enumerate(runs) if r.status == "completed"}
    unrestorable = {value[i] for i, _ in compensation_failed}
    # The final value is a successful run's (the last of a serial order), or the value of a run
    # whose compensation failed loudly because someone wrote over it.
    assert final in succeeded | unrestorable, final

    released = await rows(
        engine,
        "SELECT event_group_id FROM event_outbox WHERE name = 'customer.updated' "
        "AND status = 'released'",
    )
    completed_groups = {f"{r.handle.id}:{r.run_id}" for r in runs if r.status == "completed"}
    assert sorted(r.event_group_id for r in released) == sorted(completed_groups)
    violations = await invariant_violations(service, flows)
    report(
        "test_concurrent_updates_of_one_customer",
        runs=len(runs), succeeded=len(succeeded),
        compensated=sum(1 for r in runs if r.error_type == "hook_failed"),
        compensation_failed=len(compensation_failed), row_writes=len(audit),
        final_is_successful_run=final in succeeded,
        violations=len(violations) + len(clobbers), duplicates=0, seed=seed,
    )  # fmt: skip
    assert violations == []


# --- 50 membership changes of one group ----------------------------------------------------------


async def test_concurrent_membership_changes_of_one_group(
    temporal_client: Client, chaos_service: CustomerModuleService
) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    tag = uuid.uuid4().hex[:8]
    task_queue = f"chaos-link-{tag}"
    service = chaos_service
    assert not hook_points.registry.registered()
    flows = CustomerFlows(temporal_client, Settings(task_queue=task_queue), service)

    # Four kinds of customer: added only by successful runs (A), removed only by successful runs
    # (R), touched only by failing runs (F), both added and removed by successful runs (M).
    # Failing runs touch A, R and F customers.
    created = await service.create_customers(
        [{"email": f"m-{tag}-{i}@example.com", "first_name": f"{'ARFM'[i // 4]}{i % 4}"}
         for i in range(16)]
    )  # fmt: skip
    ids = [c.id for c in created if c.id]
    kinds = {k: ids[4 * n : 4 * n + 4] for n, k in enumerate("ARFM")}
    group = await service.create_customer_groups({"name": f"hot-{tag}"})
    assert group.id
    initial = {*kinds["A"][2:], *kinds["R"][:2], *kinds["F"][:2], *kinds["M"][:2]}
    await service.add_customer_to_group(
        [{"customer_id": c, "customer_group_id": group.id} for c in sorted(initial)]
    )

    plan: list[tuple[list[str], list[str]]] = []
    for i in range(RUNS):
        strict = kinds["A"] + kinds["R"] + kinds["F"]  # where a failed run's trace would show
        adds = strict if _fails(i) else kinds["A"] + kinds["M"]
        removes = strict if _fails(i) else kinds["R"] + kinds["M"]
        add = rng.sample(adds, rng.randint(1, 3))
        plan.append((add, rng.sample([c for c in removes if c not in add], rng.randint(0, 3))))
    ok = [i for i in range(RUNS) if not _fails(i)]
    for c in kinds["A"] + kinds["M"]:  # every A and M customer is added by a successful run
        if not any(c in plan[i][0] for i in ok):
            i = next(i for i in ok if c not in plan[i][1])
            plan[i][0].append(c)
    for c in kinds["R"] + kinds["M"]:  # every R and M customer is removed by a successful run
        if not any(c in plan[i][1] for i in ok):
            i = next(i for i in ok if c not in plan[i][0])
            plan[i][1].append(c)

    async def fail_if_planned() -> None:
        if "-fail-" in activity.info().workflow_id:
            raise ApplicationError("injected: downstream rejected the change",
                                   type="injected_failure", non_retryable=True)  # fmt: skip

    tracker = InFlight()
    acts = {a.__name__: a for a in CustomerActivities(service, hook_points.registry).all()}
    # Contended on purpose (a run starts every 50 ms, each holding its change for up to 0.2 s).
    # The change is the run's pivot and releases its events (no hook): once committed it stands,
    # so a planned failure comes before the commit; the failed run's compensation then fences
    # its operation off while other runs change the same pairs, and must leave their outcome.
    acts["change_memberships"] = slowed(
        acts["change_memberships"], lambda _: rng.uniform(0, 0.2), tracker, fail=fail_if_planned
    )
    ledger = Ledger()

    async def link(i: int) -> Run:
        await asyncio.sleep(i * 0.05)
        add, remove = plan[i]
        return await ledger.call(
            "link customers to group", flows.start_link_customers_to_group, group.id,
            add=add, remove=remove,
            request_id=f"{tag}-fail-{i}" if _fails(i) else f"{tag}-{i}",
            expect="injected_failure" if _fails(i) else "completed",
        )  # fmt: skip

    async with _worker(temporal_client, acts, task_queue):
        runs = await asyncio.wait_for(asyncio.gather(*(link(i) for i in range(RUNS))), 90)

        async def settled() -> bool:
            return tracker.running == 0

        await eventually(settled, within=15)
        await assert_saga_statuses(ledger)
    wrong = [r for i, r in enumerate(runs) if not _ended_as_allowed(r, _fails(i), "injected_failure")]  # fmt: skip
    assert wrong == [], [(r.request_id, r.status, r.error_type) for r in wrong]

    members = {m.customer_id for m in await service.list_customer_group_customers(
        {"customer_group_id": group.id})}  # fmt: skip
    cf = [i for i, r in enumerate(runs) if r.error_type == "CompensationFailed"]
    # A conflict is only ever reported for a pair the run changed and another run asked for
    # while the failed run was still going.
    for i in cf:
        pairs = re.findall(r"(cus_\w+)/" + group.id, str(runs[i].error))
        assert pairs, runs[i].error
        for c in pairs:
            assert c in plan[i][0] + plan[i][1], (runs[i].request_id, c)
            assert any(
                c in plan[j][0] + plan[j][1] and runs[j].started < runs[i].ended
                for j in range(RUNS)
                if j != i
            ), f"{runs[i].request_id}: conflict on {c} that no other run could cause"
    added_by = {c: {i for i in range(RUNS) if c in plan[i][0]} for c in ids}
    removed_by = {c: {i for i in range(RUNS) if c in plan[i][1]} for c in ids}
    label = {c: f"{k}{n}" for k, v in kinds.items() for n, c in enumerate(v)}
    ok_runs = {i for i, r in enumerate(runs) if r.status == "completed"}
    problems = []
    for c in ids:
        name = label[c]
        adds, removes = added_by[c] & ok_runs, removed_by[c] & ok_runs
        loud_adds, loud_removes = added_by[c] & set(cf), removed_by[c] & set(cf)
        member, was = c in members, c in initial
        # Only an add (or the initial state) can explain a member, only a remove a non-member;
        # a run whose compensation failed loudly may have left its change.
        if member and not (was or adds or loud_adds):
            problems.append(f"{name}: a member no successful run added")
        if not member and was and not (removes or loud_removes):
            problems.append(f"{name}: removed, but no successful run removed it")
        # Set semantics: successful adds and no successful removes → a member, and vice versa,
        # whatever the failed runs did (unless one of them failed loudly).
        if adds and not removes and not loud_removes and not member:
            problems.append(f"{name}: added by {sorted(adds)} (none removed it), not a member")
        if removes and not adds and not loud_adds and member:
            problems.append(f"{name}: removed by {sorted(removes)} (none added it), a member")
        # Failed runs leave no effect: touched by none of the successful runs → as it was.
        if not (adds | removes | loud_adds | loud_removes) and member != was:
            problems.append(f"{name}: only failed runs touched it, and it changed")
    violations = await invariant_violations(service, flows)
    report(
        "test_concurrent_membership_changes_of_one_group",
        runs=len(runs), succeeded=len(ok_runs),
        compensated=sum(1 for r in runs if r.error_type == "injected_failure"),
        compensation_failed=len(cf), members=len(members),
        violations=len(violations) + len(problems), duplicates=0, seed=seed,
    )  # fmt: skip
    assert problems == []
    assert violations == []
