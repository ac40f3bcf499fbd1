"""A workflow's create of new customers as one SQL statement in autocommit: one round trip.

The general path (`Customers.create`) takes a transaction of nine round trips: BEGIN, the
operation's advisory lock, its record, a look-up of the given customer ids and one of the
address ids, the two inserts, the record with the run's events, COMMIT. A workflow's create
almost always makes new rows under a new operation id, so this path does all of it in one
statement whose first part claims the operation id:

- `claim` inserts the operation's record, `ON CONFLICT DO NOTHING`. An attempt of the same
  operation still in flight holds that key: the insert waits for it to end, then does nothing.
  Every other part inserts only when the claim did (`WHERE EXISTS (SELECT FROM claim)`), so a
  repeat, or an operation a compensation has fenced off, changes nothing here;
- the customers, their addresses and the outbox rows are inserted from JSON parameters, and the
  run's staged events are released with them when the step is the run's pivot (`ctx.release`).

The statement answers whether it claimed the operation, and `now()`, every row's timestamps.
When it did not claim it, or failed (a taken email or id, ...), nothing was written, and the
caller runs the general path, which answers the repeat or words the error as it always has.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_service import delivery_plan, events, oplog
from customer_service.db import write_once
from customer_service.entities import ADDRESS, CUSTOMER
from customer_service.errors import CustomerModuleError
from customer_service.models import OperationRecord, OutboxEvent, table_of
from customer_service.queries import attach_new, to_dto
from customer_service.schemas import (
    CreateCustomerInput,
    CustomerDTO,
    NestedAddressInput,
    WriteContext,
    too_large,
)

Row = dict[str, Any]

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]
_CUSTOMER_COLUMNS = [c for c in CreateCustomerInput.model_fields if c != "addresses"]
_ADDRESS_COLUMNS = [*NestedAddressInput.model_fields, "customer_id"]
_OUTBOX_COLUMNS = ["name", "data", "internal", "status", "event_group_id"]


def _insert_from_json(table: str, columns: Sequence[str], types: dict[str, str], param: str) -> str:
    listed = ", ".join(f'"{c}"' for c in columns)
    typed = ", ".join(f'"{c}" {types[c]}' for c in columns)
    return (
        f'INSERT INTO "{table}" ({listed}) SELECT {listed}'
        f" FROM jsonb_to_recordset(%({param})s::jsonb) AS r({typed})"
        " WHERE EXISTS (SELECT FROM claim)"
    )


def _types(table: Any) -> dict[str, str]:
    return {c.name: c.type.compile(dialect=_DIALECT) for c in table.columns}


def _statement(plan: bool) -> str:
    """With `plan`, the run's released events are also planned for delivery when nobody wants
    them (`delivery_plan`), and the statement answers whether nothing is left to hand over."""
    outbox = table_of(OutboxEvent)
    record = table_of(OperationRecord)
    planning, answer = (
        delivery_plan.planning_of_released("EXISTS (SELECT FROM claim)") if plan else ("", "")
    )
    return f"""
WITH claim AS (
    INSERT INTO "{record.name}" (operation_id, name, result, state)
    VALUES (%(operation_id)s, %(name)s, %(record)s::jsonb, %(state)s)
    ON CONFLICT (operation_id) DO NOTHING
    RETURNING operation_id
), customers AS (
    {_insert_from_json(CUSTOMER.table.name, _CUSTOMER_COLUMNS, _types(CUSTOMER.table), "customers")}
), addresses AS (
    {_insert_from_json(ADDRESS.table.name, _ADDRESS_COLUMNS, _types(ADDRESS.table), "addresses")}
), queued AS (
    INSERT INTO "{outbox.name}" (name, data, internal, status, event_group_id, status_changed_at)
    SELECT name, data, internal, status, event_group_id,
           CASE WHEN %(release)s THEN now() END
    FROM jsonb_to_recordset(%(events)s::jsonb)
         AS r(name TEXT, data JSONB, internal BOOLEAN, status TEXT, event_group_id TEXT)
    WHERE EXISTS (SELECT FROM claim)
    RETURNING id, name
), {events.released_cte("%(release)s AND EXISTS (SELECT FROM claim)")}
{planning}
SELECT EXISTS (SELECT FROM claim) AS claimed, now() AS at{answer}
"""


STATEMENT = _statement(plan=False)
PLANNING_STATEMENT = _statement(plan=True)  # for a pivot (`delivery_plan.planning`)


async def create_at_once(
    engine: AsyncEngine, ctx: WriteContext, customers: list[Row], addresses: list[Row]
) -> list[CustomerDTO] | None:
    """Create `customers` (rows as `Customers.create` builds them, ids set) and `addresses` as
    the operation `ctx.operation_id`, in one statement; None when it wrote nothing (see the
    module docstring) and the general path must run."""
    assert ctx.operation_id is not None, "only an operation can be claimed"
    if ctx.max_result_bytes is not None:
        # Timestamps with microseconds: as long as any stored one.
        draft = _dtos(customers, addresses, datetime.now(UTC))
        if too_large(draft, ctx.max_result_bytes):
            return None  # the general path fails the step, typed
    customer_ids = [r["id"] for r in customers]
    address_ids = [a["id"] for a in addresses]
    record = oplog.CreateCustomersRecord(
        ids=customer_ids, address_ids=address_ids, all_ids=customer_ids
    )
    params = {
        "operation_id": ctx.operation_id,
        "name": record.kind,
        "record": json.dumps(record.model_dump(mode="json")),
        "state": oplog.State.RELEASED if ctx.release else oplog.State.DONE,
        "customers": _json(customers),
        "addresses": _json(addresses),
        "events": _json(_outbox_rows(ctx, customer_ids, address_ids)),
        "release": ctx.release and ctx.event_group_id is not None,
        "event_group_id": ctx.event_group_id,
    }
    plan = delivery_plan.current() if params["release"] else None
    if plan is not None:
        params["local"] = plan.local
    try:
        row = await write_once(engine, STATEMENT if plan is None else PLANNING_STATEMENT, params)
    except CustomerModuleError:
        return None  # nothing written: the general path words the error
    claimed, at = row.claimed, row.at
    if not claimed:
        return None
    if plan is not None:
        plan.planned = bool(row.planned)
    return _dtos(customers, addresses, at)


def _dtos(customers: list[Row], addresses: list[Row], at: datetime) -> list[CustomerDTO]:
    """The new customers with their addresses, as a read would return them."""
    stamps = {"created_at": at, "updated_at": at, "deleted_at": None}
    stored = [{**r, **stamps} for r in customers]
    attach_new(stored, "addresses", ADDRESS, [{**a, **stamps} for a in addresses], "customer_id")
    return [to_dto(CUSTOMER, r, None, {"addresses": None}) for r in stored]


def _outbox_rows(ctx: WriteContext, customer_ids: list[str], address_ids: list[str]) -> list[Row]:
    group = ctx.event_group_id
    rows = [
        *events.internal_rows(CUSTOMER, "created", customer_ids, group),
        *events.internal_rows(ADDRESS, "created", address_ids, group),
        *events.workflow_rows(events.CUSTOMER_CREATED, customer_ids, group),
    ]
    if ctx.release and group is not None:
        rows = [{**r, "status": events.RELEASED} for r in rows]
    return [{c: r[c] for c in _OUTBOX_COLUMNS} for r in rows]


def _json(rows: list[Row]) -> str:
    return json.dumps(rows)
