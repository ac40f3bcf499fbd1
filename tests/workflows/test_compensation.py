"""Every workflow, every step failing for good: the run fails with the original error, the
completed steps are compensated in reverse order, and the database is as it was before the run.

A mutating step fails *after its commit* (the hardest case: its own compensation must undo it),
but for a run's pivot that releases its events (no hook listed): it fails before its commit; a
hook point fails through a registered handler; a final event release fails before it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError

from activities.hooks import HookRegistry
from customer_service import CustomerModuleService
from tests.helpers import World, seed
from tests.workflows.conftest import Env, fail_first_attempt_after_commit, fail_for_good, wrap
from tests.workflows.support import (
    activity_records,
    after_failure,
    assert_restored,
    failure_of,
    progress_of,
)
from workflows import (
    CreateCustomerAccountWorkflow,
    CreateCustomerAddressesWorkflow,
    CreateCustomerGroupsWorkflow,
    CreateCustomersWorkflow,
    DeleteCustomerAddressesWorkflow,
    DeleteCustomerGroupsWorkflow,
    DeleteCustomersWorkflow,
    LinkCustomerGroupsToCustomerWorkflow,
    LinkCustomersToCustomerGroupWorkflow,
    RemoveCustomerAccountWorkflow,
    UpdateCustomerAddressesWorkflow,
    UpdateCustomerGroupsWorkflow,
    UpdateCustomersWorkflow,
)
from workflows import contracts as wm

DISCARD = "discard_events"


@dataclass
class Flow:
    workflow: Any
    make_input: Callable[[World], Any]
    # forward step → the compensations scheduled after it fails, in order. Without a
    # "release_events" entry, the run's last step is its pivot, which releases its events.
    compensations: dict[str, list[str]]
    # hook point → the compensations scheduled after its handler fails
    hooks: dict[str, list[str]] = field(default_factory=dict)


FLOWS: dict[str, Flow] = {
    "create_customers": Flow(
        CreateCustomersWorkflow.run,
        lambda w: wm.CreateCustomersInput.model_validate(
            {
                "customers_data": [
                    {
                        "email": "new.person@example.com",
                        "first_name": "New",
                        "addresses": [{"city": "Evora", "is_default_billing": True}],
                    },
                    {"email": "second.person@example.com"},
                ]
            }
        ),
        {
            "create_customers": ["undo_create_customers", DISCARD],
        },
        hooks={"customersCreated": ["undo_create_customers", DISCARD]},
    ),
    "update_customers": Flow(
        UpdateCustomersWorkflow.run,
        lambda w: wm.UpdateCustomersInput(
            selector={"id": w.guest},
            update={
                "first_name": "Ana Maria",
                "company_name": "NewCo",
                "phone": "+351 1",
                "email": "ana.new@example.com",
                "metadata": {"tier": "", "vip": True},
            },
        ),
        {
            "update_customers": ["undo_update_customers", DISCARD],
        },
        hooks={"customersUpdated": ["undo_update_customers", DISCARD]},
    ),
    "delete_customers": Flow(
        DeleteCustomersWorkflow.run,
        lambda w: wm.DeleteCustomersInput(ids=[w.guest, w.registered]),
        {
            "soft_delete_customers": ["undo_soft_delete_customers", DISCARD],
        },
        hooks={"customersDeleted": ["undo_soft_delete_customers", DISCARD]},
    ),
    "create_customer_account": Flow(
        CreateCustomerAccountWorkflow.run,
        # Registering next to an existing guest record is allowed (SPEC §4.7).
        lambda w: wm.CreateCustomerAccountInput.model_validate(
            {
                "auth_identity_id": "authid_new",
                "customer_data": {"email": "ana.guest@example.com", "first_name": "Ana"},
            }
        ),
        {
            "validate_customer_account_creation": [DISCARD],
            "create_customers": ["undo_create_customers", DISCARD],
            "link_auth_identity": [
                "undo_link_auth_identity",
                "undo_create_customers",
                DISCARD,
            ],
        },
        hooks={"customersCreated": ["undo_create_customers", DISCARD]},
    ),
    "remove_customer_account": Flow(
        RemoveCustomerAccountWorkflow.run,
        lambda w: wm.RemoveCustomerAccountInput(customer_id=w.registered),
        {
            "list_customers": [DISCARD],
            "soft_delete_customers": ["undo_soft_delete_customers", DISCARD],
            "remove_auth_identity": [
                "undo_remove_auth_identity",
                "undo_soft_delete_customers",
                DISCARD,
            ],
            "release_events": [
                "undo_remove_auth_identity",
                "undo_soft_delete_customers",
                DISCARD,
            ],
        },
        hooks={"customersDeleted": ["undo_soft_delete_customers", DISCARD]},
    ),
    "create_customer_addresses": Flow(
        CreateCustomerAddressesWorkflow.run,
        lambda w: wm.CreateCustomerAddressesInput.model_validate(
            {
                "addresses": [
                    {
                        "customer_id": w.guest,
                        "city": "Braga",
                        "is_default_shipping": True,
                        "is_default_billing": True,
                    },
                    {"customer_id": w.registered, "city": "Beja", "is_default_shipping": True},
                ]
            }
        ),
        {
            "unset_default_addresses": [
                "undo_unset_default_addresses",
                "undo_unset_default_addresses",
                DISCARD,
            ],
            "create_customer_addresses": [
                "undo_create_customer_addresses",
                "undo_unset_default_addresses",
                "undo_unset_default_addresses",
                DISCARD,
            ],
        },
        hooks={
            "addressesCreated": [
                "undo_create_customer_addresses",
                "undo_unset_default_addresses",
                "undo_unset_default_addresses",
                DISCARD,
            ]
        },
    ),
    "update_customer_addresses": Flow(
        UpdateCustomerAddressesWorkflow.run,
        lambda w: wm.UpdateCustomerAddressesInput(
            selector={"id": w.other_address},
            update={"is_default_shipping": True, "city": "Coimbra", "metadata": {"door": 2}},
        ),
        {
            "list_customer_addresses": [DISCARD],
            "unset_default_addresses": ["undo_unset_default_addresses", DISCARD],
            "update_customer_addresses": [
                "undo_update_customer_addresses",
                "undo_unset_default_addresses",
                DISCARD,
            ],
        },
        hooks={
            "addressesUpdated": [
                "undo_update_customer_addresses",
                "undo_unset_default_addresses",
                DISCARD,
            ]
        },
    ),
    "delete_customer_addresses": Flow(
        DeleteCustomerAddressesWorkflow.run,
        lambda w: wm.DeleteCustomerAddressesInput(ids=[w.default_address, w.registered_address]),
        {
            "delete_customer_addresses": ["undo_delete_customer_addresses", DISCARD],
        },
        hooks={"addressesDeleted": ["undo_delete_customer_addresses", DISCARD]},
    ),
    "create_customer_groups": Flow(
        CreateCustomerGroupsWorkflow.run,
        lambda w: wm.CreateCustomerGroupsInput.model_validate(
            {"groups": [{"name": "Newsletter"}, {"name": "Partners", "metadata": {"a": 1}}]}
        ),
        {
            "create_customer_groups": ["undo_create_customer_groups", DISCARD],
        },
    ),
    "update_customer_groups": Flow(
        UpdateCustomerGroupsWorkflow.run,
        lambda w: wm.UpdateCustomerGroupsInput(
            selector={"id": [w.group, w.empty_group]}, update={"metadata": {"level": 2}}
        ),
        {
            "update_customer_groups": ["undo_update_customer_groups", DISCARD],
        },
    ),
    "delete_customer_groups": Flow(
        DeleteCustomerGroupsWorkflow.run,
        lambda w: wm.DeleteCustomerGroupsInput(ids=[w.group, w.empty_group]),
        {
            "soft_delete_customer_groups": ["undo_soft_delete_customer_groups", DISCARD],
        },
    ),
    "link_customers_to_customer_group": Flow(
        LinkCustomersToCustomerGroupWorkflow.run,
        lambda w: wm.LinkInput(id=w.group, add=[w.registered], remove=[w.guest]),
        {
            "change_memberships": ["undo_change_memberships", DISCARD],
        },
    ),
    "link_customer_groups_to_customer": Flow(
        LinkCustomerGroupsToCustomerWorkflow.run,
        lambda w: wm.LinkInput(id=w.guest, add=[w.empty_group], remove=[w.group]),
        {
            "change_memberships": ["undo_change_memberships", DISCARD],
        },
    ),
}


def _cases() -> list[Any]:
    cases = []
    for flow_name, flow in FLOWS.items():
        for step in flow.compensations:
            cases.append(pytest.param(flow_name, "activity", step, id=f"{flow_name}-{step}"))
        for hook in flow.hooks:
            cases.append(pytest.param(flow_name, "hook", hook, id=f"{flow_name}-{hook}"))
    return cases


def test_every_workflow_is_covered() -> None:
    from workflows import ALL_WORKFLOWS

    covered = {f.workflow.__qualname__.split(".")[0] for f in FLOWS.values()}
    # Not sagas, nothing to compensate: tests/events and tests/workflows/test_bulk.py cover them.
    not_sagas = {"EventRelayWorkflow", "DeliverEventsWorkflow"}
    not_sagas |= {"InvariantCheckWorkflow", "RetentionWorkflow", "EraseCustomerWorkflow"}
    not_sagas |= {"ImportCustomersWorkflow", "ExportCustomersWorkflow"}
    assert covered == {w.__name__ for w in ALL_WORKFLOWS} - not_sagas


class HookRefused(Exception):
    pass


async def _refuse(payload: dict[str, Any], additional_data: dict[str, Any] | None) -> None:
    raise HookRefused("the hook handler refuses")


@pytest.mark.parametrize(("flow_name", "kind", "target"), _cases())
async def test_failing_step_compensates_everything_in_reverse(
    env: Env, service: CustomerModuleService, hooks: HookRegistry,
    flow_name: str, kind: str, target: str,
) -> None:  # fmt: skip
    flow = FLOWS[flow_name]
    world = await seed(service)
    replace: dict[str, Any] = {}
    if kind == "hook":
        hooks.register(target, _refuse)
        failing, expected_type, expected_message = "run_hook", "hook_failed", "handler _refuse"
        compensations = flow.hooks[target]
    elif target == "release_events":
        # The release is the last step; after its commit the run has succeeded.
        replace[target] = fail_for_good(env.activities.release_events, after_commit=False)
        failing, expected_type, expected_message = target, "injected_failure", "injected failure"
        compensations = flow.compensations[target]
    elif "release_events" not in flow.compensations and target == list(flow.compensations)[-1]:
        # A pivot that commits releases the run's events: it stands, and a retry finds it
        # (test_at_least_once). So it fails for good only without committing.
        replace[target] = fail_for_good(getattr(env.activities, target), after_commit=False)
        failing, expected_type, expected_message = target, "injected_failure", "injected failure"
        compensations = flow.compensations[target]
    else:
        replace[target] = fail_for_good(getattr(env.activities, target), after_commit=True)
        failing, expected_type, expected_message = target, "injected_failure", "injected failure"
        compensations = flow.compensations[target]

    before = await env.snapshot()
    async with env.worker(**replace):
        handle = await env.start(flow.workflow, flow.make_input(world))
        cause = await failure_of(handle)
        progress = await progress_of(handle)

    assert cause.type == expected_type
    assert expected_message in cause.message
    records = await activity_records(handle)
    names = [r.name for r in records]
    assert after_failure(names, failing) == compensations
    assert all(r.outcome == "completed" for r in records if r.name in compensations)
    assert_restored(before, await env.snapshot())
    # Nothing is left staged or published for the run.
    assert await env.count("SELECT count(*) FROM event_outbox WHERE status <> 'released'") == 0

    assert progress.status == "compensated"
    failed = [s for s in progress.steps if s.error]
    assert {s.step for s in failed} == {failing}
    assert expected_message in (failed[0].error or "")
    undone = [s for s in progress.steps if s.state == "compensated"]
    assert len(undone) == len([c for c in compensations if c != DISCARD])
    assert {s.state for s in progress.steps} <= {"compensated", "failed", "completed"}


async def test_parallel_default_flag_steps_are_undone_last_registered_first(
    env: Env, service: CustomerModuleService
) -> None:
    """create-customer-addresses unsets the shipping and billing defaults in parallel; when only
    the billing one fails (after its commit), both are given back, billing first (registered
    last), and the flags are where they were."""
    world = await seed(service)

    async def fail_billing(arg: Any, result: Any) -> None:
        if arg.flag == "is_default_billing":
            raise ApplicationError(
                "unset billing: injected failure", type="injected_failure", non_retryable=True
            )

    flow = FLOWS["create_customer_addresses"]
    before = await env.snapshot()
    flaky = wrap(env.activities.unset_default_addresses, after=fail_billing)
    async with env.worker(unset_default_addresses=flaky):
        handle = await env.start(flow.workflow, flow.make_input(world))
        cause = await failure_of(handle)
    assert cause.type == "injected_failure"
    records = await activity_records(handle)
    assert [r.summary for r in records if r.name == "undo_unset_default_addresses"] == [
        "compensate: restore previous default billing address",
        "compensate: restore previous default shipping address",
    ]
    assert "create_customer_addresses" not in [r.name for r in records]
    assert_restored(before, await env.snapshot())


async def test_a_compensation_that_commits_then_fails_is_retried_and_undoes_once(
    env: Env, service: CustomerModuleService, hooks: HookRegistry
) -> None:
    """Compensations retry on infrastructure errors with their own policy, and a repeat after
    a commit is a no-op: the update is reverted exactly once."""
    world = await seed(service)
    hooks.register("customersUpdated", _refuse)
    before = await env.snapshot()
    replace = {
        "undo_update_customers": fail_first_attempt_after_commit(
            env.activities.undo_update_customers
        ),
    }
    async with env.worker(**replace):
        handle = await env.start(
            UpdateCustomersWorkflow.run,
            wm.UpdateCustomersInput(
                selector={"id": world.guest},
                update={"first_name": "Once", "metadata": {"n": 1}},
                hooks=["customersUpdated"],
            ),
        )
        cause = await failure_of(handle)
    assert cause.type == "hook_failed"
    revert = [r for r in await activity_records(handle) if r.name == "undo_update_customers"]
    assert [(r.attempts_started, r.outcome) for r in revert] == [([2], "completed")]
    assert_restored(before, await env.snapshot())
