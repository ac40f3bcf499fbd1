"""Business errors fail the run at once (DESIGN rule 6): the failing activity ran one attempt,
nothing was retried, the run fails with Medusa's error type and message, and nothing changed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType

from customer_service import CustomerModuleService
from tests.helpers import World, seed
from tests.workflows.conftest import Env
from tests.workflows.support import (
    COMPENSATIONS,
    activity_records,
    after_failure,
    assert_restored,
    failure_of,
)
from workflows import (
    CreateCustomerAccountWorkflow,
    CreateCustomerAddressesWorkflow,
    CreateCustomerGroupsWorkflow,
    CreateCustomersWorkflow,
    DeleteCustomerAddressesWorkflow,
    LinkCustomersToCustomerGroupWorkflow,
    UpdateCustomerGroupsWorkflow,
    UpdateCustomersWorkflow,
)
from workflows import contracts as wm


@dataclass
class Case:
    workflow: Any
    make_input: Callable[[World], Any]
    type: str
    message: Callable[[World], str]
    activity: str | None  # the activity that fails; None when the workflow itself rejects it


CASES = {
    "duplicate email (case-insensitive)": Case(
        CreateCustomersWorkflow.run,
        lambda w: wm.CreateCustomersInput.model_validate(
            {"customers_data": [{"email": "Ana.Guest@Example.com"}]}
        ),
        "invalid_data",
        lambda w: "Customer with email: Ana.Guest@Example.com, has_account: false, already exists.",
        "create_customers",
    ),
    "duplicate group name": Case(
        CreateCustomerGroupsWorkflow.run,
        lambda w: wm.CreateCustomerGroupsInput.model_validate({"groups": [{"name": "VIP"}]}),
        "invalid_data",
        lambda w: "Customer group with name: VIP, already exists.",
        "create_customer_groups",
    ),
    "account already registered": Case(
        CreateCustomerAccountWorkflow.run,
        lambda w: wm.CreateCustomerAccountInput.model_validate(
            {
                "auth_identity_id": "authid_other",
                "customer_data": {"email": "rui.member@example.com"},
            }
        ),
        "duplicate_error",
        lambda w: "Customer with this email already has an account",
        "validate_customer_account_creation",
    ),
    "update unknown customer": Case(
        UpdateCustomersWorkflow.run,
        lambda w: wm.UpdateCustomersInput(
            selector={"id": "cus_unknown"}, update={"first_name": "X"}
        ),
        "not_found",
        lambda w: 'Customer with id "cus_unknown" not found',
        "update_customers",
    ),
    "update group with a taken name": Case(
        UpdateCustomerGroupsWorkflow.run,
        lambda w: wm.UpdateCustomerGroupsInput(
            selector={"id": w.empty_group}, update={"name": "VIP"}
        ),
        "invalid_data",
        lambda w: "Customer group with name: VIP, already exists.",
        "update_customer_groups",
    ),
    "address for unknown customer": Case(
        CreateCustomerAddressesWorkflow.run,
        lambda w: wm.CreateCustomerAddressesInput.model_validate(
            {"addresses": [{"customer_id": "cus_unknown", "city": "Nowhere"}]}
        ),
        "not_found",
        lambda w: (
            "You tried to set relationship customer_id: cus_unknown, but such entity does not exist"
        ),
        "create_customer_addresses",
    ),
    "delete unknown address": Case(
        DeleteCustomerAddressesWorkflow.run,
        lambda w: wm.DeleteCustomerAddressesInput(ids=[w.other_address, "cuaddr_unknown"]),
        "not_found",
        lambda w: 'CustomerAddress with id "cuaddr_unknown" not found',
        "delete_customer_addresses",
    ),
    "link to unknown group": Case(
        LinkCustomersToCustomerGroupWorkflow.run,
        lambda w: wm.LinkInput(id="does-not-exist", add=[w.registered]),
        "not_found",
        lambda w: (
            "You tried to set relationship customer_group_id: does-not-exist, "
            "but such entity does not exist"
        ),
        "change_memberships",
    ),
    "update with a bad email": Case(
        UpdateCustomersWorkflow.run,
        lambda w: wm.UpdateCustomersInput(
            selector={"id": w.guest}, update={"email": "not-an-email"}
        ),
        "invalid_data",
        lambda w: "Invalid request: Invalid update.email: is not a valid email address",
        None,
    ),
    "update with an unknown field": Case(
        UpdateCustomersWorkflow.run,
        lambda w: wm.UpdateCustomersInput(selector={"id": w.guest}, update={"has_account": True}),
        "invalid_data",
        lambda w: "Invalid request: Unrecognized fields: 'update.has_account'",
        None,
    ),
}


@pytest.mark.parametrize("name", list(CASES))
async def test_business_error_fails_the_run_on_the_first_attempt(
    env: Env, service: CustomerModuleService, name: str
) -> None:
    case = CASES[name]
    world = await seed(service)
    before = await env.snapshot()
    async with env.worker():
        handle = await env.start(case.workflow, case.make_input(world))
        cause = await failure_of(handle)
    assert cause.type == case.type
    assert cause.message == case.message(world)
    assert cause.non_retryable
    # Medusa's error shape travels in the details too.
    if cause.details:
        assert cause.details[0]["type"] == case.type
        assert cause.details[0]["message"] == case.message(world)

    records = await activity_records(handle)
    # Nothing ran twice: every activity started exactly once, on attempt 1.
    assert all(r.attempts_started == [1] for r in records), records
    failed = [r.name for r in records if r.outcome == "failed"]
    assert failed == ([case.activity] if case.activity else [])
    if case.activity is None:
        # Rejected by the workflow itself: no write was scheduled at all.
        assert {r.name for r in records} <= {
            "list_customers",
            "list_customer_addresses",
            *COMPENSATIONS,
        }, records
    else:
        # After the failure only compensations ran (each a no-op here).
        assert set(after_failure([r.name for r in records], case.activity)) <= COMPENSATIONS
    assert_restored(before, await env.snapshot())


@pytest.mark.parametrize(
    ("workflow", "raw", "message"),
    [
        ("CreateCustomersWorkflow", {"customers_data": [{"email": "not-an-email"}]},
         "Invalid request: Invalid customers_data.0.email: is not a valid email address"),
        ("CreateCustomerGroupsWorkflow", {"groups": [{"name": "x", "colour": "red"}]},
         "Invalid request: Unrecognized fields: 'groups.0.colour'"),
        ("UpdateCustomersWorkflow", {"selector": "everyone"},
         "Invalid request: Expected type: 'record' for field 'selector', got: 'everyone'"),
    ],
)  # fmt: skip
async def test_a_start_that_bypasses_the_client_with_bad_input_fails_at_once(
    env: Env, workflow: str, raw: dict[str, Any], message: str
) -> None:
    """Input sent straight to Temporal (not through CustomerFlows, which validates first) that
    the workflow's input model rejects: the run fails at once with invalid_data naming the
    field, instead of its first workflow task failing and being retried without end."""
    before = await env.snapshot()
    async with env.worker():
        handle = await env.start(workflow, raw)
        cause = await asyncio.wait_for(failure_of(handle), 15)
    assert (cause.type, cause.non_retryable) == ("invalid_data", True)
    assert cause.message.startswith(message), cause.message
    assert cause.details[0]["field"] in message
    events = [e.event_type for e in (await handle.fetch_history()).events]
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in events
    assert await activity_records(handle) == []
    assert_restored(before, await env.snapshot())
