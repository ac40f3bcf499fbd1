"""A workflow's update of rows by id as one SQL statement in autocommit: one round trip.

The general path (`EntityWrites.update`) takes a transaction of five round trips: BEGIN, the
operation's claim, the update, its record with the run's events, COMMIT. A workflow's update
almost always writes the same values on a few rows it names by id under a new operation id, so
this path does all of it in one statement:

- `old` locks the rows in id order, as the general path does, and `found` holds whether every
  id names a live row; nothing below writes unless it does. `old` selects by id alone: with
  `deleted_at IS NULL` in its scan, PostgreSQL's generic plan (a prepared statement's, with
  no statistics yet) read every live row through the partial index `deleted_at IS NULL` and
  filtered them by id (29,900 index entries per update in a benchmark of 2026-12-01);
- `written` writes the values, returning each row as stored after and the values it replaced.
  It names the ids again, so that it finds its rows by the primary key: joined to `old` alone,
  the generic plan read the whole table to hash-join it;
- `record` inserts the operation's record, built from `written`. There is no claim before the
  write: an earlier attempt of the same operation (committed, in flight, or fenced off by a
  compensation) holds its key, so this insert fails and the whole statement with it;
- the outbox rows (the internal event and the workflow events, one per row) are inserted from
  `written`, and the run's staged events are released with them when the step is the run's
  pivot (`ctx.release`), and planned when nobody wants them (`delivery_plan`).

When the statement wrote nothing (an id not found) or failed (a repeat, a taken email, ...), the
caller runs the general path, which answers the repeat or words the error as it always has.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_service import delivery_plan, events, oplog
from customer_service.entities import EntitySpec
from customer_service.models import OperationRecord, OutboxEvent, table_of
from customer_service.schemas import MAX_RESULT_BYTES, WriteContext
from customer_service.service.one_statement import step_params, write

Row = dict[str, Any]

# Rows a result can hold whatever they store (metadata 16 KiB, text fields 255 characters): more
# may not fit the step's result, which only the general path checks before it commits.
MAX_ROWS = MAX_RESULT_BYTES // (64 * 1024)
_BEFORE = "before__"


def _q(name: str) -> str:
    return f'"{name}"'


@cache
def statement(spec: EntitySpec[Any], fields: tuple[str, ...], event: str | None, plan: bool) -> str:
    """The update of `fields` on `spec`'s rows by id; `event`: the workflow event it stages per
    row (`customer.updated`); with `plan`, the released events are also planned when nobody
    wants them, and the statement answers whether nothing is left to hand over."""
    table, log, outbox = spec.table.name, table_of(OperationRecord).name, table_of(OutboxEvent).name
    rows_json = ", ".join(f"'{c}', w.{_q(c)}" for c in dto_columns(spec))
    before_json = ", ".join(f"'{f}', w.{_q(_BEFORE + f)}" for f in fields)
    workflow_events = (
        f"""UNION ALL SELECT '{event}', jsonb_build_object('id', w.id), false,
               row_number() OVER (ORDER BY w.id) FROM written w"""
        if event
        else ""
    )
    planning, answer = (
        delivery_plan.planning_of_released("(SELECT ok FROM found)") if plan else ("", "")
    )
    return f"""
WITH old AS (
    SELECT id, deleted_at IS NULL AS live__, {", ".join(_q(f) for f in fields)} FROM {_q(table)}
    WHERE id = ANY(%(ids)s::text[])
    ORDER BY id FOR UPDATE
), found AS (
    SELECT count(*) FILTER (WHERE live__) = %(count)s AS ok FROM old
), written AS (
    UPDATE {_q(table)} AS t SET {", ".join(f"{_q(f)} = %(value__{f})s" for f in fields)},
        updated_at = now()
    FROM old WHERE t.id = old.id AND t.id = ANY(%(ids)s::text[]) AND (SELECT ok FROM found)
    RETURNING t.*, {", ".join(f"old.{_q(f)} AS {_q(_BEFORE + f)}" for f in fields)}
), record AS (
    INSERT INTO {_q(log)} (operation_id, name, state, result)
    SELECT %(operation_id)s, '{oplog.UpdateRecord.kind_name()}', %(state)s, jsonb_build_object(
        'kind', '{oplog.UpdateRecord.kind_name()}', 'entity', '{spec.key}',
        'ids', jsonb_agg(w.id ORDER BY w.id),
        'previous', jsonb_agg(jsonb_build_object('id', w.id, {before_json}) ORDER BY w.id),
        'written', jsonb_agg(jsonb_build_object('id', w.id) || %(written)s::jsonb ORDER BY w.id),
        'rows', jsonb_agg(jsonb_build_object({rows_json}) ORDER BY w.id))
    FROM written w HAVING count(*) > 0
), queued AS (
    INSERT INTO {_q(outbox)} (name, data, internal, status, event_group_id, status_changed_at)
    SELECT e.name, e.data, e.internal, %(status)s, %(event_group_id)s,
           CASE WHEN %(release)s THEN now() END
    FROM (
        SELECT '{events.internal_event_name(spec, "updated")}' AS name,
               jsonb_build_object('id', CASE WHEN count(*) = 1 THEN to_jsonb(min(w.id))
                                             ELSE jsonb_agg(w.id ORDER BY w.id) END) AS data,
               true AS internal, 0 AS seq
        FROM written w HAVING count(*) > 0
        {workflow_events}
    ) e
    ORDER BY e.seq
    RETURNING id, name
), {events.released_cte("%(release)s AND (SELECT ok FROM found)")}{planning}
SELECT (SELECT ok FROM found) AS found, now() AS at,
       (SELECT jsonb_agg(to_jsonb(w) ORDER BY w.id) FROM written w) AS rows{answer}
"""


def dto_columns(spec: EntitySpec[Any]) -> list[str]:
    """The columns a row's DTO holds (as `queries.to_dto` keeps them)."""
    return [c.name for c in spec.table.c if c.name != "search_text"]


def eligible(ids: list[str] | None, values: Row, ctx: WriteContext) -> bool:
    """A workflow step's update of a few rows by id, the same values on each (no metadata, which
    is merged with what each row holds)."""
    return (
        ids is not None
        and 0 < len(ids) <= MAX_ROWS
        and bool(values)
        and "metadata" not in values
        and ctx.operation_id is not None
        and ctx.event_group_id is not None
    )


async def update_at_once(
    engine: AsyncEngine,
    spec: EntitySpec[Any],
    event: str | None,
    ids: list[str],
    values: Row,
    ctx: WriteContext,
) -> oplog.UpdateRecord | None:
    """Write `values` on the live rows `ids` names as the operation `ctx.operation_id`, in one
    statement (see the module docstring); its record, or None when it wrote nothing and the
    general path must run."""
    fields = tuple(values)
    params: dict[str, Any] = {
        **step_params(ctx),
        "ids": list(ids),
        "count": len(set(ids)),
        **{f"value__{f}": v for f, v in values.items()},
        "written": json.dumps(to_jsonable_python(values)),
    }
    row = await write(engine, lambda plan: statement(spec, fields, event, plan), params, ctx)
    if row is None or not row.found:
        return None
    written, previous, after = [], [], []
    keep = dto_columns(spec)
    for stored in row.rows:
        previous.append({"id": stored["id"], **{f: stored[_BEFORE + f] for f in fields}})
        written.append({"id": stored["id"], **values})
        after.append({c: stored[c] for c in keep})
    return oplog.UpdateRecord(
        entity=spec.key,
        ids=[r["id"] for r in after],
        previous=previous,
        written=written,
        rows=after,
    )
