"""Cancellation compensates too (DESIGN rule 5): a run cancelled while a later step is in flight
undoes its completed steps, in reverse, before it ends as cancelled; a step still in flight when
its compensation ran cannot commit afterwards (the compensation fenced its operation off)."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError, CancelledError

from activities.hooks import HookRegistry
from customer_service import CustomerModuleService
from tests.helpers import seed
from tests.workflows.conftest import Env, wrap
from tests.workflows.support import (
    COMPENSATIONS,
    Gate,
    activity_records,
    after_failure,
    assert_restored,
    failure_of,
    held,
    progress_of,
)
from workflows import (
    CreateCustomersWorkflow,
    LinkCustomersToCustomerGroupWorkflow,
    RemoveCustomerAccountWorkflow,
    UpdateCustomersWorkflow,
)
from workflows import contracts as wm


def gated_handler(gate: Gate) -> Any:
    """A hook handler that waits for `gate` to open."""

    async def handler(payload: dict[str, Any], additional_data: Any) -> None:
        gate.entered.set()
        await gate.opened.wait()
        gate.finished.set()

    return handler


async def cancel_when_held(env: Env, handle: Any, gate: Gate) -> Any:
    """Cancel the run once the gated step is in flight; returns the run's failure cause."""
    await asyncio.wait_for(gate.entered.wait(), 15)
    await handle.cancel()
    return await failure_of(handle)


async def test_cancel_while_releasing_events_restores_every_completed_step(
    env: Env, service: CustomerModuleService
) -> None:
    """remove-customer-account has soft-deleted the customer and deleted its auth identity;
    it is cancelled while its last step runs: both are undone, last first."""
    world = await seed(service)
    before = await env.snapshot()
    gate = Gate()
    async with env.worker(release_events=held(env.activities.release_events, gate)):
        try:
            handle = await env.start(
                RemoveCustomerAccountWorkflow.run,
                wm.RemoveCustomerAccountInput(customer_id=world.registered),
            )
            cause = await cancel_when_held(env, handle, gate)
            progress = await progress_of(handle)
        finally:
            gate.opened.set()
        await asyncio.wait_for(gate.finished.wait(), 15)

    assert isinstance(cause, CancelledError)
    assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
    names = [r.name for r in await activity_records(handle)]
    assert after_failure(names, "release_events") == [
        "undo_remove_auth_identity",
        "undo_soft_delete_customers",
        "discard_events",
    ]
    assert progress.status == "compensated"
    assert [s.state for s in progress.steps if s.step != "release_events"] == [
        "completed",  # list_customers: a read, nothing to undo
        "compensated",
        "compensated",
    ]
    # The held release ran after the discard: there was nothing left to publish.
    assert_restored(before, await env.snapshot())
    assert await env.count("SELECT count(*) FROM event_outbox WHERE name = 'customer.deleted'") == 0


async def test_cancel_while_a_hook_runs_restores_the_update(
    env: Env, service: CustomerModuleService, hooks: HookRegistry
) -> None:
    world = await seed(service)
    before = await env.snapshot()
    gate = Gate()

    hooks.register("customersUpdated", gated_handler(gate))
    async with env.worker():
        try:
            handle = await env.start(
                UpdateCustomersWorkflow.run,
                wm.UpdateCustomersInput(
                    selector={"id": world.guest},
                    update={"first_name": "Cancelled", "metadata": {"tier": ""}},
                ),
            )
            cause = await cancel_when_held(env, handle, gate)
        finally:
            gate.opened.set()
        await asyncio.wait_for(gate.finished.wait(), 15)

    assert isinstance(cause, CancelledError)
    names = [r.name for r in await activity_records(handle)]
    assert after_failure(names, "run_hook") == ["undo_update_customers", "discard_events"]
    assert_restored(before, await env.snapshot())


async def test_a_step_still_in_flight_when_cancelled_cannot_commit_later(
    env: Env, service: CustomerModuleService
) -> None:
    """The membership change is held before it touches the database; the run is cancelled and
    its compensation finds nothing to undo, so it fences the operation off. When the held
    attempt finally runs, it is refused (conflict) instead of committing behind the saga."""
    world = await seed(service)
    before = await env.snapshot()
    gate = Gate()
    async with env.worker(change_memberships=held(env.activities.change_memberships, gate)):
        try:
            handle = await env.start(
                LinkCustomersToCustomerGroupWorkflow.run,
                wm.LinkInput(id=world.group, add=[world.registered], remove=[world.guest]),
            )
            cause = await cancel_when_held(env, handle, gate)
        finally:
            gate.opened.set()
        await asyncio.wait_for(gate.finished.wait(), 15)

    assert isinstance(cause, CancelledError)
    names = [r.name for r in await activity_records(handle)]
    assert after_failure(names, "change_memberships") == [
        "undo_change_memberships",
        "discard_events",
    ]
    assert isinstance(gate.error, ApplicationError)
    assert gate.error.type == "conflict"
    assert "already compensated" in gate.error.message
    assert_restored(before, await env.snapshot())


async def test_cancel_during_compensation_lets_the_compensation_finish(
    env: Env, service: CustomerModuleService, hooks: HookRegistry
) -> None:
    """Compensations are shielded: cancelling a run that is already compensating neither
    interrupts the compensation in flight nor skips the ones after it."""
    world = await seed(service)
    before = await env.snapshot()
    gate = Gate()

    async def refuse(payload: dict[str, Any], additional_data: Any) -> None:
        raise RuntimeError("hook: injected failure")

    hooks.register("customersUpdated", refuse)
    replace = {"undo_update_customers": held(env.activities.undo_update_customers, gate)}
    async with env.worker(**replace):
        try:
            handle = await env.start(
                UpdateCustomersWorkflow.run,
                wm.UpdateCustomersInput(selector={"id": world.guest}, update={"last_name": "X"}),
            )
            await asyncio.wait_for(gate.entered.wait(), 15)
            await handle.cancel()
            await asyncio.sleep(0.3)  # let the cancellation reach the workflow first
        finally:
            gate.opened.set()
        cause = await failure_of(handle)
        progress = await progress_of(handle)
        await asyncio.wait_for(gate.finished.wait(), 15)

    assert gate.error is None
    assert cause.type == "hook_failed"
    records = await activity_records(handle)
    assert [(r.name, r.outcome) for r in records][-2:] == [
        ("undo_update_customers", "completed"),
        ("discard_events", "completed"),
    ]
    assert progress.status == "compensated"
    assert_restored(before, await env.snapshot())


async def test_cancel_while_the_local_first_step_hangs_lands_after_the_hand_over(
    env: Env, service: CustomerModuleService
) -> None:
    """update-customers is cancelled while its first step hangs as a local activity. The
    cancellation cannot reach the run inside its first workflow task; the local attempt is cut
    at its 5 s timeout (before it touched the database), the step is handed to an ordinary
    activity, the cancellation lands, and the compensation fences the operation off. Nothing
    changed."""
    world = await seed(service)
    before = await env.snapshot()
    gate = Gate()
    update = held(env.activities.update_customers, gate, local=True)
    async with env.worker(update_customers=update):
        handle = await env.start(
            UpdateCustomersWorkflow.run,
            wm.UpdateCustomersInput(selector={"id": world.guest}, update={"last_name": "Gone"}),
        )
        cause = await cancel_when_held(env, handle, gate)
        await asyncio.wait_for(gate.finished.wait(), 15)

    assert isinstance(cause, CancelledError)
    assert isinstance(gate.error, asyncio.CancelledError)  # cut before the real update ran
    records = await activity_records(handle)
    assert (records[0].name, records[0].local, records[0].outcome) == (
        "update_customers",
        True,
        "failed",
    )
    names = [r.name for r in records]
    assert after_failure(names, "update_customers") == ["undo_update_customers", "discard_events"]
    assert all(r.outcome == "completed" for r in records if r.name in COMPENSATIONS)
    assert_restored(before, await env.snapshot())
    assert await env.count("SELECT count(*) FROM event_outbox WHERE name = 'customer.updated'") == 0


async def test_cancel_during_the_first_task_after_the_pivot_committed_is_too_late(
    env: Env, service: CustomerModuleService
) -> None:
    """update-customers lists no hook, so its update is the pivot and releases the run's event in
    its own transaction (DESIGN rule 10). Here it commits in the run's first workflow task, then
    hangs: that task's result is lost (the local attempt is cut at its timeout), and the
    cancellation is already waiting when the step is handed over. The saga asks the pivot's
    compensation, which answers `released`: too late. The step runs again, finds its commit, and
    the run completes: nothing is compensated, the event stays released, once."""
    world = await seed(service)
    committed = asyncio.Event()

    async def hang_after_commit(arg: Any, result: Any) -> None:
        if activity.info().is_local:
            committed.set()
            await asyncio.sleep(60)  # cut at the local attempt's timeout

    async def slow_hand_over(arg: Any) -> None:
        if not activity.info().is_local:
            await asyncio.sleep(1)  # the cancellation reaches the run first

    update = wrap(env.activities.update_customers, slow_hand_over, hang_after_commit)
    async with env.worker(update_customers=update):
        handle = await env.start(
            UpdateCustomersWorkflow.run,
            wm.UpdateCustomersInput(selector={"id": world.guest}, update={"last_name": "Kept"}),
        )
        await asyncio.wait_for(committed.wait(), 15)
        await handle.cancel()
        result = await asyncio.wait_for(handle.result(), 30)
        progress = await progress_of(handle)
        description = await handle.describe()

    assert [c.last_name for c in result.customers] == ["Kept"]
    records = await activity_records(handle)
    steps = [(r.name, r.local, r.outcome) for r in records]
    assert steps[0] == ("update_customers", True, "failed")  # committed, its result lost
    undo = [r for r in records if r.name == "undo_update_customers"]
    # The compensation answered "released" (too late) at once: a business answer, not retried.
    assert [(r.attempts_started, r.outcome) for r in undo] == [([1], "failed")]
    assert steps[-1] == ("update_customers", False, "completed")  # found the commit
    assert "discard_events" not in [r.name for r in records]
    assert description.status == WorkflowExecutionStatus.COMPLETED
    assert progress.status == "completed"
    assert [s.state for s in progress.steps] == ["completed"]
    customer = await service.retrieve_customer(world.guest)
    assert customer.last_name == "Kept"
    sql = "SELECT count(*) FROM event_outbox WHERE name = 'customer.updated' AND status = :s"
    assert await env.count(sql, s="released") == 1
    assert await env.count(sql, s="staged") == 0


async def test_cancel_during_the_first_task_before_the_pivot_committed_compensates(
    env: Env, service: CustomerModuleService
) -> None:
    """The same run, cancelled while its pivot has not committed yet (the first task's local
    attempt hangs before the update): the pivot's compensation fences the operation off, so the
    late update is refused; the run ends cancelled, nothing changed, no event at all."""
    world = await seed(service)
    before = await env.snapshot()
    entered = asyncio.Event()

    async def hang_before_commit(arg: Any) -> None:
        entered.set()
        await asyncio.sleep(6 if activity.info().is_local else 1)

    update = wrap(env.activities.update_customers, before=hang_before_commit)
    async with env.worker(update_customers=update):
        handle = await env.start(
            UpdateCustomersWorkflow.run,
            wm.UpdateCustomersInput(selector={"id": world.guest}, update={"last_name": "Gone"}),
        )
        await asyncio.wait_for(entered.wait(), 15)
        await handle.cancel()
        cause = await failure_of(handle)
        progress = await progress_of(handle)

    assert isinstance(cause, CancelledError)
    assert progress.status == "compensated"
    names = [r.name for r in await activity_records(handle)]
    assert after_failure(names, "update_customers") == ["undo_update_customers", "discard_events"]
    assert_restored(before, await env.snapshot())
    assert await env.count("SELECT count(*) FROM event_outbox WHERE name = 'customer.updated'") == 0


async def test_cancel_after_a_hooked_runs_release_committed_is_too_late(
    env: Env, hooks: HookRegistry
) -> None:
    """DESIGN rule 10: once a run's events are released it completes; it never compensates.
    The hook step after the pivot has released them (its attempt then hangs, its result lost)
    when the run is cancelled: the pivot's compensation answers `released`, the hook step runs
    again and finds the release, and the run completes with its events."""
    called: list[int] = []

    async def accept(payload: dict[str, Any], additional_data: Any) -> None:
        called.append(1)

    hooks.register("customersCreated", accept)
    gate = Gate()

    async def hold_after_commit(arg: Any, result: Any) -> None:
        if not gate.entered.is_set():  # the first attempt only
            gate.entered.set()
            await gate.opened.wait()
            gate.finished.set()

    create = wm.CreateCustomersInput.model_validate(
        {"customers_data": [{"email": "late.cancel@example.com"}]}
    )
    async with env.worker(run_hook=wrap(env.activities.run_hook, after=hold_after_commit)):
        try:
            handle = await env.start(CreateCustomersWorkflow.run, create)
            await asyncio.wait_for(gate.entered.wait(), 15)
            await handle.cancel()
            result = await handle.result()
            progress = await progress_of(handle)
        finally:
            gate.opened.set()
        await asyncio.wait_for(gate.finished.wait(), 15)

    assert result.customers[0].email == "late.cancel@example.com"
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    assert progress.status == "completed"
    released = "SELECT count(*) FROM event_outbox WHERE name = 'customer.created'"
    assert await env.count(released + " AND status = 'released'") == 1
    assert await env.count("SELECT count(*) FROM customer") == 1
    names = [r.name for r in await activity_records(handle)]
    assert names == ["create_customers", "run_hook", "undo_create_customers", "run_hook"]
    assert len(called) == 2  # the step ran again: its handlers too (at least once)


async def test_cancel_while_the_hook_after_the_pivot_runs_compensates_and_releases_nothing(
    env: Env, hooks: HookRegistry
) -> None:
    """Cancelled while the handler runs, before the release: the create is undone, and the
    step, when its handler returns, finds the pivot compensated and releases nothing."""
    gate = Gate()

    hooks.register("customersCreated", gated_handler(gate))
    before = await env.snapshot()
    create = wm.CreateCustomersInput.model_validate(
        {"customers_data": [{"email": "early.cancel@example.com"}]}
    )
    async with env.worker():
        try:
            handle = await env.start(CreateCustomersWorkflow.run, create)
            cause = await cancel_when_held(env, handle, gate)
        finally:
            gate.opened.set()
        await asyncio.wait_for(gate.finished.wait(), 15)
        await asyncio.sleep(1.0)  # the step's release, after its handler, had its chance

    assert isinstance(cause, CancelledError)
    names = [r.name for r in await activity_records(handle)]
    assert after_failure(names, "run_hook") == ["undo_create_customers", "discard_events"]
    assert_restored(before, await env.snapshot())
    assert await env.count("SELECT count(*) FROM event_outbox") == 0
