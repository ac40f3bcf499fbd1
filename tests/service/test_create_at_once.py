"""A workflow's create of new customers is one statement (`service.create_at_once`): it must
write exactly what the general path writes, answer what a read answers, and hand every other
case (a repeat, a fenced operation, a taken email or id) to the general path unchanged."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_service import AlreadyExistsError, ConflictError, CustomerModuleService
from customer_service.service import customers
from tests import helpers
from tests.helpers import TABLES, Statements, fingerprint, unchanged_after

S = CustomerModuleService

DATA = [
    {
        "id": "cus_once_1",
        "email": "Once.One@example.com",
        "first_name": "One",
        "metadata": {"b": 1, "a": [1, {"x": None}]},
        "addresses": [
            {"id": "cuaddr_once_2", "city": "Rome", "is_default_shipping": True},
            {"id": "cuaddr_once_1", "city": "Oslo", "country_code": "NO", "metadata": {"k": "v"}},
        ],
    },
    {"id": "cus_once_2", "phone": "+15550001", "created_by": "user_1"},
]


async def written(engine: AsyncEngine) -> dict[str, list[dict[str, Any]]]:
    """Every row a create writes (see `tests.helpers.written`)."""
    return await helpers.written(
        engine,
        {
            "customer": "id",
            "customer_address": "id",
            "event_outbox": "name, data::text",
            "operation_log": "operation_id",
        },
    )


async def create_both_ways(
    s: S, engine: AsyncEngine, ctx: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> list[tuple[list[Any], dict[str, list[dict[str, Any]]]]]:
    """The same create in a clean database, by the one statement, then by the general path."""
    out = []
    for general in (False, True):
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        # An earlier step of the same run staged an event: a pivot releases it with its own.
        await s.create_customers(
            [{"id": "cus_earlier"}], {**ctx, "operation_id": "op_earlier", "release": False}
        )
        with monkeypatch.context() as patch:
            if general:
                patch.setattr(customers, "create_at_once", _declined)
            result = await s.create_customers(DATA, ctx)
        out.append((result, await written(engine)))
    return out


def untimed(customer: Any) -> dict[str, Any]:
    stamps = {"created_at", "updated_at"}
    dump: dict[str, Any] = customer.model_dump(exclude={*stamps, "addresses"})
    dump["addresses"] = [a.model_dump(exclude=stamps) for a in customer.addresses]
    return dump


async def _declined(*_: Any) -> None:
    return None  # as the one statement answers when it wrote nothing


@pytest.mark.parametrize("release", [False, True])
async def test_the_one_statement_writes_what_the_general_path_writes(
    service: S, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch, release: bool
) -> None:
    ctx = {"operation_id": "op_once", "event_group_id": "wf-once:run", "release": release}
    (fast, fast_rows), (general, general_rows) = await create_both_ways(
        service, engine, ctx, monkeypatch
    )
    assert fast_rows == general_rows
    assert [untimed(c) for c in fast] == [untimed(c) for c in general]
    statuses = {(r["name"], r["status"]) for r in fast_rows["event_outbox"]}
    assert ("customer.created", "released" if release else "staged") in statuses
    assert {r["state"] for r in fast_rows["operation_log"]} == {"done"} | (
        {"released"} if release else set()
    )


async def test_it_answers_what_a_read_answers(service: S, engine: AsyncEngine) -> None:
    ctx = {"operation_id": "op_read", "event_group_id": "wf-read:run", "release": True}
    with Statements(engine) as sent:
        created = await service.create_customers(DATA, ctx)
    assert len(sent.sql) == 1, sent.sql  # one round trip: no BEGIN, no COMMIT, no look-up
    stored = await service.list_customers(
        {"id": [c.id for c in created]}, {"relations": ["addresses"], "order": {"id": "ASC"}}
    )
    assert created == stored
    assert created[0].created_at == created[0].addresses[0].created_at  # one transaction


async def test_a_repeat_or_a_fenced_operation_writes_nothing(
    service: S, engine: AsyncEngine
) -> None:
    ctx = {"operation_id": "op_twice", "event_group_id": "wf-twice:run"}
    first = await service.create_customers(DATA, ctx)
    before = await fingerprint(engine)
    assert await service.create_customers(DATA, ctx) == first
    assert await fingerprint(engine) == before

    assert await service.undo_create_customers("op_fenced") is False  # the step never ran
    error = await unchanged_after(
        engine,
        lambda: service.create_customers(
            [{"email": "late@example.com"}], {"operation_id": "op_fenced"}
        ),
        ConflictError,
    )
    assert isinstance(error, ConflictError) and error.field == "operation_id"


async def test_a_taken_email_or_id_is_worded_as_ever(service: S, engine: AsyncEngine) -> None:
    await service.create_customers([{"id": "cus_taken", "email": "Taken@example.com"}])
    error = await unchanged_after(
        engine,
        lambda: service.create_customers(
            [{"email": "TAKEN@example.com"}], {"operation_id": "op_email"}
        ),
        AlreadyExistsError,
    )
    # decision 12: the email as this caller typed it
    assert (
        str(error) == "Customer with email: TAKEN@example.com, has_account: false, already exists."
    )
    error = await unchanged_after(
        engine,
        lambda: service.create_customers(
            [{"id": "cus_taken", "first_name": "other"}], {"operation_id": "op_id"}
        ),
        AlreadyExistsError,
    )
    assert str(error) == "Customer with id: cus_taken, already exists."
    # the same content under a given id is the row as it is (a repeat without the record)
    [same] = await service.create_customers(
        [{"id": "cus_taken", "email": "Taken@example.com"}], {"operation_id": "op_same"}
    )
    assert same.email == "Taken@example.com"
