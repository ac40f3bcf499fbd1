"""SPEC §7 "Data layer": tables, columns, ids, timestamps, soft delete, unique rules, cascades."""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_service import AlreadyExistsError, CustomerModuleService, NotFoundError
from tests.helpers import Seed, fetch, scalar

ULID = r"[0-9A-HJKMNP-TV-Z]{26}"

TIMESTAMPS = {
    "created_at": ("timestamp with time zone", False, "now()"),
    "updated_at": ("timestamp with time zone", False, "now()"),
    "deleted_at": ("timestamp with time zone", True, None),
}
# (type, nullable, default) per column, SPEC §1.2–1.5 (+ auth_identity_id, decision 8).
EXPECTED_COLUMNS: dict[str, dict[str, tuple[str, bool, str | None]]] = {
    "customer": {
        "id": ("text", False, None),
        "company_name": ("text", True, None),
        "first_name": ("text", True, None),
        "last_name": ("text", True, None),
        "email": ("text", True, None),
        "phone": ("text", True, None),
        "has_account": ("boolean", False, "false"),
        "auth_identity_id": ("text", True, None),
        "metadata": ("jsonb", True, None),
        "created_by": ("text", True, None),
        **TIMESTAMPS,
    },
    "customer_address": {
        "id": ("text", False, None),
        "customer_id": ("text", False, None),
        "address_name": ("text", True, None),
        "is_default_shipping": ("boolean", False, "false"),
        "is_default_billing": ("boolean", False, "false"),
        **{
            c: ("text", True, None)
            for c in (
                "company",
                "first_name",
                "last_name",
                "address_1",
                "address_2",
                "city",
                "country_code",
                "province",
                "postal_code",
                "phone",
            )
        },
        "metadata": ("jsonb", True, None),
        **TIMESTAMPS,
    },
    "customer_group": {
        "id": ("text", False, None),
        "name": ("text", False, None),
        "metadata": ("jsonb", True, None),
        "created_by": ("text", True, None),
        **TIMESTAMPS,
    },
    "customer_group_customer": {
        "id": ("text", False, None),
        "customer_id": ("text", False, None),
        "customer_group_id": ("text", False, None),
        "created_by": ("text", True, None),
        "metadata": ("jsonb", True, None),
        **TIMESTAMPS,
    },
}


async def test_tables_columns_nullability_and_defaults(engine: AsyncEngine) -> None:
    rows = await fetch(
        engine,
        """SELECT table_name, column_name, data_type, is_nullable, column_default
           FROM information_schema.columns
           WHERE table_schema = current_schema() AND table_name = ANY(:tables)""",
        tables=list(EXPECTED_COLUMNS),
    )
    actual: dict[str, dict[str, tuple[str, bool, str | None]]] = {}
    for r in rows:
        actual.setdefault(r["table_name"], {})[r["column_name"]] = (
            r["data_type"],
            r["is_nullable"] == "YES",
            r["column_default"],
        )
    assert actual == EXPECTED_COLUMNS


async def test_primary_keys_and_foreign_keys_cascade(engine: AsyncEngine) -> None:
    pks = await fetch(
        engine,
        """SELECT conrelid::regclass::text AS tbl, conname, pg_get_constraintdef(oid) AS def
           FROM pg_constraint WHERE contype = 'p' AND conrelid::regclass::text = ANY(:t)""",
        t=list(EXPECTED_COLUMNS),
    )
    assert {(r["tbl"], r["conname"], r["def"]) for r in pks} == {
        (t, f"{t}_pkey", "PRIMARY KEY (id)") for t in EXPECTED_COLUMNS
    }
    fks = await fetch(
        engine,
        """SELECT conrelid::regclass::text AS tbl, confrelid::regclass::text AS ref,
                  a.attname AS col, confdeltype, confupdtype
           FROM pg_constraint c JOIN pg_attribute a
             ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
           WHERE contype = 'f'""",
    )
    assert {(r["tbl"], r["col"], r["ref"], r["confdeltype"], r["confupdtype"]) for r in fks} == {
        ("customer_address", "customer_id", "customer", "c", "c"),
        ("customer_group_customer", "customer_id", "customer", "c", "c"),
        ("customer_group_customer", "customer_group_id", "customer_group", "c", "c"),
        # Delivery records go with their event (retention, erasure); ids never change.
        ("event_delivery", "event_id", "event_outbox", "c", "a"),
        ("event_plan", "event_id", "event_outbox", "c", "a"),
    }


async def test_indexes_of_spec_1_6(engine: AsyncEngine) -> None:
    rows = await fetch(
        engine,
        """SELECT i.relname AS name, ix.indisunique AS uniq,
                  pg_get_expr(ix.indpred, ix.indrelid) AS pred, t.relname AS tbl,
                  pg_get_indexdef(ix.indexrelid) AS def
           FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid
           JOIN pg_class t ON t.oid = ix.indrelid
           WHERE t.relname = ANY(:t) AND NOT ix.indisprimary""",
        t=list(EXPECTED_COLUMNS),
    )
    got = {r["name"]: r for r in rows}
    expected = {
        # name: (table, unique, predicate, key text in the definition)
        "IDX_customer_email_has_account_unique": (
            "customer",
            True,
            "(deleted_at IS NULL)",
            "(lower(email), has_account)",
        ),
        "IDX_customer_deleted_at": ("customer", False, "(deleted_at IS NULL)", "(deleted_at)"),
        "IDX_customer_address_customer_id": ("customer_address", False, None, "(customer_id)"),
        "IDX_customer_address_unique_customer_billing": (
            "customer_address",
            True,
            "(is_default_billing = true)",
            "(customer_id)",
        ),
        "IDX_customer_address_unique_customer_shipping": (
            "customer_address",
            True,
            "(is_default_shipping = true)",
            "(customer_id)",
        ),
        "IDX_customer_address_deleted_at": (
            "customer_address",
            False,
            "(deleted_at IS NULL)",
            "(deleted_at)",
        ),
        "IDX_customer_group_name_unique": (
            "customer_group",
            True,
            "(deleted_at IS NULL)",
            "(name)",
        ),
        "IDX_customer_group_deleted_at": (
            "customer_group",
            False,
            "(deleted_at IS NULL)",
            "(deleted_at)",
        ),
        "IDX_customer_group_customer_customer_group_id": (
            "customer_group_customer",
            False,
            "(deleted_at IS NULL)",
            "(customer_group_id)",
        ),
        "IDX_customer_group_customer_customer_id": (
            "customer_group_customer",
            False,
            None,
            "(customer_id)",
        ),
        "IDX_customer_group_customer_deleted_at": (
            "customer_group_customer",
            False,
            "(deleted_at IS NULL)",
            "(deleted_at)",
        ),
        # decision 2: membership is a set among live rows
        "IDX_customer_group_customer_pair_unique": (
            "customer_group_customer",
            True,
            "(deleted_at IS NULL)",
            "(customer_id, customer_group_id)",
        ),
    }
    for name, (tbl, uniq, pred, key) in expected.items():
        assert name in got, f"missing index {name}"
        row = got[name]
        assert (row["tbl"], row["uniq"], row["pred"]) == (tbl, uniq, pred), name
        assert f"btree {key}" in row["def"], row["def"]
    # the old redundant group-name index is gone (Migration20251010130829)
    assert "IDX_customer_group_name" not in got
    for trgm in (
        "IDX_customer_search_trgm",
        "IDX_customer_address_search_trgm",
        "IDX_customer_group_search_trgm",
    ):
        assert "USING gin" in got[trgm]["def"] and "gin_trgm_ops" in got[trgm]["def"]


# --- ids and timestamps ----------------------------------------------------------------------


async def test_generated_ids_are_prefixed_ulids_and_given_ids_are_kept(
    service: CustomerModuleService,
) -> None:
    customer = await service.create_customers({"email": "a@example.com", "addresses": [{}]})
    group = await service.create_customer_groups({"name": "G"})
    link = await service.add_customer_to_group(
        {"customer_id": customer.id, "customer_group_id": group.id}
    )
    assert re.fullmatch(f"cus_{ULID}", customer.id)
    assert customer.addresses and re.fullmatch(f"cuaddr_{ULID}", customer.addresses[0].id or "")
    assert re.fullmatch(f"cusgroup_{ULID}", group.id)
    assert re.fullmatch(f"cusgc_{ULID}", link["id"])

    mine = await service.create_customers({"id": "my-own-id", "addresses": [{"id": "addr-1"}]})
    assert mine.id == "my-own-id"
    assert mine.addresses and mine.addresses[0].id == "addr-1"
    assert (await service.create_customer_groups({"id": "grp-1", "name": "H"})).id == "grp-1"
    address = await service.create_customer_addresses({"id": "addr-2", "customer_id": "my-own-id"})
    assert address.id == "addr-2"
    membership = await service.add_customer_to_group(
        {"id": "m-1", "customer_id": "my-own-id", "customer_group_id": "grp-1"}
    )
    assert membership == {"id": "m-1"}


async def test_generated_ids_sort_by_creation_time(service: CustomerModuleService) -> None:
    created = []
    for i in range(3):
        created.append((await service.create_customers({"first_name": f"c{i}"})).id)
        await asyncio.sleep(0.002)
    assert created == sorted(created)
    # within one batch (one millisecond) too: listing by id keeps the input order
    batch = await service.create_customers(
        [
            {"first_name": f"b{i:03}", "addresses": [{"city": f"{i}a"}, {"city": f"{i}b"}]}
            for i in range(200)
        ]
    )
    assert [c.id for c in batch] == sorted(c.id for c in batch)
    listed = await service.list_customers({"id": [c.id for c in batch]})
    assert [c.first_name for c in listed] == [f"b{i:03}" for i in range(200)]
    cities = [
        a.city for a in await service.list_customer_addresses({"customer": {"id": batch[7].id}})
    ]
    assert cities == ["7a", "7b"]


async def test_timestamps_default_to_now_and_updated_at_is_refreshed(
    service: CustomerModuleService, engine: AsyncEngine
) -> None:
    db_now = await scalar(engine, "SELECT now()")
    customer = await service.create_customers({"email": "t@example.com", "addresses": [{}]})
    group = await service.create_customer_groups({"name": "T"})
    assert customer.created_at and customer.created_at >= db_now
    assert customer.updated_at == customer.created_at
    assert customer.deleted_at is None
    assert customer.addresses and customer.addresses[0].created_at
    address_id = customer.addresses[0].id

    updated = await service.update_customers(customer.id, {"first_name": "New"})
    assert updated.updated_at > customer.updated_at
    assert updated.created_at == customer.created_at

    address = await service.retrieve_customer_address(address_id)
    moved = await service.update_customer_addresses(address_id, {"city": "Rome"})
    assert moved.updated_at > address.updated_at

    renamed = await service.update_customer_groups(group.id, {"name": "T2"})
    assert renamed.updated_at > group.updated_at


# --- soft delete ---------------------------------------------------------------------------


async def test_soft_deleted_rows_are_hidden_unless_with_deleted(
    service: CustomerModuleService, world: Seed
) -> None:
    ann, group, home = world["ann"], world["group"], world["home"]
    await service.soft_delete_customer_addresses([home.id])
    await service.soft_delete_customer_groups([group.id])
    await service.soft_delete_customer_group_customers([world["membership_id"]])
    await service.soft_delete_customers([world["bob"].id])

    assert [c.id for c in await service.list_customers()] == [ann.id]
    assert [a.id for a in await service.list_customer_addresses()] == [world["work"].id]
    assert await service.list_customer_groups() == []
    assert await service.list_customer_group_customers() == []
    assert (await service.list_and_count_customers())[1] == 1

    wd = {"with_deleted": True}
    assert len(await service.list_customers(None, wd)) == 2
    assert len(await service.list_customer_addresses(None, wd)) == 2
    assert [g.id for g in await service.list_customer_groups(None, wd)] == [group.id]
    assert len(await service.list_customer_group_customers(None, wd)) == 1
    assert (await service.list_and_count_customers(None, wd))[1] == 2

    got = await service.retrieve_customer_group(group.id, wd)
    assert got.deleted_at is not None
    with pytest.raises(NotFoundError, match="was not found"):
        await service.retrieve_customer_group(group.id)


async def test_soft_deleting_a_customer_cascades_to_addresses_not_memberships(
    service: CustomerModuleService, world: Seed, engine: AsyncEngine
) -> None:
    ann, group = world["ann"], world["group"]
    result = await service.soft_delete_customers([ann.id])
    assert result == {
        "customer_id": [ann.id],
        "customer_address_id": sorted([world["home"].id, world["work"].id]),
    }
    deleted = await fetch(
        engine,
        "SELECT id FROM customer_address WHERE customer_id = :c AND deleted_at IS NOT NULL",
        c=ann.id,
    )
    assert len(deleted) == 2
    pivot = await fetch(engine, "SELECT deleted_at FROM customer_group_customer")
    assert pivot == [{"deleted_at": None}]
    # the member vanishes from the group by read filtering
    got = await service.retrieve_customer_group(group.id, {"relations": ["customers"]})
    assert got.customers == []
    assert await service.list_customer_groups({"customers": ann.id}) == []


async def test_restoring_a_customer_restores_every_soft_deleted_address(
    service: CustomerModuleService, world: Seed
) -> None:
    ann = world["ann"]
    # one address was soft-deleted on its own before the customer was
    await service.soft_delete_customer_addresses([world["work"].id])
    await service.soft_delete_customers([ann.id])
    restored = await service.restore_customers([ann.id])
    assert restored == {
        "customer_id": [ann.id],
        "customer_address_id": sorted([world["home"].id, world["work"].id]),
    }
    got = await service.retrieve_customer(ann.id, {"relations": ["addresses", "groups"]})
    assert got.deleted_at is None
    assert sorted(a.id for a in got.addresses or []) == sorted([world["home"].id, world["work"].id])
    assert [g.id for g in got.groups or []] == [world["group"].id]


async def test_soft_deleting_a_group_does_not_cascade(
    service: CustomerModuleService, world: Seed, engine: AsyncEngine
) -> None:
    ann, group = world["ann"], world["group"]
    assert await service.soft_delete_customer_groups([group.id]) == {
        "customer_group_id": [group.id]
    }
    assert await scalar(engine, "SELECT count(*) FROM customer WHERE deleted_at IS NULL") == 2
    pivot = await fetch(engine, "SELECT deleted_at FROM customer_group_customer")
    assert pivot == [{"deleted_at": None}]
    got = await service.retrieve_customer(ann.id, {"relations": ["groups"]})
    assert got.groups == []
    assert await service.list_customers({"groups": group.id}) == []
    await service.restore_customer_groups([group.id])
    got = await service.retrieve_customer(ann.id, {"relations": ["groups"]})
    assert [g.id for g in got.groups or []] == [group.id]


# --- hard delete cascades ------------------------------------------------------------------


async def test_hard_deleting_a_customer_removes_its_addresses_and_memberships(
    service: CustomerModuleService, world: Seed, engine: AsyncEngine
) -> None:
    await service.delete_customers([world["ann"].id])
    assert await scalar(engine, "SELECT count(*) FROM customer_address") == 0
    assert await scalar(engine, "SELECT count(*) FROM customer_group_customer") == 0
    assert await scalar(engine, "SELECT count(*) FROM customer_group") == 1
    assert [c.id for c in await service.list_customers(None, {"with_deleted": True})] == [
        world["bob"].id
    ]


async def test_hard_deleting_a_group_removes_its_memberships_only(
    service: CustomerModuleService, world: Seed, engine: AsyncEngine
) -> None:
    await service.delete_customer_groups(world["group"].id)
    assert await scalar(engine, "SELECT count(*) FROM customer_group_customer") == 0
    assert await scalar(engine, "SELECT count(*) FROM customer") == 2


async def test_fk_on_update_cascade(service: CustomerModuleService, world: Seed, engine) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE customer SET id = 'renamed' WHERE id = :i"), {"i": world["ann"].id}
        )
    rows = await fetch(engine, "SELECT DISTINCT customer_id FROM customer_address")
    assert rows == [{"customer_id": "renamed"}]
    members = await service.list_customer_group_customers()
    assert [m.customer_id for m in members] == ["renamed"]


# --- unique rules ---------------------------------------------------------------------------


async def test_email_unique_per_has_account_case_insensitively_among_live_rows(
    service: CustomerModuleService,
) -> None:
    guest = await service.create_customers({"email": "Mixed.Case@Example.com"})
    assert guest.email == "Mixed.Case@Example.com"  # stored as typed
    with pytest.raises(AlreadyExistsError) as err:
        await service.create_customers({"email": "mixed.case@example.COM"})
    assert err.value.type == "invalid_data"
    assert err.value.field == "email"
    # decision 12: the email as this caller typed it, not as the index lower-cases it
    assert err.value.message == (
        "Customer with email: mixed.case@example.COM, has_account: false, already exists."
    )
    # a registered customer may share the email with the guest
    registered = await service.create_customers(
        {"email": "MIXED.case@example.com", "has_account": True}
    )
    with pytest.raises(AlreadyExistsError, match="has_account: true, already exists"):
        await service.create_customers({"email": "mixed.CASE@example.com", "has_account": True})
    # soft-deleting frees the email
    await service.soft_delete_customers([guest.id])
    again = await service.create_customers({"email": "MIXED.CASE@EXAMPLE.COM"})
    live = await service.list_customers({"id": [guest.id, registered.id, again.id]})
    assert {c.id for c in live} == {registered.id, again.id}


async def test_email_is_trimmed_and_null_emails_never_collide(
    service: CustomerModuleService,
) -> None:
    trimmed = await service.create_customers({"email": "  padded@example.com \t"})
    assert trimmed.email == "padded@example.com"
    with pytest.raises(AlreadyExistsError):
        await service.create_customers({"email": "PADDED@example.com"})
    nobody = await service.create_customers([{"first_name": "x"}, {"email": None}, {}])
    assert len({c.id for c in nobody}) == 3


async def test_email_uniqueness_is_enforced_by_the_database_itself(
    service: CustomerModuleService, engine: AsyncEngine
) -> None:
    await service.create_customers({"email": "raw@example.com"})
    with pytest.raises(IntegrityError, match="IDX_customer_email_has_account_unique"):
        async with engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO customer (id, email) VALUES ('x', 'RAW@example.com')")
            )


async def test_one_default_billing_and_one_default_shipping_per_customer(
    service: CustomerModuleService, world: Seed, engine: AsyncEngine
) -> None:
    ann = world["ann"]
    for flag in ("is_default_shipping", "is_default_billing"):
        with pytest.raises(AlreadyExistsError) as err:
            await service.create_customer_addresses({"customer_id": ann.id, flag: True})
        assert err.value.message == f"Customer address with customer_id: {ann.id}, already exists."
        assert err.value.field == flag
    # the database index ignores deleted_at (SPEC §1.6)
    await service.soft_delete_customer_addresses([world["home"].id])
    with pytest.raises(IntegrityError, match="IDX_customer_address_unique_customer_shipping"):
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO customer_address (id, customer_id, is_default_shipping) "
                    "VALUES ('a', :c, true)"
                ),
                {"c": ann.id},
            )
    # another customer has its own defaults
    bob = world["bob"]
    both = await service.create_customer_addresses(
        {"customer_id": bob.id, "is_default_shipping": True, "is_default_billing": True}
    )
    assert both.is_default_shipping and both.is_default_billing


async def test_group_name_unique_among_live_groups(service: CustomerModuleService) -> None:
    group = await service.create_customer_groups({"name": "VIP"})
    with pytest.raises(AlreadyExistsError) as err:
        await service.create_customer_groups({"name": "VIP"})
    assert err.value.message == "Customer group with name: VIP, already exists."
    assert err.value.field == "name"
    await service.soft_delete_customer_groups([group.id])
    reused = await service.create_customer_groups({"name": "VIP"})
    assert reused.id != group.id


async def test_pivot_holds_one_live_row_per_pair(
    service: CustomerModuleService, world: Seed, engine: AsyncEngine
) -> None:
    ann, group = world["ann"], world["group"]
    with pytest.raises(IntegrityError, match="IDX_customer_group_customer_pair_unique"):
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO customer_group_customer (id, customer_id, customer_group_id) "
                    "VALUES ('dup', :c, :g)"
                ),
                {"c": ann.id, "g": group.id},
            )
    # a soft-deleted row does not count: the pair can be live again
    await service.soft_delete_customer_group_customers([world["membership_id"]])
    again = await service.add_customer_to_group(
        {"customer_id": ann.id, "customer_group_id": group.id}
    )
    assert again["id"] != world["membership_id"]
    assert await scalar(engine, "SELECT count(*) FROM customer_group_customer") == 2


async def test_absent_metadata_is_sql_null(
    service: CustomerModuleService, engine: AsyncEngine
) -> None:
    """`metadata jsonb NULL` (SPEC §1.1): no metadata is NULL, not the JSON value null."""
    customer = await service.create_customers({"addresses": [{}]})
    group = await service.create_customer_groups({"name": "g"})
    await service.add_customer_to_group({"customer_id": customer.id, "customer_group_id": group.id})
    for table in EXPECTED_COLUMNS:
        assert await scalar(engine, f"SELECT count(*) FROM {table} WHERE metadata IS NULL") == 1
    assert [c.id for c in await service.list_customers({"metadata": None})] == [customer.id]
    assert customer.metadata is None
