"""Customer addresses through the module service (SPEC §2.2, decision 5)."""

from __future__ import annotations

from functools import partial

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_service import (
    AlreadyExistsError,
    ConflictError,
    CustomerModuleService,
    InvalidDataError,
    NotFoundError,
)
from tests.helpers import Seed, counts, unchanged_after


async def test_create_one_or_many(service: CustomerModuleService, world: Seed) -> None:
    bob = world["bob"]
    one = await service.create_customer_addresses(
        {"customer_id": bob.id, "city": "Oslo", "country_code": "NO", "phone": "1"}
    )
    assert one.customer_id == bob.id and one.city == "Oslo"
    assert one.is_default_billing is False and one.is_default_shipping is False
    many = await service.create_customer_addresses(
        [{"customer_id": bob.id, "city": c} for c in ("B", "A", "C")]
    )
    assert [a.city for a in many] == ["B", "A", "C"]
    listed = await service.list_customer_addresses({"customer_id": bob.id})
    assert [a.id for a in listed] == [one.id, *(a.id for a in many)]  # id order = creation order


async def test_country_code_is_an_iso_alpha2_code_stored_lower_case(
    service: CustomerModuleService, world: Seed, engine: AsyncEngine
) -> None:
    """Decision 11: any case in, lower-case stored; anything else names the field."""
    bob = world["bob"]
    created = await service.create_customer_addresses({"customer_id": bob.id, "country_code": "Gb"})
    assert created.country_code == "gb"
    updated = await service.update_customer_addresses(created.id, {"country_code": "NO"})
    assert updated.country_code == "no"
    for bad in ("zz", "USA", "u", "", "d\u00e9"):
        create = partial(
            service.create_customer_addresses, {"customer_id": bob.id, "country_code": bad}
        )
        update = partial(service.update_customer_addresses, created.id, {"country_code": bad})
        for call in (create, update):
            err = await unchanged_after(engine, call, InvalidDataError)
            assert err.field is not None and err.field.endswith("country_code"), err.field
            assert "country_code: must be an ISO 3166-1 alpha-2 country code" in err.message
    assert (await service.retrieve_customer_address(created.id)).country_code == "no"


async def test_create_for_unknown_customer_is_not_found(
    service: CustomerModuleService, world: Seed, engine: AsyncEngine
) -> None:
    err = await unchanged_after(
        engine,
        lambda: service.create_customer_addresses({"customer_id": "cus_nope", "city": "X"}),
        NotFoundError,
    )
    assert str(err) == (
        "You tried to set relationship customer_id: cus_nope, but such entity does not exist"
    )
    assert isinstance(err, NotFoundError) and err.field == "customer_id"


async def test_second_default_is_already_exists(
    service: CustomerModuleService, world: Seed, engine: AsyncEngine
) -> None:
    ann, bob = world["ann"], world["bob"]
    # two defaults in one batch
    err = await unchanged_after(
        engine,
        lambda: service.create_customer_addresses(
            [
                {"customer_id": bob.id, "is_default_billing": True},
                {"customer_id": bob.id, "is_default_billing": True},
            ]
        ),
        AlreadyExistsError,
    )
    assert str(err) == f"Customer address with customer_id: {bob.id}, already exists."
    # updating an address to a default another address already holds
    err = await unchanged_after(
        engine,
        lambda: service.update_customer_addresses(world["work"].id, {"is_default_shipping": True}),
        AlreadyExistsError,
    )
    assert str(err) == f"Customer address with customer_id: {ann.id}, already exists."


async def test_update_by_id_ids_and_selector(service: CustomerModuleService, world: Seed) -> None:
    home, work = world["home"], world["work"]
    one = await service.update_customer_addresses(home.id, {"city": "Munich", "phone": "9"})
    assert one.id == home.id and one.city == "Munich" and one.phone == "9"
    both = await service.update_customer_addresses([home.id, work.id], {"province": "BY"})
    assert sorted(a.id for a in both) == sorted([home.id, work.id])
    assert {a.province for a in both} == {"BY"}
    picked = await service.update_customer_addresses({"address_name": "Work"}, {"company": "Co"})
    assert [(a.id, a.company) for a in picked] == [(work.id, "Co")]
    assert await service.update_customer_addresses({"city": "Nowhere"}, {"company": "x"}) == []


async def test_update_flags_and_move_to_another_customer(
    service: CustomerModuleService, world: Seed
) -> None:
    home, work, bob = world["home"], world["work"], world["bob"]
    off = await service.update_customer_addresses(home.id, {"is_default_shipping": False})
    assert off.is_default_shipping is False
    on = await service.update_customer_addresses(work.id, {"is_default_shipping": True})
    assert on.is_default_shipping and on.is_default_billing
    moved = await service.update_customer_addresses(home.id, {"customer_id": bob.id})
    assert moved.customer_id == bob.id
    with pytest.raises(NotFoundError, match="customer_id: cus_gone"):
        await service.update_customer_addresses(home.id, {"customer_id": "cus_gone"})


async def test_address_metadata_is_merged(service: CustomerModuleService, world: Seed) -> None:
    home = world["home"]
    await service.update_customer_addresses(home.id, {"metadata": {"a": 1, "b": 2}})
    got = await service.update_customer_addresses(home.id, {"metadata": {"a": "", "c": None}})
    assert got.metadata == {"b": 2, "c": None}


# --- decision 5: unknown address ids are not found, everywhere ----------------------------


async def test_retrieve_unknown_address_is_not_found(service: CustomerModuleService) -> None:
    with pytest.raises(NotFoundError) as err:
        await service.retrieve_customer_address("cuaddr_missing")
    assert err.value.message == "CustomerAddress with id: cuaddr_missing was not found"
    with pytest.raises(NotFoundError, match="customerAddress - id must be defined"):
        await service.retrieve_customer_address("")


async def test_update_unknown_address_is_not_found(
    service: CustomerModuleService, world: Seed, engine: AsyncEngine
) -> None:
    err = await unchanged_after(
        engine,
        lambda: service.update_customer_addresses(
            [world["home"].id, "cuaddr_missing"], {"city": "X"}
        ),
        NotFoundError,
    )
    assert str(err) == 'CustomerAddress with id "cuaddr_missing" not found'


async def test_delete_unknown_address_is_not_found(
    service: CustomerModuleService, world: Seed, engine: AsyncEngine
) -> None:
    for call in (
        lambda: service.delete_customer_addresses("cuaddr_missing"),
        lambda: service.delete_customer_addresses([world["home"].id, "cuaddr_missing"]),
        lambda: service.delete_customer_addresses(["cuaddr_missing"], {"operation_id": "op-d"}),
    ):
        err = await unchanged_after(engine, call, NotFoundError)
        assert "cuaddr_missing" in str(err) and "not found" in str(err)


async def test_delete_addresses(
    service: CustomerModuleService, world: Seed, engine: AsyncEngine
) -> None:
    await service.delete_customer_addresses(world["home"].id)
    await service.delete_customer_addresses({"address_name": "Nothing"})
    await service.delete_customer_addresses([])
    assert [a.id for a in await service.list_customer_addresses()] == [world["work"].id]
    await service.delete_customer_addresses({"customer_id": world["ann"].id})
    assert (await counts(engine))["customer_address"] == 0


async def test_soft_delete_and_restore_addresses(
    service: CustomerModuleService, world: Seed
) -> None:
    home = world["home"]
    assert await service.soft_delete_customer_addresses([home.id]) == {
        "customer_address_id": [home.id]
    }
    assert await service.soft_delete_customer_addresses([home.id]) == {}
    with pytest.raises(NotFoundError):
        await service.retrieve_customer_address(home.id)
    assert await service.restore_customer_addresses(home.id) == {"customer_address_id": [home.id]}
    assert await service.restore_customer_addresses(home.id) == {}
    assert (await service.retrieve_customer_address(home.id)).deleted_at is None


async def test_filter_addresses_by_customer(service: CustomerModuleService, world: Seed) -> None:
    ann = world["ann"]
    by_fk = await service.list_customer_addresses({"customer_id": [ann.id]})
    nested = await service.list_customer_addresses({"customer": {"email": "ann@example.com"}})
    by_id = await service.list_customer_addresses({"customer": ann.id})
    expected = sorted([world["home"].id, world["work"].id])
    assert [a.id for a in by_fk] == [a.id for a in nested] == [a.id for a in by_id] == expected
    assert await service.list_customer_addresses({"customer": {"first_name": "Bob"}}) == []
    with_customer = await service.retrieve_customer_address(
        world["home"].id, {"relations": ["customer"]}
    )
    assert with_customer.customer and with_customer.customer.id == ann.id


# --- default addresses (what the address workflows use) -----------------------------------


async def test_set_default_address_moves_the_flag(
    service: CustomerModuleService, world: Seed
) -> None:
    home, work = world["home"], world["work"]
    got = await service.set_default_address(work.id, "is_default_shipping")
    assert got.id == work.id and got.is_default_shipping
    assert not (await service.retrieve_customer_address(home.id)).is_default_shipping
    # setting it again is a no-op
    assert (await service.set_default_address(work.id, "is_default_shipping")).is_default_shipping
    with pytest.raises(NotFoundError):
        await service.set_default_address("cuaddr_missing", "is_default_billing")


async def test_unset_default_addresses_and_undo(
    service: CustomerModuleService, world: Seed, engine: AsyncEngine
) -> None:
    ann, home = world["ann"], world["home"]
    unset = await service.unset_default_addresses(
        [ann.id], "is_default_shipping", {"operation_id": "op-1"}
    )
    assert unset == [home.id]
    assert not (await service.retrieve_customer_address(home.id)).is_default_shipping
    assert await service.unset_default_addresses([ann.id], "is_default_shipping") == []
    assert await service.undo_unset_default_addresses("op-1") is True
    assert (await service.retrieve_customer_address(home.id)).is_default_shipping
    assert await service.undo_unset_default_addresses("op-1") is False  # repeat: no-op

    # an undo never clobbers a default someone set since
    ctx = {"operation_id": "op-2"}
    await service.unset_default_addresses([ann.id], "is_default_shipping", ctx)
    await service.set_default_address(world["work"].id, "is_default_shipping")
    err = await unchanged_after(
        engine, lambda: service.undo_unset_default_addresses("op-2"), ConflictError
    )
    assert isinstance(err, ConflictError) and err.field == "is_default_shipping"
    assert world["work"].id in str(err)


async def test_list_and_count(service: CustomerModuleService, world: Seed) -> None:
    rows, count = await service.list_and_count_customer_addresses(
        {"customer_id": world["ann"].id}, {"take": 1}
    )
    assert count == 2 and [a.id for a in rows] == [world["home"].id]
    rows, count = await service.list_and_count_customer_addresses({"is_default_billing": True})
    assert count == 1 and [a.id for a in rows] == [world["work"].id]
