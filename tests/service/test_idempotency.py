"""What workflows rely on: repeated calls have one effect (given ids, operation ids), state changes
that are already done succeed, and compare-and-set restores (decision 3)."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_service import (
    AlreadyExistsError,
    ConflictError,
    CustomerModuleService,
    InvalidDataError,
    NotFoundError,
)
from tests.helpers import Seed, counts, fingerprint, unchanged_after

S = CustomerModuleService


# --- creates with given ids ----------------------------------------------------------------


async def test_create_customer_with_given_id_twice_is_one_row(s: S, engine: AsyncEngine) -> None:
    data = {
        "id": "cus_fixed",
        "email": "Fixed@example.com",
        "metadata": {"a": [1]},
        "addresses": [{"id": "cuaddr_fixed", "city": "Rome"}],
    }
    first = await s.create_customers(data)
    before = await fingerprint(engine)
    second = await s.create_customers(data)
    assert second == first
    assert await fingerprint(engine) == before  # no row, no event, nothing
    many = await s.create_customers([data, {"id": "cus_other", "first_name": "x"}])
    assert [c.id for c in many] == ["cus_fixed", "cus_other"]
    assert (await counts(engine))["customer"] == 2


async def test_create_with_given_id_and_other_content_is_already_exists(
    s: S, engine: AsyncEngine
) -> None:
    await s.create_customers({"id": "cus_fixed", "email": "fixed@example.com"})
    for other in (
        {"id": "cus_fixed", "email": "other@example.com"},
        {"id": "cus_fixed", "email": "fixed@example.com", "first_name": "x"},
        {"id": "cus_fixed", "email": "FIXED@example.com"},
    ):
        err = await unchanged_after(
            engine, lambda o=other: s.create_customers(o), AlreadyExistsError
        )
        assert str(err) == "Customer with id: cus_fixed, already exists."
        assert isinstance(err, AlreadyExistsError) and err.field == "id"


async def test_create_groups_and_addresses_with_given_ids_twice(
    s: S, world: Seed, engine: AsyncEngine
) -> None:
    group = {"id": "cusgroup_fixed", "name": "Fixed", "metadata": {"k": 1}}
    address = {"id": "cuaddr_fixed", "customer_id": world["bob"].id, "city": "Oslo"}
    first_group = await s.create_customer_groups(group)
    first_address = await s.create_customer_addresses([address])
    before = await fingerprint(engine)
    assert await s.create_customer_groups(group) == first_group
    assert await s.create_customer_addresses([address]) == first_address
    assert await fingerprint(engine) == before
    with pytest.raises(AlreadyExistsError, match=r"^Customer group with id: cusgroup_fixed, alr"):
        await s.create_customer_groups({**group, "name": "Changed"})
    with pytest.raises(AlreadyExistsError, match=r"^Customer address with id: cuaddr_fixed, alr"):
        await s.create_customer_addresses({**address, "city": "Bergen"})


# --- operation ids ---------------------------------------------------------------------------


async def test_create_with_operation_id_twice_returns_the_first_result(
    s: S, engine: AsyncEngine
) -> None:
    """Without given ids too: the operation id alone makes a repeat find the first effect."""
    ctx = {"operation_id": "op-create"}
    first = await s.create_customers([{"email": "a@example.com", "addresses": [{}]}], ctx)
    before = await fingerprint(engine)
    again = await s.create_customers([{"email": "a@example.com", "addresses": [{}]}], ctx)
    assert again == first
    assert await fingerprint(engine) == before
    group = await s.create_customer_groups({"name": "G"}, {"operation_id": "op-group"})
    assert await s.create_customer_groups({"name": "G"}, {"operation_id": "op-group"}) == group
    address = await s.create_customer_addresses(
        {"customer_id": first[0].id}, {"operation_id": "op-addr"}
    )
    again_address = await s.create_customer_addresses(
        {"customer_id": first[0].id}, {"operation_id": "op-addr"}
    )
    assert again_address == address
    assert (await counts(engine))["customer_address"] == 2


@pytest.mark.parametrize(
    ("method", "target", "data"),
    [
        ("update_customers_tracked", "ann", {"first_name": "Anna", "metadata": {"tier": ""}}),
        ("update_customer_addresses_tracked", "home", {"city": "Hamburg", "metadata": {"x": 1}}),
        ("update_customer_groups_tracked", "group", {"name": "Gold", "metadata": {"y": 2}}),
    ],
)
async def test_tracked_update_with_operation_id_twice_is_one_effect(
    s: S, world: Seed, engine: AsyncEngine, method: str, target: str, data: dict[str, object]
) -> None:
    ctx = {"operation_id": f"op-{method}", "event_group_id": "run-1"}
    entity_id = world[target].id
    first = await getattr(s, method)(entity_id, data, ctx)
    assert [r.id for r in first.rows] == [entity_id]
    assert first.previous and first.previous[0]["id"] == entity_id
    before = await fingerprint(engine)
    # a repeat returns the recorded outcome, even if the data differ (it is the same step)
    second = await getattr(s, method)(entity_id, {**data, "metadata": {"z": 3}}, ctx)
    assert second == first
    assert await fingerprint(engine) == before


async def test_tracked_update_reports_previous_and_written_values(s: S, world: Seed) -> None:
    ann = world["ann"]
    outcome = await s.update_customers_tracked(
        ann.id, {"company_name": "Co", "metadata": {"tier": "", "new": 1}}
    )
    assert outcome.previous == [{"id": ann.id, "company_name": None, "metadata": {"tier": "gold"}}]
    [row] = outcome.rows
    assert (row.id, row.company_name, row.metadata) == (ann.id, "Co", {"new": 1})


async def test_unset_default_addresses_with_operation_id_twice(
    s: S, world: Seed, engine: AsyncEngine
) -> None:
    ctx = {"operation_id": "op-unset"}
    ann, home = world["ann"], world["home"]
    assert await s.unset_default_addresses([ann.id], "is_default_shipping", ctx) == [home.id]
    before = await fingerprint(engine)
    # nothing is left to unset, but the repeat still reports what the operation unset
    assert await s.unset_default_addresses([ann.id], "is_default_shipping", ctx) == [home.id]
    assert await fingerprint(engine) == before
    # a string is one customer id, not a list of characters
    assert await s.unset_default_addresses(ann.id, "is_default_billing") == [world["work"].id]


async def test_change_memberships_with_operation_id_twice(
    s: S, world: Seed, engine: AsyncEngine
) -> None:
    ctx = {"operation_id": "op-members"}
    add = [{"customer_id": world["bob"].id, "customer_group_id": world["group"].id}]
    remove = [{"customer_id": world["ann"].id, "customer_group_id": world["group"].id}]
    first = await s.change_memberships(add, remove, ctx)
    assert first.added == [(world["bob"].id, world["group"].id)]
    assert first.removed == [(world["ann"].id, world["group"].id)]
    before = await fingerprint(engine)
    assert await s.change_memberships(add, remove, ctx) == first
    assert await fingerprint(engine) == before


async def test_soft_delete_customers_with_operation_id_twice(
    s: S, world: Seed, engine: AsyncEngine
) -> None:
    ctx = {"operation_id": "op-soft", "event_group_id": "run-soft"}
    ann = world["ann"]
    first = await s.soft_delete_customers([ann.id], ctx)
    assert first["customer_id"] == [ann.id] and len(first["customer_address_id"]) == 2
    before = await fingerprint(engine)
    assert await s.soft_delete_customers([ann.id], ctx) == first
    assert await fingerprint(engine) == before
    groups = await s.soft_delete_customer_groups([world["group"].id], {"operation_id": "op-sg"})
    assert (
        await s.soft_delete_customer_groups([world["group"].id], {"operation_id": "op-sg"})
        == groups
    )


async def test_delete_addresses_with_operation_id_twice(
    s: S, world: Seed, engine: AsyncEngine
) -> None:
    ctx = {"operation_id": "op-del"}
    home = world["home"]
    rows = await s.delete_customer_addresses([home.id], ctx)
    assert [r.id for r in rows] == [home.id]
    assert rows[0].city == "Berlin" and rows[0].is_default_shipping is True
    before = await fingerprint(engine)
    assert await s.delete_customer_addresses([home.id], ctx) == rows
    assert await fingerprint(engine) == before
    # the recorded rows put the address back exactly
    assert await s.undo_delete_customer_addresses("op-del") is True
    assert await s.undo_delete_customer_addresses("op-del") is False  # repeat-safe
    back = await s.retrieve_customer_address(home.id)
    assert back == rows[0]


# --- already in that state -------------------------------------------------------------------


async def test_state_changes_already_done_succeed(s: S, world: Seed) -> None:
    ann, group, home = world["ann"], world["group"], world["home"]
    membership = world["membership_id"]
    for soft_delete, restore, ident in (
        (s.soft_delete_customers, s.restore_customers, ann.id),
        (s.soft_delete_customer_addresses, s.restore_customer_addresses, home.id),
        (s.soft_delete_customer_groups, s.restore_customer_groups, group.id),
        (s.soft_delete_customer_group_customers, s.restore_customer_group_customers, membership),
    ):
        assert await restore([ident]) == {}  # not deleted: nothing to restore
        assert await soft_delete([ident])
        assert await soft_delete([ident]) == {}
        assert await restore([ident])
        assert await restore([ident]) == {}
    for delete, ident in (
        (s.delete_customer_group_customers, membership),
        (s.delete_customer_groups, group.id),
        (s.delete_customers, ann.id),
    ):
        await delete([ident])
        await delete([ident])


# --- compare-and-set restores (decision 3) -------------------------------------------------


async def test_undo_update_puts_previous_values_back(
    s: S, world: Seed, engine: AsyncEngine
) -> None:
    ann = world["ann"]
    data = {"company_name": "Co", "first_name": "Anna", "metadata": {"x": 1}}
    await s.update_customers_tracked(ann.id, data, {"operation_id": "op-u"})
    assert await s.undo_update_customers("op-u") is True
    got = await s.retrieve_customer(ann.id)
    assert (got.company_name, got.first_name, got.metadata) == (None, "Ann", {"tier": "gold"})
    # already undone: a no-op that writes nothing
    before = await fingerprint(engine)
    assert await s.undo_update_customers("op-u") is False
    assert await fingerprint(engine) == before


async def test_undo_update_of_a_field_already_back_is_done(s: S, world: Seed) -> None:
    ann = world["ann"]
    data = {"company_name": "Co", "first_name": "Anna"}
    await s.update_customers_tracked(ann.id, data, {"operation_id": "op-u"})
    await s.update_customers(ann.id, {"first_name": "Ann"})  # someone put it back already
    assert await s.undo_update_customers("op-u") is True
    got = await s.retrieve_customer(ann.id)
    assert (got.company_name, got.first_name) == (None, "Ann")


async def test_undo_update_conflict_names_the_field_and_writes_nothing(
    s: S, world: Seed, engine: AsyncEngine
) -> None:
    ann = world["ann"]
    data = {"company_name": "Ours", "last_name": "Ours"}
    await s.update_customers_tracked(ann.id, data, {"operation_id": "op-u"})
    await s.update_customers(ann.id, {"last_name": "Theirs"})  # another writer
    err = await unchanged_after(engine, lambda: s.undo_update_customers("op-u"), ConflictError)
    assert isinstance(err, ConflictError)
    assert err.type == "conflict"
    assert err.field == "last_name"
    assert f"{ann.id}.last_name" in str(err)
    assert err.details == [
        {"id": ann.id, "field": "last_name", "expected": "Ours", "actual": "Theirs"}
    ]
    got = await s.retrieve_customer(ann.id)
    assert (got.company_name, got.last_name) == ("Ours", "Theirs")  # company_name not reverted


async def test_undo_address_and_group_updates(s: S, world: Seed, engine: AsyncEngine) -> None:
    home, group = world["home"], world["group"]
    data = {"city": "Munich", "is_default_shipping": False}
    await s.update_customer_addresses_tracked(home.id, data, {"operation_id": "op-a"})
    assert await s.undo_update_customer_addresses("op-a") is True
    got = await s.retrieve_customer_address(home.id)
    assert (got.city, got.is_default_shipping) == ("Berlin", True)
    await s.update_customer_groups(group.id, {"name": "Renamed"}, {"operation_id": "op-g"})
    await s.update_customer_groups(group.id, {"name": "Renamed again"})
    err = await unchanged_after(
        engine, lambda: s.undo_update_customer_groups("op-g"), ConflictError
    )
    assert isinstance(err, ConflictError) and err.field == "name"


async def test_undo_update_of_a_deleted_row_is_a_conflict(
    s: S, world: Seed, engine: AsyncEngine
) -> None:
    bob = world["bob"]
    await s.update_customers(bob.id, {"first_name": "B"}, {"operation_id": "op-b"})
    await s.soft_delete_customers([bob.id])
    err = await unchanged_after(engine, lambda: s.undo_update_customers("op-b"), ConflictError)
    assert "row is gone" in str(err.details)  # type: ignore[attr-defined]


# --- compensations of recorded operations ----------------------------------------------------


async def test_undo_is_exact_and_repeat_safe(s: S, world: Seed, engine: AsyncEngine) -> None:
    created = await s.create_customers({"email": "u@example.com"}, {"operation_id": "op-c"})
    assert await s.undo_create_customers("op-c") is True
    assert await s.undo_create_customers("op-c") is False
    with pytest.raises(NotFoundError):
        await s.retrieve_customer(created.id)
    # a late attempt of the undone step must not act again
    with pytest.raises(ConflictError) as err:
        await s.create_customers({"email": "u@example.com"}, {"operation_id": "op-c"})
    assert err.value.field == "operation_id"


async def test_undo_before_the_step_fences_it(s: S, world: Seed, engine: AsyncEngine) -> None:
    assert await s.undo_update_customers("op-late") is False  # the step never committed
    before = await fingerprint(engine)
    with pytest.raises(ConflictError):
        await s.update_customers_tracked(
            world["ann"].id, {"first_name": "Late"}, {"operation_id": "op-late"}
        )
    assert await fingerprint(engine) == before


async def test_undo_update_refuses_to_clobber_a_later_change(
    s: S, world: Seed, engine: AsyncEngine
) -> None:
    ann = world["ann"]
    await s.update_customers_tracked(ann.id, {"first_name": "Saga"}, {"operation_id": "op-u"})
    await s.update_customers(ann.id, {"first_name": "Human"})
    before = await fingerprint(engine)
    with pytest.raises(ConflictError) as err:
        await s.undo_update_customers("op-u")
    assert err.value.field == "first_name"
    assert await fingerprint(engine) == before
    assert (await s.retrieve_customer(ann.id)).first_name == "Human"


@pytest.fixture
def s(service: CustomerModuleService) -> CustomerModuleService:
    return service


async def test_create_with_the_id_of_a_soft_deleted_row_is_already_exists(
    s: S, world: Seed, engine: AsyncEngine
) -> None:
    """The id is taken: the same content cannot be 'returned' as a live row, nor re-created."""
    await s.create_customers({"id": "cus_gone", "first_name": "G"})
    await s.create_customer_groups({"id": "cusgroup_gone", "name": "Gone"})
    await s.soft_delete_customers(["cus_gone"])
    await s.soft_delete_customer_groups(["cusgroup_gone"])
    for call in (
        lambda: s.create_customers({"id": "cus_gone", "first_name": "G"}),
        lambda: s.create_customer_groups({"id": "cusgroup_gone", "name": "Gone"}),
    ):
        err = await unchanged_after(engine, call, AlreadyExistsError)
        assert isinstance(err, AlreadyExistsError) and err.field == "id"


async def test_undo_soft_delete_customers_restores_exactly_what_it_deleted(
    s: S, world: Seed, engine: AsyncEngine
) -> None:
    ann, home, work = world["ann"], world["home"], world["work"]
    await s.soft_delete_customer_addresses([work.id])  # deleted before the step
    await s.soft_delete_customers([ann.id], {"operation_id": "op-sd"})
    assert await s.undo_soft_delete_customers("op-sd") is True
    assert await s.undo_soft_delete_customers("op-sd") is False
    assert (await s.retrieve_customer(ann.id)).deleted_at is None
    live = await s.list_customer_addresses({"customer_id": ann.id})
    assert [a.id for a in live] == [home.id]  # work stays deleted


async def test_undo_address_steps(s: S, world: Seed, engine: AsyncEngine) -> None:
    ann, home = world["ann"], world["home"]
    await s.unset_default_addresses([ann.id], "is_default_shipping", {"operation_id": "op-un"})
    created = await s.create_customer_addresses(
        {"customer_id": ann.id, "is_default_shipping": True, "city": "New"},
        {"operation_id": "op-ca"},
    )
    assert await s.undo_create_customer_addresses("op-ca") is True
    assert await s.undo_create_customer_addresses("op-ca") is False
    with pytest.raises(NotFoundError):
        await s.retrieve_customer_address(created.id)
    assert await s.undo_unset_default_addresses("op-un") is True
    assert await s.undo_unset_default_addresses("op-un") is False
    assert (await s.retrieve_customer_address(home.id)).is_default_shipping is True

    deleted = await s.delete_customer_addresses([home.id], {"operation_id": "op-da"})
    assert await s.undo_delete_customer_addresses("op-da") is True
    assert await s.undo_delete_customer_addresses("op-da") is False
    back = await s.retrieve_customer_address(home.id)
    assert back == deleted[0]


async def test_undo_unset_defaults_conflicts_with_a_newer_default(
    s: S, world: Seed, engine: AsyncEngine
) -> None:
    ann, work = world["ann"], world["work"]
    await s.unset_default_addresses([ann.id], "is_default_shipping", {"operation_id": "op-un"})
    await s.set_default_address(work.id, "is_default_shipping")
    before = await fingerprint(engine)
    with pytest.raises(ConflictError) as err:
        await s.undo_unset_default_addresses("op-un")
    assert err.value.field == "is_default_shipping"
    assert await fingerprint(engine) == before


async def test_undo_group_and_membership_steps(s: S, world: Seed, engine: AsyncEngine) -> None:
    ann, bob, vip = world["ann"], world["bob"], world["group"]
    group = await s.create_customer_groups({"name": "Temp"}, {"operation_id": "op-cg"})
    assert await s.undo_create_customer_groups("op-cg") is True
    assert await s.list_customer_groups({"id": group.id}, {"with_deleted": True}) == []
    await s.soft_delete_customer_groups([vip.id], {"operation_id": "op-sg"})
    assert await s.undo_soft_delete_customer_groups("op-sg") is True
    assert (await s.retrieve_customer_group(vip.id)).deleted_at is None

    change = await s.change_memberships(
        add=[{"customer_id": bob.id, "customer_group_id": vip.id},
             {"customer_id": ann.id, "customer_group_id": vip.id}],  # already a member
        remove=[],
        ctx={"operation_id": "op-cm"},
    )  # fmt: skip
    assert change.added == [(bob.id, vip.id)]
    assert await s.undo_change_memberships("op-cm") is True
    assert await s.undo_change_memberships("op-cm") is False
    members = await s.list_customer_group_customers({"customer_group_id": vip.id})
    assert [(m.id, m.customer_id) for m in members] == [(world["membership_id"], ann.id)]

    await s.change_memberships(
        remove=[{"customer_id": ann.id, "customer_group_id": vip.id}],
        ctx={"operation_id": "op-rm"},
    )
    assert await s.undo_change_memberships("op-rm") is True
    assert [c.id for c in await s.list_customers({"groups": vip.id})] == [ann.id]


async def test_undo_set_auth_identity(s: S, world: Seed) -> None:
    ann = world["ann"]
    await s.set_auth_identity(ann.id, "auth_1", None, {"operation_id": "op-auth"})
    assert (await s.retrieve_customer(ann.id)).auth_identity_id == "auth_1"
    await s.set_auth_identity(ann.id, "auth_1", None, {"operation_id": "op-auth"})  # repeat
    assert await s.undo_set_auth_identity("op-auth") is True
    assert await s.undo_set_auth_identity("op-auth") is False
    assert (await s.retrieve_customer(ann.id)).auth_identity_id is None


async def test_undo_of_another_kind_of_operation_is_refused(
    s: S, world: Seed, engine: AsyncEngine
) -> None:
    await s.create_customer_groups({"name": "Kind"}, {"operation_id": "op-kind"})
    before = await fingerprint(engine)
    with pytest.raises(InvalidDataError) as err:
        await s.undo_create_customers("op-kind")
    assert err.value.field == "operation_id"
    await s.update_customers(world["ann"].id, {"first_name": "X"}, {"operation_id": "op-upd"})
    before = await fingerprint(engine)
    for undo in (s.undo_update_customer_groups, s.undo_create_customers):
        with pytest.raises(InvalidDataError) as err:
            await undo("op-upd")  # a customer update is not a group update
        assert err.value.field == "operation_id"
    assert await fingerprint(engine) == before
