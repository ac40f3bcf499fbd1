"""The bulk service over the real database. Import: the batch's set-based writes (upsert by
email with several rows for one customer in one batch, metadata merged, an equal address
skipped, a default flag moved; a customer created and updated by the same batch; the events; a
repeat writing nothing) and the ids minted many at a time. Export: pages rendered by PostgreSQL
read back as the documents and CSV records they stand for, whatever the text holds."""

from __future__ import annotations

import csv
import io
import itertools
import json
import time
from typing import Any, Literal

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_service import CustomerModuleService, ids
from customer_service.service.bulk import BulkImports
from customer_service.service.bulk_export import CSV_COLUMNS, BulkExports
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


async def test_export_pages_hold_any_text_as_json_lines_and_as_python_csv(
    service: CustomerModuleService,
) -> None:
    awkward = 'A "quoted", name\nover two lines \\ back\\slash\ttab, Ünïcödé €'
    metadata = {"k": 'v,"x"\n\\', "n": [1, None, True]}
    people = await service.create_customers(
        [
            {"email": "odd@example.com", "first_name": awkward, "metadata": metadata}
            | {"addresses": [{"city": 'São, "Paulo"', "country_code": "br"}]},
            {"email": "plain@example.com", "last_name": "Plain"},
            {"email": "third@example.com", "company_name": "x\r\ny"},
        ]
    )
    groups = await service.create_customer_groups([{"name": "a,b"}, {"name": 'c"d|e'}])
    for group in groups:
        await service.add_customer_to_group(
            {"customer_id": people[0].id, "customer_group_id": group.id}
        )
    exports = BulkExports(service.sessions)

    async def export(format: Literal["csv", "jsonl"]) -> tuple[bytes, list[int]]:
        text, after, sizes = b"", None, []
        while True:
            ids = await exports.page_ids(None, after, 2)
            rows, page = await exports.render(ids, format)
            text, after = text + page, ids[-1] if ids else after
            sizes.append(rows)
            if rows < 2:
                return text, sizes

    jsonl, sizes = await export("jsonl")
    assert sizes == [2, 1]
    documents = [json.loads(line) for line in jsonl.decode().split("\n")[:-1]]
    assert [d["id"] for d in documents] == sorted(p.id for p in people)
    odd = next(d for d in documents if d["email"] == "odd@example.com")
    assert (odd["first_name"], odd["metadata"]) == (awkward, metadata)
    assert odd["addresses"][0]["city"] == 'São, "Paulo"' and odd["company_name"] is None
    assert odd["groups"] == sorted(({"id": g.id, "name": g.name} for g in groups), key=str)

    body, _ = await export("csv")
    records = list(csv.reader(io.StringIO(body.decode(), newline="")))
    rewritten = io.StringIO()
    csv.writer(rewritten, lineterminator="\n").writerows(records)
    assert rewritten.getvalue().encode() == body  # quoted exactly as Python's csv quotes
    for record, document in zip(records, documents, strict=True):
        row = dict(zip(CSV_COLUMNS, record, strict=True))
        for column, value in document.items():
            if column in ("metadata", "addresses"):
                assert (json.loads(row[column]) if row[column] else None) == value
            elif column == "groups":
                assert row["groups.id"] == "|".join(g["id"] for g in value)
                assert row["groups.name"] == "|".join(g["name"] for g in value)
            elif isinstance(value, bool):
                assert row[column] == str(value).lower()
            else:
                assert row[column] == ("" if value is None else value)
