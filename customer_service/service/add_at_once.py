"""A workflow's add of memberships (a link step) as one SQL statement in autocommit: one round trip.

The general path (`Memberships.change`) takes a transaction of six round trips: BEGIN, the
operation's claim, the pairs' locks, the insert, its record with the run's events, COMMIT. A
workflow's link adds new memberships under a new operation id, so this path does it all in one
statement:

- `locked` takes the pairs' advisory locks in the keys' order, as the general path does, and the
  transaction's id that orders operations on one pair (`undo_change`);
- `upserted` inserts the missing memberships. A pair that is a member already answers its row
  through `ON CONFLICT ... DO UPDATE` (a no-op update), which sees the row even when another run
  added it after this statement's snapshot, while this one waited for the pair's lock; a row
  answered with the id proposed for it is one this operation added. The id is minted for this
  operation (by the workflow, or here when the item has none), so a row can hold it already
  only if an earlier attempt of the operation wrote it, with its record: then `record` fails;
- `record` inserts the operation's record, built from `upserted`. There is no claim: an earlier
  attempt of the same operation (committed, in flight, or fenced off by a compensation) holds
  its key, so this insert fails and the whole statement with it;
- the outbox row (the internal event of the memberships added) is inserted, and the run's staged
  events are released with it when the step is the run's pivot (`ctx.release`), and planned when
  nobody wants them (`delivery_plan`).

When the statement fails (a repeat, an unknown customer or group, ...), the caller runs the
general path, which answers the repeat or words the error as it always has.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from customer_service import delivery_plan, events, oplog
from customer_service.entities import MEMBERSHIP
from customer_service.models import OperationRecord, OutboxEvent, table_of
from customer_service.schemas import WriteContext
from customer_service.service.one_statement import step_params, write

Row = dict[str, Any]
_KIND = oplog.ChangeMembershipsRecord.kind_name()


@functools.lru_cache(maxsize=128)
def statement(locks: int, plan: bool) -> str:
    """The add, with `locks` pair keys (bound as `key_0` ...); with `plan`, the released events
    are also planned when nobody wants them, and the statement answers whether nothing is left
    to hand over."""
    table, log = MEMBERSHIP.table.name, table_of(OperationRecord).name
    outbox = table_of(OutboxEvent).name
    lock_calls = ", ".join(
        f"pg_advisory_xact_lock(hashtextextended(%(key_{i})s, 0))" for i in range(locks)
    )
    planning, answer = delivery_plan.planning_of_released() if plan else ("", "")
    return f"""
WITH locked AS (
    SELECT {lock_calls}, pg_current_xact_id()::text AS xid
), proposed AS (
    SELECT * FROM ROWS FROM (jsonb_to_recordset(%(rows)s::jsonb)
        AS (id TEXT, customer_id TEXT, customer_group_id TEXT, created_by TEXT, metadata JSONB))
        WITH ORDINALITY AS r(id, customer_id, customer_group_id, created_by, metadata, n)
), upserted AS (
    INSERT INTO "{table}" (id, customer_id, customer_group_id, created_by, metadata)
    SELECT id, customer_id, customer_group_id, created_by, metadata FROM proposed
    WHERE EXISTS (SELECT FROM locked) ORDER BY n
    ON CONFLICT (customer_id, customer_group_id) WHERE deleted_at IS NULL
    DO UPDATE SET customer_id = EXCLUDED.customer_id
    RETURNING id, customer_id, customer_group_id
), members AS (
    SELECT u.id, u.customer_id, u.customer_group_id, w.n, u.id = w.id AS added
    FROM upserted u JOIN proposed w USING (customer_id, customer_group_id)
), asked AS (
    SELECT i.value->>0 AS customer_id, i.value->>1 AS customer_group_id, i.ordinality AS n
    FROM jsonb_array_elements(%(items)s::jsonb) WITH ORDINALITY AS i
), record AS (
    INSERT INTO "{log}" (operation_id, name, state, result)
    SELECT %(operation_id)s, '{_KIND}', %(state)s, jsonb_build_object(
        'kind', '{_KIND}',
        'added', coalesce((SELECT jsonb_agg(jsonb_build_array(customer_id, customer_group_id)
                                            ORDER BY n) FROM members WHERE added), '[]'),
        'removed', '[]'::jsonb,
        'membership_ids', (SELECT jsonb_agg(m.id ORDER BY i.n)
                           FROM asked i JOIN members m USING (customer_id, customer_group_id)),
        'added_ids', coalesce((SELECT jsonb_agg(id ORDER BY n) FROM members WHERE added), '[]'),
        'removed_rows', '[]'::jsonb,
        'requested', %(requested)s::jsonb,
        'xid', (SELECT xid FROM locked)::bigint)
    RETURNING result
), queued AS (
    INSERT INTO "{outbox}" (name, data, internal, status, event_group_id, status_changed_at)
    SELECT '{events.internal_event_name(MEMBERSHIP, "created")}',
           jsonb_build_object('id', CASE WHEN count(*) = 1 THEN to_jsonb(min(id))
                                         ELSE jsonb_agg(id ORDER BY id COLLATE "C") END),
           true, %(status)s, %(event_group_id)s, CASE WHEN %(release)s THEN now() END
    FROM members WHERE added HAVING count(*) > 0
    RETURNING id, name
), {events.released_cte("%(release)s")}{planning}
SELECT (SELECT result FROM record) AS record{answer}
"""


async def add_at_once(
    engine: AsyncEngine,
    ctx: WriteContext,
    rows: list[Row],
    items: list[tuple[str, str]],
    requested: list[str],
) -> oplog.ChangeMembershipsRecord | None:
    """Add `rows` (one per pair, ids minted: `Memberships._rows`) for `items` (every pair asked
    for, in order) as the operation `ctx.operation_id`, in one statement (see the module
    docstring); its record, or None when it wrote nothing and the general path must run."""
    params: dict[str, Any] = {
        **step_params(ctx),
        "rows": json.dumps(rows),
        "items": json.dumps(items),
        "requested": json.dumps(requested),
        **{f"key_{i}": "membership " + key for i, key in enumerate(requested)},
    }
    row = await write(engine, lambda plan: statement(len(requested), plan), params, ctx)
    if row is None:
        return None
    return oplog.ChangeMembershipsRecord.model_validate(row.record)
