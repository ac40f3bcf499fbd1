"""The auth identity as saga steps (SPEC §4.7, §4.8): registration links the identity, removal
deletes it (or only unlinks it when an admin user shares it), and a failed run undoes both."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from customer_service import CustomerModuleService
from tests.helpers import fetch, seed
from tests.workflows.conftest import Env, fail_for_good
from tests.workflows.support import activity_records, after_failure, assert_restored, failure_of
from workflows import CreateCustomerAccountWorkflow, RemoveCustomerAccountWorkflow
from workflows import contracts as wm


async def identity(env: Env, identity_id: str) -> dict[str, Any] | None:
    rows = await fetch(env.engine, "SELECT * FROM auth_identity WHERE id = :i", i=identity_id)
    return rows[0] if rows else None


async def write(env: Env, sql: str) -> None:
    async with env.engine.begin() as conn:
        await conn.execute(text(sql))


def register(email: str = "new.member@example.com") -> wm.CreateCustomerAccountInput:
    return wm.CreateCustomerAccountInput.model_validate(
        {"auth_identity_id": "authid_new", "customer_data": {"email": email}}
    )


async def test_registration_links_the_identity(env: Env, service: CustomerModuleService) -> None:
    await seed(service)
    async with env.worker():
        result = await env.execute(CreateCustomerAccountWorkflow.run, register())
    row = await identity(env, "authid_new")
    assert row is not None and row["app_metadata"] == {"customer_id": result.customer.id}
    assert result.customer.has_account and result.customer.auth_identity_id == "authid_new"


async def test_an_identity_linked_to_another_customer_fails_and_compensates(
    env: Env, service: CustomerModuleService
) -> None:
    """Medusa's set-auth-app-metadata refuses a second customer on one identity: the customer
    created by this run is deleted again and the other link stays."""
    world = await seed(service)
    await write(
        env,
        "UPDATE auth_identity SET app_metadata = jsonb_build_object('customer_id', "
        f"'{world.guest}') WHERE id = 'authid_new'",
    )
    before = await env.snapshot()
    async with env.worker():
        handle = await env.start(CreateCustomerAccountWorkflow.run, register())
        cause = await failure_of(handle)
    assert (cause.type, cause.message) == (
        "invalid_data",
        "Key customer_id already exists in app metadata",
    )
    names = [r.name for r in await activity_records(handle)]
    assert after_failure(names, "link_auth_identity") == [
        "undo_link_auth_identity",
        "undo_create_customers",
        "discard_events",
    ]
    assert_restored(before, await env.snapshot())
    row = await identity(env, "authid_new")
    assert row is not None and row["app_metadata"] == {"customer_id": world.guest}


async def test_removal_deletes_the_identity_so_the_email_is_free(
    env: Env, service: CustomerModuleService
) -> None:
    world = await seed(service)
    async with env.worker():
        await env.execute(
            RemoveCustomerAccountWorkflow.run,
            wm.RemoveCustomerAccountInput(customer_id=world.registered),
        )
    assert await identity(env, "authid_rui") is None
    # the soft-deleted row keeps the identity it registered with
    [row] = await fetch(env.engine, "SELECT * FROM customer WHERE id = :c", c=world.registered)
    assert row["deleted_at"] is not None and row["auth_identity_id"] == "authid_rui"


async def test_removal_only_unlinks_an_identity_an_admin_user_shares(
    env: Env, service: CustomerModuleService
) -> None:
    world = await seed(service)
    await write(
        env,
        'UPDATE auth_identity SET app_metadata = app_metadata || \'{"user_id": "user_1"}\''
        " WHERE id = 'authid_rui'",
    )
    async with env.worker():
        await env.execute(
            RemoveCustomerAccountWorkflow.run,
            wm.RemoveCustomerAccountInput(customer_id=world.registered),
        )
    row = await identity(env, "authid_rui")
    assert row is not None and row["app_metadata"] == {"user_id": "user_1"}


async def test_a_failed_removal_re_creates_the_identity_with_its_id_and_hash(
    env: Env, service: CustomerModuleService
) -> None:
    world = await seed(service)
    before = await env.snapshot()
    failing = fail_for_good(env.activities.release_events, after_commit=False)
    async with env.worker(release_events=failing):
        handle = await env.start(
            RemoveCustomerAccountWorkflow.run,
            wm.RemoveCustomerAccountInput(customer_id=world.registered),
        )
        await failure_of(handle)
    # the snapshot holds auth_identity: same id, email, password hash, app_metadata, times
    assert_restored(before, await env.snapshot())
    assert await identity(env, "authid_rui") is not None


async def test_a_registered_customer_without_identity_is_not_found_and_restored(
    env: Env, service: CustomerModuleService
) -> None:
    world = await seed(service)
    await write(env, "DELETE FROM auth_identity WHERE id = 'authid_rui'")
    before = await env.snapshot()
    async with env.worker():
        handle = await env.start(
            RemoveCustomerAccountWorkflow.run,
            wm.RemoveCustomerAccountInput(customer_id=world.registered),
        )
        cause = await failure_of(handle)
    assert (cause.type, cause.message) == ("not_found", "Auth identity not found")
    assert_restored(before, await env.snapshot())
