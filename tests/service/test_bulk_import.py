"""The import batch's set-based writes, checked in the database: upsert by email (several rows
for one customer in one batch, metadata merged, an equal address skipped, a default flag moved),
a customer created and updated by the same batch, the events, a repeat writing nothing; and the
ids minted many at a time."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_service import CustomerModuleService, ids
from customer_service.service.bulk import BulkImports
from tests.helpers import fetch, scalar


def _value(identifier: str) -> int:
    value = 0
    for char in identifier.split("_", 1)[1]:
        value = value * 32 + ids.CROCKFORD.index(char)
    return value


def test_ids_minted_together_are_consecutive_ulids_after_the_previous_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = ids.new_id("cus")
    many = ids.new_ids("cus", 3000)
    after = ids.new_id("cus")
    values = [_value(i) for i in (before, *many, after)]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert [b - a for a, b in itertools.pairwise(values[1:-1])] == [1] * 2999
    assert all(i.startswith("cus_") and len(i) == 30 for i in many)
    now_ms = time.time_ns() // 1_000_000
    assert abs((values[1] >> 80) - now_ms) < 60_000  # a ULID: milliseconds, then randomness
    # The last 8 digits carry into the first 18 (in a millisecond after every id so far):
    later = ids._last[0] + 1
    monkeypatch.setattr(ids.time, "time_ns", lambda: later * 1_000_000)
    monkeypatch.setattr(ids, "_last", (later, (7 << 40) - 2))
    carried = ids.new_ids("x", 4)
    assert {_value(i) >> 80 for i in carried} == {later}
    assert [_value(i) & ((1 << 80) - 1) for i in carried] == [(7 << 40) - 1 + k for k in range(4)]


async def test_upsert_batch_updates_matches_in_row_order_and_writes_once(
    service: CustomerModuleService, engine: AsyncEngine
) -> None:
    oslo = {"city": "Oslo", "country_code": "no", "is_default_shipping": True}
    kim_input = {"email": "Kim@Example.com", "first_name": "Kim", "metadata": {"a": 1, "b": 1}}
    [kim] = await service.create_customers([{**kim_input, "addresses": [oslo]}])
    rows: list[dict[str, Any] | None] = [
        {"email": "kim@example.com", "last_name": "Lee", "metadata": '{"b": 2}'}
        | {"address.city": "Oslo", "address.country_code": "NO"}
        | {"address.is_default_shipping": "true"},  # equal to Kim's address: not added
        {"email": "KIM@example.com", "first_name": "Kimberly", "metadata": '{"c": 3}'}
        | {"address.city": "Bergen", "address.country_code": "no"}
        | {"address.is_default_shipping": "TRUE"},  # the default moves here
        {"email": "new@example.com", "first_name": "New", "groups": "a|b"},
        {"email": "NEW@example.com", "last_name": "Again", "groups": "b"},
        {"email": "bad"},
        None,
    ]
    imports = BulkImports(service.sessions)
    numbered = list(enumerate(rows, start=11))
    outcome = await imports.import_batch("imp-upsert", 3, numbered, "upsert", "imp-upsert:run")
    assert (outcome.read, outcome.created, outcome.updated) == (6, 1, 3)
    assert [(e.row, e.field) for e in outcome.errors] == [(15, "email"), (16, "")]

    people = await fetch(
        engine,
        "SELECT email, first_name, last_name, metadata FROM customer ORDER BY created_at, id",
    )
    assert people == [
        {
            "email": "Kim@Example.com",
            "first_name": "Kimberly",
            "last_name": "Lee",
            "metadata": {"a": 1, "b": 2, "c": 3},
        },
        {"email": "new@example.com", "first_name": "New", "last_name": "Again", "metadata": None},
    ]
    addresses = await fetch(
        engine,
        "SELECT city, is_default_shipping FROM customer_address WHERE customer_id = :c "
        "ORDER BY city",
        c=kim.id,
    )
    assert addresses == [
        {"city": "Bergen", "is_default_shipping": True},
        {"city": "Oslo", "is_default_shipping": False},
    ]
    memberships = (
        "SELECT string_agg(g.name, ',' ORDER BY g.name) FROM customer_group_customer m "
        "JOIN customer_group g ON g.id = m.customer_group_id"
    )
    assert await scalar(engine, memberships) == "a,b"
    events = await fetch(
        engine,
        "SELECT name, data->>'id' AS id FROM event_outbox WHERE NOT internal ORDER BY event_outbox.id",
    )
    new_id = await scalar(engine, "SELECT id FROM customer WHERE email = 'new@example.com'")
    assert events == [
        {"name": "customer.created", "id": new_id},
        {"name": "customer.updated", "id": kim.id},
        {"name": "customer.updated", "id": new_id},
    ]

    before = await scalar(engine, "SELECT count(*) FROM event_outbox")
    again = await imports.import_batch("imp-upsert", 3, numbered, "upsert", "imp-upsert:run")
    assert again == outcome
    assert await scalar(engine, "SELECT count(*) FROM event_outbox") == before
    assert await scalar(engine, "SELECT count(*) FROM customer_address") == 2
