"""Group memberships (SPEC §2.2, decision 2: membership is a set)."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_service import CustomerModuleService, NotFoundError
from tests.helpers import Seed, counts, scalar, unchanged_after


async def test_add_returns_membership_ids_one_or_many(
    service: CustomerModuleService, world: Seed, engine: AsyncEngine
) -> None:
    bob, group = world["bob"], world["group"]
    other = await service.create_customer_groups({"name": "Other"})
    one = await service.add_customer_to_group(
        {"customer_id": bob.id, "customer_group_id": group.id}
    )
    assert set(one) == {"id"}
    member = await service.retrieve_customer_group_customer(one["id"])
    assert (member.customer_id, member.customer_group_id) == (bob.id, group.id)
    many = await service.add_customer_to_group(
        [
            {"customer_id": bob.id, "customer_group_id": other.id},
            {"customer_id": world["ann"].id, "customer_group_id": other.id},
        ]
    )
    assert isinstance(many, list) and len(many) == 2
    rows = await service.list_customer_group_customers({"id": [m["id"] for m in many]})
    assert {(r.customer_id, r.customer_group_id) for r in rows} == {
        (bob.id, other.id),
        (world["ann"].id, other.id),
    }
    assert (await counts(engine))["customer_group_customer"] == 4


async def test_adding_an_existing_member_returns_the_existing_membership(
    service: CustomerModuleService, world: Seed, engine: AsyncEngine
) -> None:
    pair = {"customer_id": world["ann"].id, "customer_group_id": world["group"].id}
    again = await service.add_customer_to_group(pair)
    assert again == {"id": world["membership_id"]}
    twice = await service.add_customer_to_group([pair, pair, {**pair, "id": "another-id"}])
    assert twice == [{"id": world["membership_id"]}] * 3
    assert (await counts(engine))["customer_group_customer"] == 1
    created = await service.list_events(name="customer.customer-group-customer.created")
    assert len(created) == 1  # only the first add created anything


async def test_add_with_unknown_customer_or_group_is_not_found(
    service: CustomerModuleService, world: Seed, engine: AsyncEngine
) -> None:
    err = await unchanged_after(
        engine,
        lambda: service.add_customer_to_group(
            {"customer_id": world["bob"].id, "customer_group_id": "cusgroup_nope"}
        ),
        NotFoundError,
    )
    assert str(err) == (
        "You tried to set relationship customer_group_id: cusgroup_nope, "
        "but such entity does not exist"
    )
    assert isinstance(err, NotFoundError) and err.field == "customer_group_id"
    err = await unchanged_after(
        engine,
        lambda: service.add_customer_to_group(
            [
                {"customer_id": world["bob"].id, "customer_group_id": world["group"].id},
                {"customer_id": "cus_nope", "customer_group_id": world["group"].id},
            ]
        ),
        NotFoundError,
    )
    assert "customer_id: cus_nope" in str(err)


async def test_remove_hard_deletes_and_non_members_are_a_no_op(
    service: CustomerModuleService, world: Seed, engine: AsyncEngine
) -> None:
    ann, bob, group = world["ann"], world["bob"], world["group"]
    await service.remove_customer_from_group({"customer_id": bob.id, "customer_group_id": group.id})
    assert (await counts(engine))["customer_group_customer"] == 1
    await service.remove_customer_from_group(
        [{"customer_id": ann.id, "customer_group_id": group.id}]
    )
    assert (await counts(engine))["customer_group_customer"] == 0  # hard-deleted, not soft
    await service.remove_customer_from_group({"customer_id": ann.id, "customer_group_id": group.id})


async def test_remove_also_deletes_soft_deleted_rows_of_the_pair(
    service: CustomerModuleService, world: Seed, engine: AsyncEngine
) -> None:
    pair = {"customer_id": world["ann"].id, "customer_group_id": world["group"].id}
    await service.soft_delete_customer_group_customers(world["membership_id"])
    await service.add_customer_to_group(pair)
    assert await scalar(engine, "SELECT count(*) FROM customer_group_customer") == 2
    await service.remove_customer_from_group(pair)
    assert await scalar(engine, "SELECT count(*) FROM customer_group_customer") == 0


async def test_change_memberships_reports_only_real_changes(
    service: CustomerModuleService, world: Seed
) -> None:
    ann, bob, group = world["ann"], world["bob"], world["group"]
    change = await service.change_memberships(
        add=[
            {"customer_id": ann.id, "customer_group_id": group.id},  # already a member
            {"customer_id": bob.id, "customer_group_id": group.id},
        ],
        remove=[{"customer_id": ann.id, "customer_group_id": "cusgroup_other"}],  # not a member
    )
    assert change.added == [(bob.id, group.id)]
    assert change.removed == []
    assert change.membership_ids[0] == world["membership_id"]
    change = await service.change_memberships(
        remove=[{"customer_id": ann.id, "customer_group_id": group.id}]
    )
    assert change.removed == [(ann.id, group.id)] and change.added == []
    members = await service.list_customers({"groups": group.id})
    assert [c.id for c in members] == [bob.id]


async def test_membership_reads_and_relation_filters(
    service: CustomerModuleService, world: Seed
) -> None:
    ann, group = world["ann"], world["group"]
    rows, count = await service.list_and_count_customer_group_customers(
        {"customer_id": ann.id}, {"relations": ["customer", "customer_group"]}
    )
    assert count == 1
    assert rows[0].customer and rows[0].customer.id == ann.id
    assert rows[0].customer_group and rows[0].customer_group.name == "VIP"
    by_group = await service.list_customer_group_customers({"group": {"name": "VIP"}})
    by_customer = await service.list_customer_group_customers({"customer": {"first_name": "Ann"}})
    assert [r.id for r in by_group] == [r.id for r in by_customer] == [world["membership_id"]]
    assert [c.id for c in await service.list_customers({"groups": {"name": "VIP"}})] == [ann.id]
    assert [c.id for c in await service.list_customers({"groups": [group.id, "x"]})] == [ann.id]
    with pytest.raises(NotFoundError, match=r"^CustomerGroupCustomer with id: m_x was not found$"):
        await service.retrieve_customer_group_customer("m_x")


async def test_delete_memberships(
    service: CustomerModuleService, world: Seed, engine: AsyncEngine
) -> None:
    await service.delete_customer_group_customers([world["membership_id"]])
    assert (await counts(engine))["customer_group_customer"] == 0
    await service.delete_customer_group_customers([world["membership_id"]])  # repeat: fine
