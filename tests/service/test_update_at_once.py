"""A workflow's update of rows by id is one statement (`service.update_at_once`): it must write
exactly what the general path writes, answer what a read answers, be undone as ever, and hand
every other case (a repeat, a fenced operation, an unknown id, a taken email) to the general path
unchanged."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_service import (
    AlreadyExistsError,
    ConflictError,
    CustomerModuleService,
    NotFoundError,
)
from customer_service.service import update_at_once
from tests import helpers
from tests.helpers import TABLES, Statements, fetch, fingerprint, stamped, unchanged_after

S = CustomerModuleService


async def written(engine: AsyncEngine) -> dict[str, list[dict[str, Any]]]:
    """Every row an update writes (see `tests.helpers.written`), an update record's rows too."""
    out = await helpers.written(
        engine,
        {
            "customer": "id",
            "customer_address": "id",
            "event_outbox": "id",
            "operation_log": "operation_id",
        },
    )
    for row in out["operation_log"]:
        if row["result"].get("kind") == "update":
            row["result"]["rows"] = [stamped(r) for r in row["result"]["rows"]]
    return out


async def _declined(*_: Any) -> None:
    return None  # as the one statement answers when it wrote nothing


async def _seed(s: S, ctx: dict[str, Any]) -> None:
    await s.create_customers(
        [
            {"id": "cus_u1", "email": "one@example.com", "first_name": "One"},
            {"id": "cus_u2", "email": "two@example.com", "phone": "+15550002"},
            {"id": "cus_u3", "email": "three@example.com", "addresses": [{"id": "cuaddr_u1"}]},
        ]
    )
    # An earlier step of the same run staged an event: a pivot releases it with its own.
    await s.create_customers(
        [{"id": "cus_earlier"}], {**ctx, "operation_id": "op_earlier", "release": False}
    )


@pytest.mark.parametrize("release", [False, True])
@pytest.mark.parametrize(
    ("entity", "ids", "data"),
    [
        ("customer", ["cus_u2", "cus_u1"], {"first_name": "Both", "phone": None}),
        ("customer", "cus_u3", {"email": "Three.New@example.com", "company_name": "Three Ltd"}),
        ("address", "cuaddr_u1", {"city": "Rome", "is_default_billing": True}),
    ],
)
async def test_the_one_statement_writes_what_the_general_path_writes(
    service: S,
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
    release: bool,
    entity: str,
    ids: Any,
    data: dict[str, Any],
) -> None:
    ctx = {"operation_id": "op_once", "event_group_id": "wf-once:run", "release": release}
    update = {
        "customer": service.update_customers_tracked,
        "address": service.update_customer_addresses_tracked,
    }[entity]
    out = []
    for general in (False, True):
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        await _seed(service, ctx)
        with monkeypatch.context() as patch:
            if general:
                patch.setattr(update_at_once, "update_at_once", _declined)
            with Statements(engine) as sent:
                result = await update(ids, data, ctx)
        out.append((len(sent.sql), result.previous, [stamped(r.model_dump()) for r in result.rows]))
        out.append(await written(engine))
    (fast_sent, *fast), fast_rows, (general_sent, *general), general_rows = out
    assert fast_sent == 1 < general_sent
    assert fast == general
    assert fast_rows == general_rows
    status = "released" if release else "staged"
    updated = [
        (r["name"], r["status"]) for r in fast_rows["event_outbox"] if "updated" in r["name"]
    ]
    internal = f"customer.{'customer' if entity == 'customer' else 'customer-address'}.updated"
    count = len(ids) if isinstance(ids, list) else 1
    workflow_events = [("customer.updated", status)] * count if entity == "customer" else []
    assert updated == [(internal, status), *workflow_events]
    assert {r["state"] for r in fast_rows["operation_log"] if r["operation_id"] == "op_once"} == {
        status if release else "done"
    }


async def test_it_answers_what_a_read_answers_and_is_undone_as_ever(
    service: S, engine: AsyncEngine
) -> None:
    await _seed(service, {"event_group_id": "wf-read:run"})
    before = await service.list_customers({"id": ["cus_u1", "cus_u2"]}, {"order": {"id": "ASC"}})
    ctx = {"operation_id": "op_read", "event_group_id": "wf-read:run"}
    with Statements(engine) as sent:
        updated = await service.update_customers_tracked(
            ["cus_u2", "cus_u1"], {"last_name": "Read"}, ctx
        )
    assert len(sent.sql) == 1, sent.sql  # one round trip: no BEGIN, no COMMIT, no claim
    stored = await service.list_customers({"id": ["cus_u1", "cus_u2"]}, {"order": {"id": "ASC"}})
    assert updated.rows == stored
    assert updated.previous == [
        {"id": "cus_u1", "last_name": None},
        {"id": "cus_u2", "last_name": None},
    ]
    assert await service.undo_update_customers("op_read") is True
    after_undo = await service.list_customers(
        {"id": ["cus_u1", "cus_u2"]}, {"order": {"id": "ASC"}}
    )
    assert [c.last_name for c in after_undo] == [c.last_name for c in before]


async def test_a_repeat_or_a_fenced_operation_writes_nothing(
    service: S, engine: AsyncEngine
) -> None:
    await _seed(service, {"event_group_id": "wf-twice:run"})
    ctx = {"operation_id": "op_twice", "event_group_id": "wf-twice:run", "release": True}
    first = await service.update_customers_tracked("cus_u1", {"first_name": "Twice"}, ctx)
    before = await fingerprint(engine)
    again = await service.update_customers_tracked("cus_u1", {"first_name": "Twice"}, ctx)
    assert (again.rows, again.previous) == (first.rows, first.previous)
    assert await fingerprint(engine) == before

    assert await service.undo_update_customers("op_fenced") is False  # the step never ran
    error = await unchanged_after(
        engine,
        lambda: service.update_customers_tracked(
            "cus_u1", {"first_name": "Late"}, {"operation_id": "op_fenced", "event_group_id": "g"}
        ),
        ConflictError,
    )
    assert isinstance(error, ConflictError) and error.field == "operation_id"


async def test_two_attempts_at_once_have_one_effect(service: S, engine: AsyncEngine) -> None:
    await _seed(service, {"event_group_id": "wf-race:run"})
    ctx = {"operation_id": "op_race", "event_group_id": "wf-race:run", "release": True}
    a, b = await asyncio.gather(
        service.update_customers_tracked(["cus_u1", "cus_u2"], {"last_name": "Race"}, ctx),
        service.update_customers_tracked(["cus_u1", "cus_u2"], {"last_name": "Race"}, ctx),
    )
    assert (a.rows, a.previous) == (b.rows, b.previous)
    assert [p["last_name"] for p in a.previous] == [None, None]
    events = await fetch(
        engine,
        "SELECT name FROM event_outbox WHERE event_group_id = 'wf-race:run'"
        " AND name = 'customer.updated'",
    )
    assert len(events) == 2  # one per row, not per attempt


async def test_an_unknown_id_or_a_taken_email_is_worded_as_ever(
    service: S, engine: AsyncEngine
) -> None:
    await _seed(service, {"event_group_id": "wf-bad:run"})
    ctx = {"operation_id": "op_bad", "event_group_id": "wf-bad:run", "release": True}
    error = await unchanged_after(
        engine,
        lambda: service.update_customers_tracked(["cus_u1", "cus_nope"], {"first_name": "X"}, ctx),
        NotFoundError,
    )
    assert str(error) == 'Customer with id "cus_nope" not found'
    error = await unchanged_after(
        engine,
        lambda: service.update_customers_tracked("cus_u1", {"email": "TWO@example.com"}, ctx),
        AlreadyExistsError,
    )
    assert "TWO@example.com" in str(error)
    # a soft-deleted row is not found either
    await service.soft_delete_customers(["cus_u2"])
    await unchanged_after(
        engine,
        lambda: service.update_customers_tracked("cus_u2", {"first_name": "X"}, ctx),
        NotFoundError,
    )
