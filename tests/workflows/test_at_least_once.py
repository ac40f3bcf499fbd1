"""At-least-once delivery, exactly-once effects (DESIGN rule 1).

Every mutating activity the workflows use commits, then its first attempt fails as if the worker
had crashed before reporting (a run's first step: its local attempt, then attempt 1 of the
ordinary activity it is handed to); Temporal runs it again. The run completes, and the database
holds exactly one effect: one row, one membership, one event, one operation record.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from customer_service import CustomerModuleService
from tests.helpers import World, seed
from tests.workflows.conftest import Env, fail_first_attempt_after_commit
from tests.workflows.support import activity_records
from workflows import (
    CreateCustomerAccountWorkflow,
    CreateCustomerAddressesWorkflow,
    CreateCustomerGroupsWorkflow,
    CreateCustomersWorkflow,
    DeleteCustomerAddressesWorkflow,
    DeleteCustomerGroupsWorkflow,
    DeleteCustomersWorkflow,
    LinkCustomersToCustomerGroupWorkflow,
    RemoveCustomerAccountWorkflow,
    UpdateCustomerAddressesWorkflow,
    UpdateCustomerGroupsWorkflow,
    UpdateCustomersWorkflow,
)
from workflows import contracts as wm

Check = Callable[[Env, World, str, Any], Awaitable[None]]


async def outbox(env: Env, group: str, name: str, status: str | None = None) -> int:
    """Events of `name` staged by the run whose event group is `group`."""
    sql = "SELECT count(*) FROM event_outbox WHERE event_group_id = :g AND name = :n"
    if status is None:
        return await env.count(sql, g=group, n=name)
    return await env.count(sql + " AND status = :s", g=group, n=name, s=status)


async def operations(env: Env, name: str, **record: str) -> int:
    """Operation-log entries of one kind whose record has the given values."""
    sql = "SELECT count(*) FROM operation_log WHERE name = :n"
    for key in record:
        sql += f" AND result->>'{key}' = :{key}"
    return await env.count(sql, n=name, **record)


async def check_create_customers(env: Env, w: World, group: str, result: Any) -> None:
    assert await env.count("SELECT count(*) FROM customer WHERE email = 'once@example.com'") == 1
    customer_id = result.customers[0].id
    assert [a.city for a in result.customers[0].addresses] == ["Sintra"]
    assert await env.count(
        "SELECT count(*) FROM customer_address WHERE customer_id = :c", c=customer_id
    ) == 1  # fmt: skip
    assert await outbox(env, group, "customer.created", "released") == 1
    assert await outbox(env, group, "customer.customer.created") == 1
    assert await outbox(env, group, "customer.customer-address.created") == 1
    assert await operations(env, "create customers") == 1


async def check_update_customer(env: Env, w: World, group: str, result: Any) -> None:
    row = (await env.snapshot())["customer"]
    guest = next(r for r in row if r["id"] == w.guest)
    assert guest["first_name"] == "Ana Maria"
    assert guest["metadata"] == {"tier": "gold", "visits": 1}
    assert [c.first_name for c in result.customers] == ["Ana Maria"]
    assert await outbox(env, group, "customer.updated", "released") == 1
    assert await outbox(env, group, "customer.customer.updated") == 1
    assert await operations(env, "update", entity="customer") == 1


async def check_update_address(env: Env, w: World, group: str, result: Any) -> None:
    city = await env.count(
        "SELECT count(*) FROM customer_address WHERE id = :a AND city = 'Aveiro'",
        a=w.other_address,
    )
    assert city == 1
    assert [a.city for a in result.addresses] == ["Aveiro"]
    assert await outbox(env, group, "customer.customer-address.updated") == 1
    assert await operations(env, "update", entity="address") == 1


async def check_update_group(env: Env, w: World, group: str, result: Any) -> None:
    assert [g.name for g in result.groups] == ["VIP Gold"]
    assert await env.count("SELECT count(*) FROM customer_group WHERE name = 'VIP Gold'") == 1
    assert await outbox(env, group, "customer.customer-group.updated") == 1
    assert await operations(env, "update", entity="group") == 1


async def check_soft_delete_customers(env: Env, w: World, group: str, result: Any) -> None:
    deleted = await env.count(
        "SELECT count(*) FROM customer WHERE id = :c AND deleted_at IS NOT NULL", c=w.guest
    )
    assert deleted == 1
    addresses = await env.count(
        "SELECT count(*) FROM customer_address WHERE customer_id = :c AND deleted_at IS NOT NULL",
        c=w.guest,
    )
    assert addresses == 2
    assert await outbox(env, group, "customer.deleted", "released") == 1
    assert await outbox(env, group, "customer.customer.deleted") == 1
    assert await operations(env, "soft delete customers") == 1


async def check_remove_auth_identity(env: Env, w: World, group: str, result: Any) -> None:
    deleted = await env.count(
        "SELECT count(*) FROM customer WHERE id = :c AND deleted_at IS NOT NULL", c=w.registered
    )
    assert deleted == 1
    assert await env.count("SELECT count(*) FROM auth_identity WHERE id = :i", i="authid_rui") == 0
    assert await outbox(env, group, "customer.deleted", "released") == 1
    assert await operations(env, "remove auth identity", customer_id=w.registered) == 1


async def check_link_auth_identity(env: Env, w: World, group: str, result: Any) -> None:
    customer_id = result.customer.id
    linked = await env.count(
        "SELECT count(*) FROM auth_identity WHERE id = 'authid_new'"
        " AND app_metadata->>'customer_id' = :c",
        c=customer_id,
    )
    assert linked == 1
    assert await env.count("SELECT count(*) FROM customer WHERE has_account") == 2
    assert await outbox(env, group, "customer.created", "released") == 1
    assert await operations(env, "link auth identity", customer_id=customer_id) == 1


async def check_unset_defaults(env: Env, w: World, group: str, result: Any) -> None:
    new_id = result.addresses[0].id
    for flag in ("is_default_shipping", "is_default_billing"):
        holders = await env.count(
            f"SELECT count(*) FROM customer_address WHERE customer_id = :c AND {flag}", c=w.guest
        )
        assert holders == 1
        assert await env.count(
            f"SELECT count(*) FROM customer_address WHERE id = :a AND {flag}", a=new_id
        ) == 1  # fmt: skip
        assert await operations(env, "unset default addresses", flag=flag) == 1
    # One update event per flag step (the previous default lost each flag once).
    assert await outbox(env, group, "customer.customer-address.updated") == 2


async def check_create_addresses(env: Env, w: World, group: str, result: Any) -> None:
    assert await env.count(
        "SELECT count(*) FROM customer_address WHERE customer_id = :c", c=w.guest
    ) == 3  # fmt: skip
    assert await env.count("SELECT count(*) FROM customer_address WHERE city = 'Braga'") == 1
    assert await outbox(env, group, "customer.customer-address.created") == 1
    assert await operations(env, "create customer addresses") == 1


async def check_delete_addresses(env: Env, w: World, group: str, result: Any) -> None:
    assert await env.count(
        "SELECT count(*) FROM customer_address WHERE id = :a", a=w.other_address
    ) == 0  # fmt: skip
    assert await env.count(
        "SELECT count(*) FROM customer_address WHERE customer_id = :c", c=w.guest
    ) == 1  # fmt: skip
    assert await outbox(env, group, "customer.customer-address.deleted") == 1
    assert await operations(env, "delete customer addresses") == 1


async def check_create_groups(env: Env, w: World, group: str, result: Any) -> None:
    assert await env.count("SELECT count(*) FROM customer_group WHERE name = 'Once'") == 1
    assert await env.count("SELECT count(*) FROM customer_group") == 3
    assert await outbox(env, group, "customer.customer-group.created") == 1
    assert await operations(env, "create customer groups") == 1


async def check_soft_delete_groups(env: Env, w: World, group: str, result: Any) -> None:
    assert await env.count(
        "SELECT count(*) FROM customer_group WHERE id = :g AND deleted_at IS NOT NULL", g=w.group
    ) == 1  # fmt: skip
    assert await outbox(env, group, "customer.customer-group.deleted") == 1
    assert await operations(env, "soft delete customer groups") == 1


async def check_change_memberships(env: Env, w: World, group: str, result: Any) -> None:
    # The repeat reports what the first attempt did, not "nothing left to do".
    assert result.added == [(w.registered, w.group)]
    assert result.removed == [(w.guest, w.group)]
    members = await env.count(
        "SELECT count(*) FROM customer_group_customer WHERE customer_group_id = :g", g=w.group
    )
    assert members == 1
    assert await outbox(env, group, "customer.customer-group-customer.created") == 1
    assert await outbox(env, group, "customer.customer-group-customer.deleted") == 1
    assert await operations(env, "change memberships") == 1


async def check_release_events(env: Env, w: World, group: str, result: Any) -> None:
    assert await outbox(env, group, "customer.deleted", "released") == 1
    assert await env.count("SELECT count(*) FROM event_outbox WHERE name = 'customer.deleted'") == 1
    assert await env.count("SELECT count(*) FROM event_outbox WHERE status = 'staged'") == 0


@dataclass
class Case:
    activity: str
    workflow: Any
    make_input: Callable[[World], Any]
    check: Check


CASES = {
    "create_customers": Case(
        "create_customers",
        CreateCustomersWorkflow.run,
        lambda w: wm.CreateCustomersInput.model_validate(
            {"customers_data": [{"email": "once@example.com", "addresses": [{"city": "Sintra"}]}]}
        ),
        check_create_customers,
    ),
    "update_customers": Case(
        "update_customers",
        UpdateCustomersWorkflow.run,
        lambda w: wm.UpdateCustomersInput(
            selector={"id": w.guest}, update={"first_name": "Ana Maria", "metadata": {"visits": 1}}
        ),
        check_update_customer,
    ),
    "update_customer_addresses": Case(
        "update_customer_addresses",
        UpdateCustomerAddressesWorkflow.run,
        lambda w: wm.UpdateCustomerAddressesInput(
            selector={"id": w.other_address}, update={"city": "Aveiro"}
        ),
        check_update_address,
    ),
    "update_customer_groups": Case(
        "update_customer_groups",
        UpdateCustomerGroupsWorkflow.run,
        lambda w: wm.UpdateCustomerGroupsInput(
            selector={"id": w.group}, update={"name": "VIP Gold"}
        ),
        check_update_group,
    ),
    "soft_delete_customers": Case(
        "soft_delete_customers",
        DeleteCustomersWorkflow.run,
        lambda w: wm.DeleteCustomersInput(ids=[w.guest]),
        check_soft_delete_customers,
    ),
    "remove_auth_identity": Case(
        "remove_auth_identity",
        RemoveCustomerAccountWorkflow.run,
        lambda w: wm.RemoveCustomerAccountInput(customer_id=w.registered),
        check_remove_auth_identity,
    ),
    "link_auth_identity": Case(
        "link_auth_identity",
        CreateCustomerAccountWorkflow.run,
        lambda w: wm.CreateCustomerAccountInput.model_validate(
            {"auth_identity_id": "authid_new", "customer_data": {"email": "new@example.com"}}
        ),
        check_link_auth_identity,
    ),
    "unset_default_addresses": Case(
        "unset_default_addresses",
        CreateCustomerAddressesWorkflow.run,
        lambda w: wm.CreateCustomerAddressesInput.model_validate(
            {
                "addresses": [
                    {
                        "customer_id": w.guest,
                        "city": "Guarda",
                        "is_default_shipping": True,
                        "is_default_billing": True,
                    }
                ]
            }
        ),
        check_unset_defaults,
    ),
    "create_customer_addresses": Case(
        "create_customer_addresses",
        CreateCustomerAddressesWorkflow.run,
        lambda w: wm.CreateCustomerAddressesInput.model_validate(
            {"addresses": [{"customer_id": w.guest, "city": "Braga"}]}
        ),
        check_create_addresses,
    ),
    "delete_customer_addresses": Case(
        "delete_customer_addresses",
        DeleteCustomerAddressesWorkflow.run,
        lambda w: wm.DeleteCustomerAddressesInput(ids=[w.other_address]),
        check_delete_addresses,
    ),
    "create_customer_groups": Case(
        "create_customer_groups",
        CreateCustomerGroupsWorkflow.run,
        lambda w: wm.CreateCustomerGroupsInput.model_validate({"groups": [{"name": "Once"}]}),
        check_create_groups,
    ),
    "soft_delete_customer_groups": Case(
        "soft_delete_customer_groups",
        DeleteCustomerGroupsWorkflow.run,
        lambda w: wm.DeleteCustomerGroupsInput(ids=[w.group]),
        check_soft_delete_groups,
    ),
    "change_memberships": Case(
        "change_memberships",
        LinkCustomersToCustomerGroupWorkflow.run,
        lambda w: wm.LinkInput(id=w.group, add=[w.registered], remove=[w.guest]),
        check_change_memberships,
    ),
    # (remove-customer-account has two writes: its events are released by a step of their own)
    "release_events": Case(
        "release_events",
        RemoveCustomerAccountWorkflow.run,
        lambda w: wm.RemoveCustomerAccountInput(customer_id=w.registered),
        check_release_events,
    ),
}


def event_group(handle: Any) -> str:
    """The run's event group: its events are staged under "<workflow id>:<run id>"."""
    return f"{handle.id}:{handle.result_run_id}"


@pytest.mark.parametrize("name", list(CASES))
async def test_activity_repeated_after_commit_has_one_effect(
    env: Env, service: CustomerModuleService, name: str
) -> None:
    case = CASES[name]
    world = await seed(service)
    faulty = fail_first_attempt_after_commit(getattr(env.activities, case.activity))
    async with env.worker(**{case.activity: faulty}):
        handle = await env.start(case.workflow, case.make_input(world))
        result = await handle.result()
    # The fault really happened: each ordinary attempt 1 committed and failed, attempt 2 found
    # the commit. A run's first step runs locally first: that attempt committed and failed too,
    # and handed the step to an ordinary activity.
    runs = [
        (r.local, r.attempts_started, r.outcome)
        for r in await activity_records(handle)
        if r.name == case.activity
    ]
    local = [run for run in runs if run[0]]
    durable = [run for run in runs if not run[0]]
    assert durable and all(run == (False, [2], "completed") for run in durable), runs
    assert all(run == (True, [1], "failed") for run in local) and len(local) <= 1, runs
    await case.check(env, world, event_group(handle), result)


async def test_repeated_run_with_the_same_customer_id_creates_one_customer(
    env: Env, service: CustomerModuleService
) -> None:
    """A caller that retries the whole request with its own customer id gets the same customer
    back, not a second one (and no second `customer.created`)."""
    arg = wm.CreateCustomersInput.model_validate(
        {"customers_data": [{"id": "cus_caller_given_1", "email": "twice@example.com",
                             "addresses": [{"id": "cuaddr_caller_given_1", "city": "Tomar"}]}]}
    )  # fmt: skip
    async with env.worker():
        first = await env.execute(CreateCustomersWorkflow.run, arg)
        second = await env.execute(CreateCustomersWorkflow.run, arg)
    assert first.customers[0].id == second.customers[0].id == "cus_caller_given_1"
    assert second.customers[0].created_at == first.customers[0].created_at
    assert await env.count("SELECT count(*) FROM customer") == 1
    assert await env.count("SELECT count(*) FROM customer_address") == 1
    assert await env.count("SELECT count(*) FROM event_outbox WHERE name = 'customer.created'") == 1
