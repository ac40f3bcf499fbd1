"""Customer groups through the module service (SPEC §2.1–2.2)."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_service import (
    AlreadyExistsError,
    CustomerModuleService,
    InvalidDataError,
    NotFoundError,
)
from tests.helpers import Seed, counts, unchanged_after


async def test_create_one_or_many(service: CustomerModuleService) -> None:
    one = await service.create_customer_groups(
        {"name": "VIP", "metadata": {"k": "v"}, "created_by": "user_1"}
    )
    assert (one.name, one.metadata, one.created_by) == ("VIP", {"k": "v"}, "user_1")
    many = await service.create_customer_groups([{"name": "B"}, {"name": "A"}])
    assert [g.name for g in many] == ["B", "A"]
    assert [g.name for g in await service.list_customer_groups()] == ["VIP", "B", "A"]


async def test_duplicate_name_writes_nothing(
    service: CustomerModuleService, engine: AsyncEngine
) -> None:
    await service.create_customer_groups({"name": "VIP"})
    err = await unchanged_after(
        engine,
        lambda: service.create_customer_groups([{"name": "Other"}, {"name": "VIP"}]),
        AlreadyExistsError,
    )
    assert str(err) == "Customer group with name: VIP, already exists."
    err = await unchanged_after(
        engine,
        lambda: service.create_customer_groups([{"name": "Twin"}, {"name": "Twin"}]),
        AlreadyExistsError,
    )
    assert str(err) == "Customer group with name: Twin, already exists."


async def test_name_is_required(service: CustomerModuleService, engine: AsyncEngine) -> None:
    for data in ({}, {"name": ""}, {"name": None}):
        err = await unchanged_after(
            engine, lambda d=data: service.create_customer_groups(d), InvalidDataError
        )
        assert isinstance(err, InvalidDataError) and err.field == "data.name"


async def test_retrieve_errors(service: CustomerModuleService) -> None:
    with pytest.raises(NotFoundError, match=r"^CustomerGroup with id: g_1 was not found$"):
        await service.retrieve_customer_group("g_1")
    with pytest.raises(NotFoundError, match=r"^customerGroup - id must be defined$"):
        await service.retrieve_customer_group("")


async def test_update_by_id_ids_and_selector(
    service: CustomerModuleService, engine: AsyncEngine
) -> None:
    a, b = await service.create_customer_groups(
        [{"name": "A", "metadata": {"x": 1}}, {"name": "B"}]
    )
    one = await service.update_customer_groups(a.id, {"name": "A2", "metadata": {"y": 2}})
    assert one.id == a.id and one.name == "A2" and one.metadata == {"x": 1, "y": 2}
    both = await service.update_customer_groups([a.id, b.id], {"metadata": {"z": 3}})
    assert sorted(g.id for g in both) == sorted([a.id, b.id])
    picked = await service.update_customer_groups({"name": "B"}, {"name": "B2"})
    assert [(g.id, g.name) for g in picked] == [(b.id, "B2")]
    err = await unchanged_after(
        engine, lambda: service.update_customer_groups(a.id, {"name": "B2"}), AlreadyExistsError
    )
    assert str(err) == "Customer group with name: B2, already exists."
    err = await unchanged_after(
        engine, lambda: service.update_customer_groups("g_none", {"name": "Z"}), NotFoundError
    )
    assert str(err) == 'CustomerGroup with id "g_none" not found'
    err = await unchanged_after(
        engine, lambda: service.update_customer_groups(a.id, {"name": None}), InvalidDataError
    )
    assert isinstance(err, InvalidDataError) and err.field == "name"
    assert str(err) == "Cannot set field 'name' of CustomerGroup to null"


async def test_delete_soft_delete_and_restore(
    service: CustomerModuleService, world: Seed, engine: AsyncEngine
) -> None:
    group = world["group"]
    assert await service.soft_delete_customer_groups(group.id) == {"customer_group_id": [group.id]}
    assert await service.soft_delete_customer_groups(group.id) == {}
    assert await service.restore_customer_groups([group.id]) == {"customer_group_id": [group.id]}
    assert await service.restore_customer_groups([group.id]) == {}
    await service.delete_customer_groups({"name": "VIP"})
    await service.delete_customer_groups([group.id])  # already gone: still fine
    assert (await counts(engine))["customer_group"] == 0


async def test_group_customers_relation_and_filter(
    service: CustomerModuleService, world: Seed
) -> None:
    group, ann = world["group"], world["ann"]
    got = await service.retrieve_customer_group(group.id, {"relations": ["customers"]})
    assert [c.id for c in got.customers or []] == [ann.id]
    assert got.customers and got.customers[0].email == "ann@example.com"
    other = await service.create_customer_groups({"name": "Other"})
    assert [g.id for g in await service.list_customer_groups({"customers": ann.id})] == [group.id]
    nested = await service.list_customer_groups({"customers": {"first_name": "Ann"}})
    assert [g.id for g in nested] == [group.id]
    assert await service.list_customer_groups({"customers": world["bob"].id}) == []
    everything = await service.list_customer_groups({"id": [group.id, other.id]})
    assert len(everything) == 2


async def test_list_and_count(service: CustomerModuleService) -> None:
    await service.create_customer_groups([{"name": f"g{i}"} for i in range(5)])
    rows, count = await service.list_and_count_customer_groups(
        {"name": {"$in": ["g1", "g2", "g3"]}}, {"skip": 1, "take": 1, "order": {"name": "DESC"}}
    )
    assert count == 3 and [g.name for g in rows] == ["g2"]
