"""Bad input on every public method: a typed `CustomerModuleError` naming the field, and a database
left exactly as it was. No raw SQLAlchemy, psycopg or pydantic error may escape."""

from __future__ import annotations

import contextlib
import string
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_service import (
    AlreadyExistsError,
    ConflictError,
    CustomerModuleError,
    CustomerModuleService,
    InvalidDataError,
    NotFoundError,
)
from tests.helpers import Seed, fingerprint, unchanged_after

S = CustomerModuleService
Call = Callable[[S, Seed], Awaitable[Any]]
LONG = "x" * 256
NUL = "bad\x00value"


def ann(w: Seed) -> str:
    return str(w["ann"].id)


def home(w: Seed) -> str:
    return str(w["home"].id)


def group(w: Seed) -> str:
    return str(w["group"].id)


# (case id, call, expected error, expected field — exact, or None when no field applies)
CASES: list[tuple[str, Call, type[CustomerModuleError], str | None]] = [
    # --- create_customers
    ("create: not an object", lambda s, w: s.create_customers(5), InvalidDataError, "data"),
    ("create: None", lambda s, w: s.create_customers(None), InvalidDataError, "data"),
    ("create: a string", lambda s, w: s.create_customers("x"), InvalidDataError, "data"),
    ("create: unknown field", lambda s, w: s.create_customers({"nickname": "x"}),
     InvalidDataError, "data.nickname"),
    ("create: email not a string", lambda s, w: s.create_customers({"email": 5}),
     InvalidDataError, "data.email"),
    ("create: invalid email", lambda s, w: s.create_customers({"email": "not-an-email"}),
     InvalidDataError, "data.email"),
    ("create: over-long email",
     lambda s, w: s.create_customers({"email": "a" * 320 + "@example.com"}),
     InvalidDataError, "data.email"),
    ("create: NUL in email", lambda s, w: s.create_customers({"email": "a\x00b@example.com"}),
     InvalidDataError, "data.email"),
    ("create: over-long name", lambda s, w: s.create_customers({"first_name": LONG}),
     InvalidDataError, "data.first_name"),
    ("create: NUL in name", lambda s, w: s.create_customers({"last_name": NUL}),
     InvalidDataError, "data.last_name"),
    ("create: has_account not bool", lambda s, w: s.create_customers({"has_account": "yes"}),
     InvalidDataError, "data.has_account"),
    ("create: metadata not object", lambda s, w: s.create_customers({"metadata": "x"}),
     InvalidDataError, "data.metadata"),
    ("create: NUL in metadata", lambda s, w: s.create_customers({"metadata": {"k": NUL}}),
     InvalidDataError, "data.metadata"),
    ("create: NaN in metadata", lambda s, w: s.create_customers({"metadata": {"k": float("nan")}}),
     InvalidDataError, "data.metadata"),
    ("create: huge metadata", lambda s, w: s.create_customers({"metadata": {"k": "x" * 20000}}),
     InvalidDataError, "data.metadata"),
    ("create: empty id", lambda s, w: s.create_customers({"id": ""}), InvalidDataError, "data.id"),
    ("create: over-long id", lambda s, w: s.create_customers({"id": "c" * 65}),
     InvalidDataError, "data.id"),
    ("create: second item bad", lambda s, w: s.create_customers([{}, {"phone": 5}]),
     InvalidDataError, "data[1].phone"),
    ("create: addresses not a list", lambda s, w: s.create_customers({"addresses": "x"}),
     InvalidDataError, "data.addresses"),
    ("create: unknown address field",
     lambda s, w: s.create_customers({"addresses": [{"zip": "1"}]}),
     InvalidDataError, "data.addresses.0.zip"),
    ("create: nested customer_id",
     lambda s, w: s.create_customers({"addresses": [{"customer_id": "x"}]}),
     InvalidDataError, "data.addresses.0.customer_id"),
    ("create: existing email", lambda s, w: s.create_customers({"email": "ANN@example.com"}),
     AlreadyExistsError, "email"),
    ("create: taken id, other content",
     lambda s, w: s.create_customers({"id": ann(w), "email": "new@example.com"}),
     AlreadyExistsError, "id"),
    ("create: ctx not an object", lambda s, w: s.create_customers({}, "op"),
     InvalidDataError, "ctx"),
    ("create: ctx unknown field", lambda s, w: s.create_customers({}, {"op": "x"}),
     InvalidDataError, "ctx.op"),
    ("create: ctx operation_id type", lambda s, w: s.create_customers({}, {"operation_id": 5}),
     InvalidDataError, "ctx.operation_id"),
    # --- reads
    ("retrieve: id not a string", lambda s, w: s.retrieve_customer(5), InvalidDataError, "id"),
    ("retrieve: no id", lambda s, w: s.retrieve_customer(None), NotFoundError, "id"),
    ("retrieve: unknown id", lambda s, w: s.retrieve_customer("cus_x"), NotFoundError, "id"),
    ("retrieve: NUL in id", lambda s, w: s.retrieve_customer(NUL), InvalidDataError, "filters.id"),
    ("retrieve: config not an object", lambda s, w: s.retrieve_customer(ann(w), "x"),
     InvalidDataError, "config"),
    ("retrieve: unknown relation",
     lambda s, w: s.retrieve_customer(ann(w), {"relations": ["orders"]}),
     InvalidDataError, "config.relations"),
    ("retrieve: unknown select", lambda s, w: s.retrieve_customer(ann(w), {"select": ["pwd"]}),
     InvalidDataError, "config.select"),
    ("retrieve: unknown nested select",
     lambda s, w: s.retrieve_customer(ann(w), {"select": ["addresses.pwd"]}),
     InvalidDataError, "config.select"),
    ("list: unknown config key", lambda s, w: s.list_customers(None, {"limit": 5}),
     InvalidDataError, "config.limit"),
    ("list: negative take", lambda s, w: s.list_customers(None, {"take": -1}),
     InvalidDataError, "config.take"),
    ("list: take not int", lambda s, w: s.list_customers(None, {"take": "ten"}),
     InvalidDataError, "config.take"),
    ("list: huge skip", lambda s, w: s.list_customers(None, {"skip": 10**30}),
     InvalidDataError, "config.skip"),
    ("list: unknown order field", lambda s, w: s.list_customers(None, {"order": {"pwd": "ASC"}}),
     InvalidDataError, "config.order"),
    ("list: bad order direction",
     lambda s, w: s.list_customers(None, {"order": {"email": "sideways"}}),
     InvalidDataError, "config.order.email"),
    ("list: with_deleted not bool", lambda s, w: s.list_customers(None, {"with_deleted": "yes"}),
     InvalidDataError, "config.with_deleted"),
    ("list: filters not an object", lambda s, w: s.list_customers("x"), InvalidDataError, "filters"),
    ("list: unknown filter field", lambda s, w: s.list_customers({"password": "x"}),
     InvalidDataError, "filters.password"),
    ("list: legacy default address filter",
     lambda s, w: s.list_customers({"default_billing_address_id": "x"}),
     InvalidDataError, "filters.default_billing_address_id"),
    ("list: unknown operator", lambda s, w: s.list_customers({"email": {"$fuzzy": "x"}}),
     InvalidDataError, "filters.email.$fuzzy"),
    ("list: empty operator map", lambda s, w: s.list_customers({"email": {}}),
     InvalidDataError, "filters.email"),
    ("list: operator map with plain key", lambda s, w: s.list_customers({"email": {"a": 1}}),
     InvalidDataError, "filters.email"),
    ("list: int for text", lambda s, w: s.list_customers({"email": 5}),
     InvalidDataError, "filters.email"),
    ("list: NUL in value", lambda s, w: s.list_customers({"email": NUL}),
     InvalidDataError, "filters.email"),
    ("list: string for bool", lambda s, w: s.list_customers({"has_account": "true"}),
     InvalidDataError, "filters.has_account"),
    ("list: bad date", lambda s, w: s.list_customers({"created_at": {"$gt": "yesterday"}}),
     InvalidDataError, "filters.created_at.$gt"),
    ("list: $in not a list", lambda s, w: s.list_customers({"email": {"$in": "x"}}),
     InvalidDataError, "filters.email.$in"),
    ("list: $in with int", lambda s, w: s.list_customers({"id": [ann(w), 5]}),
     InvalidDataError, "filters.id"),
    ("list: $like on jsonb", lambda s, w: s.list_customers({"metadata": {"$like": "x"}}),
     InvalidDataError, "filters.metadata.$like"),
    ("list: NUL in metadata filter", lambda s, w: s.list_customers({"metadata": {"\x00": 1}}),
     InvalidDataError, "filters.metadata"),
    ("list: NaN in metadata filter",
     lambda s, w: s.list_customers({"metadata": {"$eq": float("nan")}}),
     InvalidDataError, "filters.metadata.$eq"),
    ("list: NUL in metadata $contains",
     lambda s, w: s.list_customers({"metadata": {"$contains": {"k": NUL}}}),
     InvalidDataError, "filters.metadata.$contains"),
    ("list: $contains on a bool",
     lambda s, w: s.list_customers({"has_account": {"$contains": False}}),
     InvalidDataError, "filters.has_account.$contains"),
    ("list: range on a bool", lambda s, w: s.list_customers({"has_account": {"$gt": False}}),
     InvalidDataError, "filters.has_account.$gt"),
    ("list: $like on a date", lambda s, w: s.list_customers({"created_at": {"$like": "2024%"}}),
     InvalidDataError, "filters.created_at.$like"),
    ("list: $re on a date", lambda s, w: s.list_customers({"created_at": {"$re": "^2024"}}),
     InvalidDataError, "filters.created_at.$re"),
    ("list: $contains on a date",
     lambda s, w: s.list_customers({"updated_at": {"$contains": "2024"}}),
     InvalidDataError, "filters.updated_at.$contains"),
    ("list: $exists not bool", lambda s, w: s.list_customers({"email": {"$exists": 1}}),
     InvalidDataError, "filters.email.$exists"),
    ("list: $or not a list", lambda s, w: s.list_customers({"$or": {"email": "x"}}),
     InvalidDataError, "filters.$or"),
    ("list: bad filter inside $and", lambda s, w: s.list_customers({"$and": [{"pwd": 1}]}),
     InvalidDataError, "filters.$and[0].pwd"),
    ("list: nested too deeply",
     lambda s, w: s.list_customers(_nest({"email": "x"}, 12)), InvalidDataError, None),
    ("list: q not a string", lambda s, w: s.list_customers({"q": 5}),
     InvalidDataError, "filters.q"),
    ("list: NUL in q", lambda s, w: s.list_customers({"q": "a\x00b"}),
     InvalidDataError, "filters.q"),
    ("list: too many q words", lambda s, w: s.list_customers({"q": "a " * 40}),
     InvalidDataError, "filters.q"),
    ("list: q on memberships", lambda s, w: s.list_customer_group_customers({"q": "x"}),
     InvalidDataError, "filters.q"),
    ("list: bad relation filter", lambda s, w: s.list_customers({"groups": {"title": "x"}}),
     InvalidDataError, "filters.groups.title"),
    ("list: relation filter not an object", lambda s, w: s.list_customers({"groups": 5}),
     InvalidDataError, "filters.groups"),
    ("list: too many values",
     lambda s, w: s.list_customers({"id": [f"c{i}" for i in range(10_001)]}),
     InvalidDataError, "filters.id"),
    ("list addresses: bad filter",
     lambda s, w: s.list_and_count_customer_addresses({"country": "DE"}),
     InvalidDataError, "filters.country"),
    ("list groups: bad filter", lambda s, w: s.list_customer_groups({"customers": {"age": 1}}),
     InvalidDataError, "filters.customers.age"),
    # --- update_customers
    ("update: target not id/ids/selector", lambda s, w: s.update_customers(5, {}),
     InvalidDataError, "selector"),
    ("update: target None", lambda s, w: s.update_customers(None, {}),
     InvalidDataError, "selector"),
    ("update: a non-string id", lambda s, w: s.update_customers([ann(w), 5], {}),
     InvalidDataError, "ids"),
    ("update: malformed selector", lambda s, w: s.update_customers({"pwd": "x"}, {"phone": "1"}),
     InvalidDataError, "selector.pwd"),
    ("update: unknown id", lambda s, w: s.update_customers("cus_x", {"phone": "1"}),
     NotFoundError, "id"),
    ("update: unknown ids", lambda s, w: s.update_customers([ann(w), "cus_x"], {"phone": "1"}),
     NotFoundError, "ids"),
    ("update: data not an object", lambda s, w: s.update_customers(ann(w), None),
     InvalidDataError, "data"),
    ("update: has_account is not updatable",
     lambda s, w: s.update_customers(ann(w), {"has_account": True}),
     InvalidDataError, "data.has_account"),
    ("update: id is not updatable", lambda s, w: s.update_customers(ann(w), {"id": "x"}),
     InvalidDataError, "data.id"),
    ("update: invalid email", lambda s, w: s.update_customers(ann(w), {"email": "a@"}),
     InvalidDataError, "data.email"),
    ("update: over-long", lambda s, w: s.update_customers(ann(w), {"company_name": LONG}),
     InvalidDataError, "data.company_name"),
    ("update: NUL", lambda s, w: s.update_customers(ann(w), {"phone": NUL}),
     InvalidDataError, "data.phone"),
    ("update: taken email",
     lambda s, w: s.update_customers(str(w["bob"].id), {"email": "ann@EXAMPLE.com"}),
     AlreadyExistsError, "email"),
    ("update tracked: bad ctx",
     lambda s, w: s.update_customers_tracked(ann(w), {"phone": "1"}, {"operation_id": ""}),
     InvalidDataError, "ctx.operation_id"),
    ("update tracked: unknown id",
     lambda s, w: s.update_customers_tracked(["cus_x"], {"phone": "1"}, {"operation_id": "o1"}),
     NotFoundError, "ids"),
    # --- delete / soft delete / restore
    ("delete: not ids", lambda s, w: s.delete_customers(5), InvalidDataError, "ids"),
    ("delete: None", lambda s, w: s.delete_customers(None), InvalidDataError, "ids"),
    ("delete: list with None", lambda s, w: s.delete_customers([None]), InvalidDataError, "ids"),
    ("delete: malformed id", lambda s, w: s.delete_customers(["c" * 65]),
     InvalidDataError, "ids"),
    ("delete: malformed selector", lambda s, w: s.delete_customers({"pwd": "x"}),
     InvalidDataError, "selector.pwd"),
    ("delete: empty selector", lambda s, w: s.delete_customers({}),
     InvalidDataError, "selector"),
    ("soft delete: not ids", lambda s, w: s.soft_delete_customers(5), InvalidDataError, "ids"),
    ("soft delete: NUL id", lambda s, w: s.soft_delete_customers([NUL]), InvalidDataError, "ids"),
    ("soft delete: bad ctx",
     lambda s, w: s.soft_delete_customers([ann(w)], {"event_group_id": 5}),
     InvalidDataError, "ctx.event_group_id"),
    ("restore: unknown id", lambda s, w: s.restore_customers(["cus_x"]), NotFoundError, "ids"),
    ("restore: not ids", lambda s, w: s.restore_customers({"id": "x"}), InvalidDataError, "ids"),
    ("restore: address_ids not ids",
     lambda s, w: s.restore_customers([ann(w)], address_ids=[5]),
     InvalidDataError, "address_ids"),
    # --- addresses
    ("address create: customer_id missing", lambda s, w: s.create_customer_addresses({}),
     InvalidDataError, "data.customer_id"),
    ("address create: unknown customer",
     lambda s, w: s.create_customer_addresses({"customer_id": "cus_x"}),
     NotFoundError, "customer_id"),
    ("address create: unknown field",
     lambda s, w: s.create_customer_addresses({"customer_id": ann(w), "zip": "1"}),
     InvalidDataError, "data.zip"),
    ("address create: flag not bool",
     lambda s, w: s.create_customer_addresses({"customer_id": ann(w), "is_default_billing": 1}),
     InvalidDataError, "data.is_default_billing"),
    ("address create: over-long",
     lambda s, w: s.create_customer_addresses({"customer_id": ann(w), "city": LONG}),
     InvalidDataError, "data.city"),
    ("address create: NUL",
     lambda s, w: s.create_customer_addresses({"customer_id": ann(w), "address_1": NUL}),
     InvalidDataError, "data.address_1"),
    ("address create: second default",
     lambda s, w: s.create_customer_addresses({"customer_id": ann(w), "is_default_billing": True}),
     AlreadyExistsError, "is_default_billing"),
    ("address retrieve: unknown", lambda s, w: s.retrieve_customer_address("cuaddr_x"),
     NotFoundError, "id"),
    ("address retrieve: not a string", lambda s, w: s.retrieve_customer_address(["x"]),
     InvalidDataError, "id"),
    ("address update: unknown",
     lambda s, w: s.update_customer_addresses("cuaddr_x", {"city": "X"}), NotFoundError, "id"),
    ("address update: flag to null",
     lambda s, w: s.update_customer_addresses(home(w), {"is_default_shipping": None}),
     InvalidDataError, "is_default_shipping"),  # NOT NULL, Medusa's message (SPEC §2.4)
    ("address update: customer_id to null",
     lambda s, w: s.update_customer_addresses(home(w), {"customer_id": None}),
     InvalidDataError, "customer_id"),
    ("address update: unknown customer",
     lambda s, w: s.update_customer_addresses(home(w), {"customer_id": "cus_x"}),
     NotFoundError, "customer_id"),
    ("address update: unknown field",
     lambda s, w: s.update_customer_addresses(home(w), {"street": "x"}),
     InvalidDataError, "data.street"),
    ("address update tracked: malformed selector",
     lambda s, w: s.update_customer_addresses_tracked({"city": {"$near": 1}}, {"city": "X"}),
     InvalidDataError, "selector.city.$near"),
    ("address delete: unknown", lambda s, w: s.delete_customer_addresses(["cuaddr_x"]),
     NotFoundError, "ids"),
    ("address delete recorded: unknown",
     lambda s, w: s.delete_customer_addresses(["cuaddr_x"], {"operation_id": "o1"}),
     NotFoundError, "ids"),
    ("address delete: not ids", lambda s, w: s.delete_customer_addresses(5),
     InvalidDataError, "ids"),
    ("address delete: bad ctx",
     lambda s, w: s.delete_customer_addresses([home(w)], {"operation_id": 5}),
     InvalidDataError, "ctx.operation_id"),
    ("address soft delete: unknown", lambda s, w: s.soft_delete_customer_addresses(["cuaddr_x"]),
     NotFoundError, "ids"),
    ("address restore: not ids", lambda s, w: s.restore_customer_addresses(5),
     InvalidDataError, "ids"),
    ("set default: not a string", lambda s, w: s.set_default_address(5, "is_default_billing"),
     InvalidDataError, "address_id"),
    ("set default: NUL id", lambda s, w: s.set_default_address(NUL, "is_default_billing"),
     InvalidDataError, "address_id"),
    ("set default: bad flag", lambda s, w: s.set_default_address(home(w), "is_default"),
     InvalidDataError, "flag"),
    ("set default: unknown", lambda s, w: s.set_default_address("cuaddr_x", "is_default_billing"),
     NotFoundError, "id"),
    ("unset defaults: not ids",
     lambda s, w: s.unset_default_addresses(5, "is_default_billing"),
     InvalidDataError, "customer_ids"),
    ("unset defaults: bad flag", lambda s, w: s.unset_default_addresses([ann(w)], "is_home"),
     InvalidDataError, "flag"),
    # --- groups
    ("group create: name missing", lambda s, w: s.create_customer_groups({}),
     InvalidDataError, "data.name"),
    ("group create: name not a string", lambda s, w: s.create_customer_groups({"name": 5}),
     InvalidDataError, "data.name"),
    ("group create: over-long", lambda s, w: s.create_customer_groups({"name": LONG}),
     InvalidDataError, "data.name"),
    ("group create: NUL", lambda s, w: s.create_customer_groups({"name": NUL}),
     InvalidDataError, "data.name"),
    ("group create: taken name", lambda s, w: s.create_customer_groups({"name": "VIP"}),
     AlreadyExistsError, "name"),
    ("group update: not updatable",
     lambda s, w: s.update_customer_groups(group(w), {"created_by": "x"}),
     InvalidDataError, "data.created_by"),
    ("group update: name to null",
     lambda s, w: s.update_customer_groups(group(w), {"name": None}),
     InvalidDataError, "name"),
    ("group update: unknown", lambda s, w: s.update_customer_groups(["g_x"], {"name": "Z"}),
     NotFoundError, "ids"),
    ("group update tracked: bad selector",
     lambda s, w: s.update_customer_groups_tracked({"customers": {"x": 1}}, {"name": "Z"}),
     InvalidDataError, "selector.customers.x"),
    ("group retrieve: unknown", lambda s, w: s.retrieve_customer_group("g_x"),
     NotFoundError, "id"),
    ("group delete: not ids", lambda s, w: s.delete_customer_groups(3.5),
     InvalidDataError, "ids"),
    ("group restore: unknown", lambda s, w: s.restore_customer_groups("g_x"),
     NotFoundError, "id"),
    # --- memberships
    ("add member: not an object", lambda s, w: s.add_customer_to_group(5),
     InvalidDataError, "data"),
    ("add member: group missing", lambda s, w: s.add_customer_to_group({"customer_id": ann(w)}),
     InvalidDataError, "data.customer_group_id"),
    ("add member: unknown group",
     lambda s, w: s.add_customer_to_group({"customer_id": ann(w), "customer_group_id": "g_x"}),
     NotFoundError, "customer_group_id"),
    ("add member: unknown customer",
     lambda s, w: s.add_customer_to_group({"customer_id": "c_x", "customer_group_id": group(w)}),
     NotFoundError, "customer_id"),
    ("add member: NUL id",
     lambda s, w: s.add_customer_to_group({"customer_id": NUL, "customer_group_id": group(w)}),
     InvalidDataError, "data.customer_id"),
    ("remove member: bad type",
     lambda s, w: s.remove_customer_from_group({"customer_id": 5, "customer_group_id": "g"}),
     InvalidDataError, "data.customer_id"),
    ("change memberships: add None", lambda s, w: s.change_memberships(add=None),
     InvalidDataError, "add"),
    ("change memberships: remove not a list", lambda s, w: s.change_memberships(remove=5),
     InvalidDataError, "remove"),
    ("change memberships: bad pair",
     lambda s, w: s.change_memberships(
         add=[{"customer_id": ann(w), "customer_group_id": group(w), "group": "x"}]),
     InvalidDataError, "add[0].group"),
    ("change memberships: unknown group",
     lambda s, w: s.change_memberships(add=[{"customer_id": ann(w), "customer_group_id": "g_x"}],
                                       ctx={"operation_id": "op"}),
     NotFoundError, "customer_group_id"),
    ("membership retrieve: not a string", lambda s, w: s.retrieve_customer_group_customer(1),
     InvalidDataError, "id"),
    ("membership soft delete: unknown",
     lambda s, w: s.soft_delete_customer_group_customers(["m_x"]), NotFoundError, "ids"),
    ("membership delete: not ids", lambda s, w: s.delete_customer_group_customers(True),
     InvalidDataError, "ids"),
    # --- accounts
    ("validate account: email not a string",
     lambda s, w: s.validate_customer_account_creation(5, None), InvalidDataError, "email"),
    ("validate account: NUL email",
     lambda s, w: s.validate_customer_account_creation("a\x00@b.com", None),
     InvalidDataError, "email"),
    ("validate account: auth id not a string",
     lambda s, w: s.validate_customer_account_creation("a@b.com", 5),
     InvalidDataError, "auth_identity_id"),
    ("validate account: no email",
     lambda s, w: s.validate_customer_account_creation(None, "auth_1"),
     InvalidDataError, "email"),
    ("set auth identity: id not a string", lambda s, w: s.set_auth_identity(5, "a", None),
     InvalidDataError, "customer_id"),
    ("set auth identity: value not a string",
     lambda s, w: s.set_auth_identity(ann(w), 5, None), InvalidDataError, "auth_identity_id"),
    ("set auth identity: unknown customer",
     lambda s, w: s.set_auth_identity("cus_x", "auth_1", None), NotFoundError, "id"),
    ("set auth identity: conflict",
     lambda s, w: s.set_auth_identity(ann(w), "auth_1", "auth_0"),
     ConflictError, "auth_identity_id"),
    # --- events
    ("release events: not a string", lambda s, w: s.release_events(5),
     InvalidDataError, "event_group_id"),
    ("discard events: None", lambda s, w: s.discard_events(None),
     InvalidDataError, "event_group_id"),
    ("list events: bad status", lambda s, w: s.list_events(status=5), InvalidDataError, "status"),
    # --- compensations
    ("undo: operation id not a string", lambda s, w: s.undo_create_customers(5),
     InvalidDataError, "operation_id"),
    ("undo update: no operation id", lambda s, w: s.undo_update_customers(None),
     InvalidDataError, "operation_id"),
    ("undo update: malformed operation id",
     lambda s, w: s.undo_update_customer_addresses("o" * 65), InvalidDataError, "operation_id"),
    ("undo unset defaults: NUL operation id",
     lambda s, w: s.undo_unset_default_addresses(NUL), InvalidDataError, "operation_id"),
    ("undo delete addresses: operation ids",
     lambda s, w: s.undo_delete_customer_addresses(["op_1"]), InvalidDataError, "operation_id"),
]  # fmt: skip


def _nest(inner: dict[str, Any], depth: int) -> dict[str, Any]:
    for _ in range(depth):
        inner = {"$and": [inner]}
    return inner


@pytest.mark.parametrize(
    ("call", "error", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_bad_input_is_a_typed_error_and_writes_nothing(
    service: S,
    world: Seed,
    engine: AsyncEngine,
    call: Call,
    error: type[CustomerModuleError],
    field: str | None,
) -> None:
    err = await unchanged_after(engine, lambda: call(service, world), error)
    assert isinstance(err, CustomerModuleError)
    assert type(err) is error, f"{type(err).__name__}: {err}"
    if field is not None:
        assert err.field == field, f"field {err.field!r}, message {err}"
    assert err.message and str(err) == err.message
    assert err.to_dict()["type"] == error.type


async def test_invalid_regex_is_invalid_data(service: S, world: Seed, engine: AsyncEngine) -> None:
    err = await unchanged_after(
        engine, lambda: service.list_customers({"email": {"$re": "(unclosed"}}), InvalidDataError
    )
    assert "regular expression" in str(err)


async def test_a_failed_operation_leaves_no_operation_record_or_event(
    service: S, world: Seed, engine: AsyncEngine
) -> None:
    """A repeat after a failure must act (nothing was recorded for the failed attempt)."""
    ctx = {"operation_id": "op-fail", "event_group_id": "run-1"}
    await unchanged_after(
        engine,
        lambda: service.create_customers({"email": "ann@example.com"}, ctx),
        AlreadyExistsError,
    )
    created = await service.create_customers({"email": "fresh@example.com"}, ctx)
    assert created.email == "fresh@example.com"


# --- fuzzing: whatever the input, only typed errors ------------------------------------------

_text = st.text(alphabet=string.printable + "\x00é%_\\", max_size=12)
_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True), _text
)
_json = st.recursive(
    _scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)
_FIELDS = [
    "id",
    "email",
    "first_name",
    "has_account",
    "metadata",
    "created_at",
    "groups",
    "q",
    "$and",
    "$or",
    "addresses",
    "phone",
    "nope",
]
_OPS = [
    "$eq",
    "$ne",
    "$in",
    "$nin",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$like",
    "$ilike",
    "$re",
    "$contains",
    "$exists",
    "$not",
    "$overlap",
    "x",
]
_value = st.one_of(_json, st.dictionaries(st.sampled_from(_OPS), _json, min_size=1, max_size=2))
_filters = st.dictionaries(st.sampled_from(_FIELDS), _value, max_size=3)
_config = st.dictionaries(
    st.sampled_from(["skip", "take", "order", "select", "relations", "with_deleted", "x"]),
    _json,
    max_size=2,
)
_customer = st.dictionaries(
    st.sampled_from(["email", "first_name", "has_account", "metadata", "addresses", "id", "x"]),
    _json,
    max_size=3,
)

FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@FUZZ
@given(filters=_filters, config=_config)
async def test_fuzzed_list_calls_raise_only_typed_errors(
    service: S, filters: dict[str, Any], config: dict[str, Any]
) -> None:
    with contextlib.suppress(CustomerModuleError):  # anything else fails the test
        await service.list_and_count_customers(filters, config)


_ANY_FIELD = st.sampled_from(
    ["id", "customer_id", "customer_group_id", "customer", "group", "customers", "name",
     "city", "is_default_billing", "country_code", "deleted_at", "updated_at", "q", "$or"]
)  # fmt: skip


@FUZZ
@given(
    entity=st.sampled_from(["customer_addresses", "customer_groups", "customer_group_customers"]),
    filters=st.dictionaries(_ANY_FIELD, _value, max_size=3),
    config=_config,
)
async def test_fuzzed_lists_of_other_entities_raise_only_typed_errors(
    service: S, entity: str, filters: dict[str, Any], config: dict[str, Any]
) -> None:
    with contextlib.suppress(CustomerModuleError):  # anything else fails the test
        await getattr(service, f"list_and_count_{entity}")(filters, config)


@FUZZ
@given(data=st.one_of(_customer, st.lists(_customer, max_size=2), _json))
async def test_fuzzed_creates_raise_only_typed_errors(service: S, data: Any) -> None:
    with contextlib.suppress(CustomerModuleError):  # anything else fails the test
        await service.create_customers(data)


@FUZZ
@given(target=st.one_of(_json, _filters), data=_customer)
async def test_fuzzed_updates_raise_only_typed_errors(service: S, target: Any, data: Any) -> None:
    with contextlib.suppress(CustomerModuleError):  # anything else fails the test
        await service.update_customers(target, data)


async def test_fingerprint_sees_every_kind_of_write(service: S, engine: AsyncEngine) -> None:
    """The helper the tests above rely on must notice a change in any table."""
    before = await fingerprint(engine)
    customer = await service.create_customers({"first_name": "x"})
    after_create = await fingerprint(engine)
    assert after_create["customer"] != before["customer"]
    assert after_create["event_outbox"] != before["event_outbox"]
    await service.update_customers(customer.id, {"metadata": {"k": 1}}, {"operation_id": "o"})
    after_update = await fingerprint(engine)
    assert after_update["customer"] != after_create["customer"]
    assert after_update["operation_log"] != after_create["operation_log"]
