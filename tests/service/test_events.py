"""Events as outbox rows (SPEC §2.7, §4.15, decision 7): internal `customer.<model>.<action>`
events with `{id}` payloads, and workflow events staged per run, then released or discarded."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_service import AlreadyExistsError, CustomerModuleService
from customer_service.errors import ReleasedError
from tests.helpers import Seed, fetch, unchanged_after

S = CustomerModuleService


async def internal(s: S) -> list[tuple[str, Any]]:
    rows = await s.list_events(internal=True)
    for r in rows:
        assert r["status"] == "released" and r["event_group_id"] is None, r
    return [(r["name"], r["data"]) for r in rows]


def ids(value: Any) -> list[str]:
    return sorted(value if isinstance(value, list) else [value])


async def test_customer_events(service: S, engine: AsyncEngine) -> None:
    c = await service.create_customers(
        {"email": "e@example.com", "addresses": [{"city": "A"}, {"city": "B"}]}
    )
    a1, a2 = (a.id for a in c.addresses or [])
    assert await internal(service) == [
        ("customer.customer.created", {"id": c.id}),
        ("customer.customer-address.created", {"id": [a1, a2]}),
    ]
    await service.update_customers(c.id, {"first_name": "x"})
    await service.soft_delete_customers([c.id])
    await service.restore_customers(c.id)
    await service.delete_customers([c.id])
    assert (await internal(service))[2:] == [
        ("customer.customer.updated", {"id": c.id}),
        ("customer.customer.deleted", {"id": c.id}),
        ("customer.customer-address.deleted", {"id": [a1, a2]}),
        ("customer.customer.restored", {"id": c.id}),
        ("customer.customer-address.restored", {"id": [a1, a2]}),
        ("customer.customer.deleted", {"id": c.id}),
    ]


async def test_several_customers_aggregate_into_one_message(service: S) -> None:
    created = await service.create_customers([{"first_name": "a"}, {"first_name": "b"}])
    await service.update_customers({"first_name": {"$in": ["a", "b"]}}, {"last_name": "z"})
    events = await internal(service)
    assert [n for n, _ in events] == ["customer.customer.created", "customer.customer.updated"]
    for _, data in events:
        assert ids(data["id"]) == sorted(c.id for c in created)


async def test_address_group_and_membership_events(service: S, world: Seed) -> None:
    before = len(await internal(service))
    bob, home = world["bob"], world["home"]
    address = await service.create_customer_addresses({"customer_id": bob.id})
    await service.update_customer_addresses(home.id, {"city": "X"})
    await service.soft_delete_customer_addresses([address.id])
    await service.restore_customer_addresses([address.id])
    await service.delete_customer_addresses(address.id)
    group = await service.create_customer_groups({"name": "New"})
    await service.update_customer_groups(group.id, {"name": "Newer"})
    await service.soft_delete_customer_groups([group.id])
    await service.restore_customer_groups([group.id])
    link = await service.add_customer_to_group(
        {"customer_id": bob.id, "customer_group_id": group.id}
    )
    await service.soft_delete_customer_group_customers([link["id"]])
    await service.restore_customer_group_customers([link["id"]])
    await service.remove_customer_from_group({"customer_id": bob.id, "customer_group_id": group.id})
    await service.delete_customer_groups([group.id])
    assert (await internal(service))[before:] == [
        ("customer.customer-address.created", {"id": address.id}),
        ("customer.customer-address.updated", {"id": home.id}),
        ("customer.customer-address.deleted", {"id": address.id}),
        ("customer.customer-address.restored", {"id": address.id}),
        ("customer.customer-address.deleted", {"id": address.id}),
        ("customer.customer-group.created", {"id": group.id}),
        ("customer.customer-group.updated", {"id": group.id}),
        ("customer.customer-group.deleted", {"id": group.id}),
        ("customer.customer-group.restored", {"id": group.id}),
        ("customer.customer-group-customer.created", {"id": link["id"]}),
        ("customer.customer-group-customer.deleted", {"id": link["id"]}),
        ("customer.customer-group-customer.restored", {"id": link["id"]}),
        ("customer.customer-group-customer.deleted", {"id": link["id"]}),
        ("customer.customer-group.deleted", {"id": group.id}),
    ]


async def test_nothing_changed_means_no_event(service: S, world: Seed) -> None:
    before = await internal(service)
    await service.soft_delete_customers([world["bob"].id])
    after_first = await internal(service)
    await service.soft_delete_customers([world["bob"].id])  # already deleted
    await service.restore_customer_groups([world["group"].id])  # not deleted
    await service.update_customers({"first_name": "Nobody"}, {"phone": "1"})  # matches nothing
    await service.delete_customers(["cus_none"])
    await service.remove_customer_from_group(
        {"customer_id": world["bob"].id, "customer_group_id": world["group"].id}
    )
    assert len(after_first) == len(before) + 1
    assert await internal(service) == after_first


async def test_a_failed_write_leaves_no_event(service: S, world: Seed, engine: AsyncEngine) -> None:
    await unchanged_after(
        engine,
        lambda: service.create_customers(
            [{"email": "fine@example.com"}, {"email": "ann@example.com"}],
            {"event_group_id": "run-x"},
        ),
        AlreadyExistsError,
    )
    assert await service.list_events(event_group_id="run-x") == []


# --- workflow events -------------------------------------------------------------------------


async def workflow_events(s: S, group: str) -> list[tuple[str, Any, str]]:
    rows = await s.list_events(event_group_id=group, internal=False)
    return [(r["name"], r["data"], r["status"]) for r in rows]


async def test_workflow_events_are_staged_one_per_id_then_released(service: S) -> None:
    run = {"event_group_id": "run-1"}
    a, b = await service.create_customers([{"first_name": "a"}, {"first_name": "b"}], run)
    await service.update_customers_tracked([a.id, b.id], {"last_name": "x"}, run)
    await service.soft_delete_customers([a.id], run)
    staged = [
        ("customer.created", {"id": a.id}, "staged"),
        ("customer.created", {"id": b.id}, "staged"),
        ("customer.updated", {"id": a.id}, "staged"),
        ("customer.updated", {"id": b.id}, "staged"),
        ("customer.deleted", {"id": a.id}, "staged"),
    ]
    assert await workflow_events(service, "run-1") == staged
    assert await service.list_events(status="released", internal=False) == []
    # the module's internal events of the run wait with it
    assert all(e["status"] == "staged" for e in await service.list_events(event_group_id="run-1"))

    total = len(await service.list_events(event_group_id="run-1"))
    assert await service.release_events("run-1") == total
    assert await service.release_events("run-1") == 0  # repeat-safe
    assert await workflow_events(service, "run-1") == [(n, d, "released") for n, d, _ in staged]
    assert await service.discard_events("run-1") == 0  # released events stay released
    assert len(await service.list_events(event_group_id="run-1", status="released")) == total


async def test_without_an_event_group_no_workflow_event_is_written(service: S) -> None:
    c = await service.create_customers({"first_name": "a"})
    await service.update_customers(c.id, {"last_name": "b"})
    await service.soft_delete_customers([c.id])
    assert await service.list_events(internal=False) == []


async def test_discarded_runs_publish_nothing(service: S, engine: AsyncEngine) -> None:
    kept = await service.create_customers({"first_name": "kept"}, {"event_group_id": "run-ok"})
    ctx = {"event_group_id": "run-bad", "operation_id": "op-bad"}
    bad = await service.create_customers({"first_name": "bad"}, ctx)
    assert await service.undo_create_customers("op-bad") is True
    discarded = await service.discard_events("run-bad")
    assert discarded == 2  # customer.created and the internal customer.customer.created
    assert await service.discard_events("run-bad") == 0  # repeat-safe
    assert await service.release_events("run-bad") == 0  # nothing left to release
    assert await service.list_events(event_group_id="run-bad") == []
    # the other run is untouched
    assert [e["status"] for e in await service.list_events(event_group_id="run-ok")] == [
        "staged",
        "staged",
    ]
    released = await fetch(engine, "SELECT data FROM event_outbox WHERE status = 'released'")
    assert all(bad.id not in str(r["data"]) for r in released)
    assert kept.id


async def test_a_pivot_releases_the_runs_events_in_its_own_transaction(service: S) -> None:
    """`release` (the run's pivot, DESIGN rule 10): the write releases every event its run has
    staged so far, its own included, and records itself as `released`; a repeat returns its
    record; its compensation answers too late (`released`) and changes nothing."""
    run = {"event_group_id": "run-pivot"}
    (a,) = await service.create_customers([{"first_name": "a"}], {**run, "operation_id": "op_c"})
    pivot = {**run, "operation_id": "op_pivot", "release": True}
    updated = await service.update_customers_tracked([a.id], {"last_name": "x"}, pivot)
    assert [(n, s) for n, _, s in await workflow_events(service, "run-pivot")] == [
        ("customer.created", "released"),
        ("customer.updated", "released"),
    ]
    assert await service.list_events(event_group_id="run-pivot", status="staged") == []
    again = await service.update_customers_tracked([a.id], {"last_name": "y"}, pivot)
    assert [c.last_name for c in again.rows] == [c.last_name for c in updated.rows] == ["x"]
    assert len(await service.list_events(event_group_id="run-pivot", internal=False)) == 2

    with pytest.raises(ReleasedError) as err:
        await service.undo_update_customers("op_pivot")
    assert err.value.type == "released" and err.value.field == "operation_id"
    assert (await service.retrieve_customer(a.id)).last_name == "x"
