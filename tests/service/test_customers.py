"""Customers through the module service (SPEC §2.1–2.6, decisions 1 and 6)."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_service import (
    AlreadyExistsError,
    CustomerModuleService,
    InvalidDataError,
    NotFoundError,
)
from tests.helpers import Seed, counts, fetch, unchanged_after


async def test_create_one_returns_one_and_a_list_returns_a_list_in_order(
    service: CustomerModuleService,
) -> None:
    one = await service.create_customers({"email": "one@example.com", "company_name": "Acme"})
    assert one.email == "one@example.com"
    assert one.company_name == "Acme"
    assert one.has_account is False
    assert one.addresses == []
    many = await service.create_customers(
        [{"first_name": "z"}, {"first_name": "a"}, {"first_name": "m", "has_account": True}]
    )
    assert isinstance(many, list)
    assert [c.first_name for c in many] == ["z", "a", "m"]
    assert [c.has_account for c in many] == [False, False, True]
    assert await service.create_customers([]) == []


async def test_create_stores_every_field(service: CustomerModuleService) -> None:
    data = {
        "company_name": "Acme",
        "first_name": "Ann",
        "last_name": "Lee",
        "email": "ann@example.com",
        "phone": "+49 30 123",
        "metadata": {"a": 1, "nested": {"b": [1, 2]}},
        "created_by": "user_1",
    }
    created = await service.create_customers(data)
    got = await service.retrieve_customer(created.id)
    assert got.model_dump(include=set(data)) == data
    assert got.auth_identity_id is None


async def test_auth_identity_implies_has_account(service: CustomerModuleService) -> None:
    registered = await service.create_customers(
        {"email": "r@example.com", "auth_identity_id": "authid_1"}
    )
    assert registered.has_account is True
    assert registered.auth_identity_id == "authid_1"


async def test_nested_addresses_are_created_in_the_same_transaction(
    service: CustomerModuleService, engine: AsyncEngine
) -> None:
    created = await service.create_customers(
        {
            "email": "n@example.com",
            "addresses": [
                {"address_1": "Main St 1", "country_code": "DE", "is_default_billing": True},
                {"address_1": "Side St 2"},
            ],
        }
    )
    assert [a.address_1 for a in created.addresses or []] == ["Main St 1", "Side St 2"]
    assert {a.customer_id for a in created.addresses or []} == {created.id}
    assert created.addresses and created.addresses[0].country_code == "de"  # decision 11

    # a failing address rolls the customer back too
    before = await counts(engine)
    with pytest.raises(AlreadyExistsError, match=r"Customer address with customer_id: .*already"):
        await service.create_customers(
            {
                "email": "rollback@example.com",
                "addresses": [{"is_default_shipping": True}, {"is_default_shipping": True}],
            }
        )
    assert await counts(engine) == before
    assert await service.list_customers({"email": "rollback@example.com"}) == []


async def test_duplicate_emails_in_one_batch_write_nothing(
    service: CustomerModuleService, engine: AsyncEngine
) -> None:
    err = await unchanged_after(
        engine,
        lambda: service.create_customers(
            [
                {"email": "first@example.com"},
                {"email": "dup@example.com"},
                {"email": "DUP@example.com"},
            ]
        ),
        AlreadyExistsError,
    )
    assert isinstance(err, AlreadyExistsError)
    assert "dup@example.com" in err.message.lower()


async def test_retrieve_errors(service: CustomerModuleService) -> None:
    with pytest.raises(NotFoundError) as err:
        await service.retrieve_customer("")
    assert err.value.message == "customer - id must be defined"
    with pytest.raises(NotFoundError) as err:
        await service.retrieve_customer("cus_missing")
    assert err.value.message == "Customer with id: cus_missing was not found"
    assert err.value.type == "not_found"


async def test_retrieve_with_relations_and_select(
    service: CustomerModuleService, world: Seed
) -> None:
    ann = world["ann"]
    plain = await service.retrieve_customer(ann.id)
    assert plain.addresses is None and plain.groups is None
    full = await service.retrieve_customer(ann.id, {"relations": ["addresses", "groups"]})
    assert [a.address_name for a in full.addresses or []] == ["Home", "Work"]
    assert [g.model_dump() for g in full.groups or []] == [{"id": world["group"].id, "name": "VIP"}]
    some = await service.retrieve_customer(ann.id, {"select": ["email", "addresses.city"]})
    assert some.model_dump() == {
        "id": ann.id,
        "email": "ann@example.com",
        "addresses": [
            {"id": world["home"].id, "city": "Berlin"},
            {"id": world["work"].id, "city": "Paris"},
        ],
    }


async def test_update_by_id_ids_and_selector(service: CustomerModuleService, world: Seed) -> None:
    ann, bob = world["ann"], world["bob"]
    one = await service.update_customers(ann.id, {"last_name": "Smith"})
    assert one.id == ann.id and one.last_name == "Smith"
    several = await service.update_customers([bob.id, ann.id], {"company_name": "Acme"})
    assert isinstance(several, list)
    assert sorted(c.id for c in several) == sorted([ann.id, bob.id])
    assert {c.company_name for c in several} == {"Acme"}
    selected = await service.update_customers({"first_name": "Bob"}, {"phone": "123"})
    assert [(c.id, c.phone) for c in selected] == [(bob.id, "123")]
    assert (await service.retrieve_customer(ann.id)).phone is None
    assert await service.update_customers({"first_name": "Nobody"}, {"phone": "1"}) == []
    assert await service.update_customers([], {"phone": "1"}) == []


async def test_update_of_missing_ids_is_not_found_and_lists_them(
    service: CustomerModuleService, world: Seed, engine: AsyncEngine
) -> None:
    err = await unchanged_after(
        engine,
        lambda: service.update_customers([world["ann"].id, "cus_x", "cus_y"], {"first_name": "Q"}),
        NotFoundError,
    )
    assert str(err) == 'Customer with id "cus_x, cus_y" not found'
    # a soft-deleted customer is not found either
    await service.soft_delete_customers([world["bob"].id])
    with pytest.raises(NotFoundError, match=world["bob"].id):
        await service.update_customers(world["bob"].id, {"first_name": "Q"})


async def test_metadata_merge_semantics(service: CustomerModuleService) -> None:
    c = await service.create_customers(
        {"metadata": {"keep": 1, "drop": "x", "nul": 5, "nested": {"a": 1, "b": 2}}}
    )
    got = await service.update_customers(
        c.id, {"metadata": {"drop": "", "nul": None, "nested": {"a": 9}, "new": True}}
    )
    assert got.metadata == {"keep": 1, "nul": None, "nested": {"a": 9}, "new": True}
    # empty or missing metadata leaves the column as it is
    assert (await service.update_customers(c.id, {"metadata": {}})).metadata == got.metadata
    assert (await service.update_customers(c.id, {"first_name": "x"})).metadata == got.metadata
    # a null column merges from nothing
    bare = await service.create_customers({})
    assert (await service.update_customers(bare.id, {"metadata": {"a": ""}})).metadata == {}


async def test_updating_email_to_a_taken_one_is_already_exists(
    service: CustomerModuleService, world: Seed, engine: AsyncEngine
) -> None:
    err = await unchanged_after(
        engine,
        lambda: service.update_customers(world["bob"].id, {"email": "ANN@example.com"}),
        AlreadyExistsError,
    )
    assert isinstance(err, AlreadyExistsError) and err.field == "email"
    assert (
        err.message == "Customer with email: ANN@example.com, has_account: false, already exists."
    )
    # changing only the case of one's own email is fine
    same = await service.update_customers(world["ann"].id, {"email": "Ann@Example.com"})
    assert same.email == "Ann@Example.com"


async def test_hard_delete_by_id_ids_and_selector(
    service: CustomerModuleService, engine: AsyncEngine
) -> None:
    a, b, c, d = await service.create_customers([{"first_name": n} for n in ("a", "b", "c", "d")])
    await service.delete_customers(a.id)
    await service.delete_customers([b.id, c.id])
    await service.delete_customers({"first_name": "nobody"})
    await service.delete_customers([])
    assert [x.id for x in await service.list_customers(None, {"with_deleted": True})] == [d.id]
    await service.delete_customers({"first_name": "d"})
    assert (await counts(engine))["customer"] == 0
    # deleting what is already gone succeeds
    await service.delete_customers([a.id, b.id])


async def test_soft_delete_and_restore_are_repeat_safe(
    service: CustomerModuleService, world: Seed
) -> None:
    bob = world["bob"]
    assert await service.soft_delete_customers(bob.id) == {"customer_id": [bob.id]}
    assert await service.soft_delete_customers([bob.id]) == {}
    assert await service.restore_customers([bob.id]) == {"customer_id": [bob.id]}
    assert await service.restore_customers([bob.id]) == {}
    assert (await service.retrieve_customer(bob.id)).deleted_at is None


async def test_soft_delete_treats_unknown_and_deleted_ids_as_done(
    service: CustomerModuleService, world: Seed, engine: AsyncEngine
) -> None:
    """Decision 10: unknown or already deleted ids are skipped; the undo restores only what this
    operation deleted, and only the deleted customers get a `customer.deleted` event."""
    ann, bob = world["ann"], world["bob"]
    await service.soft_delete_customers([bob.id])
    ctx = {"operation_id": "op-del-10", "event_group_id": "run-del-10"}
    deleted = await service.soft_delete_customers([ann.id, bob.id, "cus_unknown"], ctx)
    assert deleted["customer_id"] == [ann.id]
    staged = await fetch(
        engine,
        "SELECT data FROM event_outbox WHERE name = 'customer.deleted' AND event_group_id = :g",
        g="run-del-10",
    )
    assert [r["data"] for r in staged] == [{"id": ann.id}]
    assert await service.undo_soft_delete_customers("op-del-10")
    assert (await service.retrieve_customer(ann.id)).deleted_at is None
    assert (await service.retrieve_customer(bob.id, {"with_deleted": True})).deleted_at
    groups = await service.soft_delete_customer_groups(["g_unknown"], {"operation_id": "op-g-10"})
    assert groups == {}


async def test_restore_when_email_was_taken_fails_naming_the_email(
    service: CustomerModuleService, world: Seed, engine: AsyncEngine
) -> None:
    """Decision 6: a clear duplicate error, not a raw database error; nothing is restored."""
    ann = world["ann"]
    await service.soft_delete_customers([ann.id])
    await service.create_customers({"email": "ANN@EXAMPLE.COM"})
    err = await unchanged_after(
        engine, lambda: service.restore_customers([ann.id]), AlreadyExistsError
    )
    assert isinstance(err, AlreadyExistsError)
    assert err.type == "invalid_data"
    assert err.field == "email"
    assert "ann@example.com" in err.message.lower()
    assert err.message.endswith("already exists.")
    rows = await fetch(
        engine, "SELECT deleted_at FROM customer_address WHERE customer_id = :c", c=ann.id
    )
    assert all(r["deleted_at"] is not None for r in rows)
    # a registered customer with that email does not block restoring the guest
    await service.delete_customers({"email": "ANN@EXAMPLE.COM"})
    await service.create_customers({"email": "ann@example.com", "has_account": True})
    assert (await service.restore_customers([ann.id]))["customer_id"] == [ann.id]


async def test_list_and_count(service: CustomerModuleService, world: Seed) -> None:
    rows, count = await service.list_and_count_customers({}, {"take": 1})
    assert count == 2 and len(rows) == 1 and rows[0].id == min(world["ann"].id, world["bob"].id)


async def test_invalid_email_is_rejected(
    service: CustomerModuleService, engine: AsyncEngine
) -> None:
    for bad in ("no-at-sign", "a@b", "a@@b.com", "a b@c.com", "a..b@c.com", "@c.com"):
        err = await unchanged_after(
            engine, lambda bad=bad: service.create_customers({"email": bad}), InvalidDataError
        )
        assert isinstance(err, InvalidDataError) and err.field == "data.email", bad


async def test_restore_only_the_given_addresses(
    service: CustomerModuleService, world: Seed
) -> None:
    """What a compensation uses: restore the customer and just the addresses it cascaded to."""
    ann, home, work = world["ann"], world["home"], world["work"]
    await service.soft_delete_customer_addresses([work.id])  # deleted before, on its own
    cascaded = await service.soft_delete_customers([ann.id])
    assert cascaded["customer_address_id"] == [home.id]
    restored = await service.restore_customers([ann.id], address_ids=[home.id])
    assert restored == {"customer_id": [ann.id], "customer_address_id": [home.id]}
    live = await service.list_customer_addresses({"customer_id": ann.id})
    assert [a.id for a in live] == [home.id]
