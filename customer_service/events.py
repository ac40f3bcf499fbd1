"""Outbox rows: internal module events (released at once) and staged workflow events."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Update,
    and_,
    func,
    insert,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from customer_service.entities import EntitySpec
from customer_service.models import OutboxEvent, table_of

STAGED = "staged"
RELEASED = "released"
DISCARDED = "discarded"

_GROUP = "event_group_id"
_MUTED = "mute_events"
_QUEUED = "outbox_rows"
_RELEASE = "release_events"

# Workflow (public) events, SPEC §4.15.
CUSTOMER_CREATED = "customer.created"
CUSTOMER_UPDATED = "customer.updated"
CUSTOMER_DELETED = "customer.deleted"


def internal_event_name(spec: EntitySpec[Any], action: str) -> str:
    """`customer.<kebab model>.<action>` (SPEC §2.7)."""
    return f"customer.{spec.event_name}.{action}"


def use_event_group(session: AsyncSession, event_group_id: str | None) -> None:
    """Events written in this transaction belong to a workflow run: stage them under its group."""
    session.info[_GROUP] = event_group_id


def mute(session: AsyncSession) -> None:
    """A compensation writes no events: the run's staged ones are discarded with its group."""
    session.info[_MUTED] = True


async def emit_internal(
    session: AsyncSession, spec: EntitySpec[Any], action: str, ids: Sequence[str]
) -> None:
    """One aggregated message per operation (`internal_rows`), queued for the transaction."""
    if not session.info.get(_MUTED):
        _queue(session, internal_rows(spec, action, ids, session.info.get(_GROUP)))


def internal_rows(
    spec: EntitySpec[Any], action: str, ids: Sequence[str], event_group_id: str | None
) -> list[dict[str, Any]]:
    """One aggregated message per operation: `{id}` for one entity, `{id: [...]}` for several.
    Released at once, or staged when the transaction belongs to a workflow run."""
    if not ids:
        return []
    payload: dict[str, object] = {"id": ids[0] if len(ids) == 1 else list(ids)}
    return [
        {
            "name": internal_event_name(spec, action),
            "data": payload,
            "internal": True,
            "status": STAGED if event_group_id else RELEASED,
            "event_group_id": event_group_id,
        }
    ]


async def stage_workflow_events(
    session: AsyncSession, name: str, ids: Sequence[str], event_group_id: str | None
) -> None:
    """The run's workflow events (`workflow_rows`), queued for the transaction."""
    if not session.info.get(_MUTED):
        _queue(session, workflow_rows(name, ids, event_group_id))


def workflow_rows(
    name: str, ids: Sequence[str], event_group_id: str | None
) -> list[dict[str, Any]]:
    """One staged message per id (as Medusa's emitEventStep), released when the run succeeds."""
    if not ids or event_group_id is None:
        return []
    staged = {"name": name, "internal": False, "status": STAGED, "event_group_id": event_group_id}
    return [{**staged, "data": {"id": i}} for i in ids]


def _queue(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    session.info.setdefault(_QUEUED, []).extend(rows)


async def write_queued(session: AsyncSession) -> bool:
    """The transaction's outbox rows, in one statement, just before it commits (`db.transaction`);
    released with it when the transaction releases its run's events. Returns whether it wrote
    released rows (no statement planned their delivery)."""
    rows = session.info.pop(_QUEUED, None)
    if not rows:
        return False
    statement = insert(OutboxEvent)
    released = bool(session.info.get(_RELEASE))
    if released:
        rows = [{**r, "status": RELEASED} for r in rows]
        statement = statement.values(status_changed_at=func.now())
    await session.execute(statement, rows)
    return released


# The statement that releases a run's events (`oplog.write` puts these before its own): the run's
# staged outbox rows, released, and this transaction's queued ones (`releasing_rows`) written
# released, from one JSON parameter. One round trip where `release_group` and `write_queued`
# take one each; the SQL is sent as written (no statement to build and compile per call).
# Both answer the events they release (id, name), for a statement that also plans their delivery
# (`delivery_plan`).
def released_cte(only_if: str = "true") -> str:
    """`released`: the run's staged outbox rows (`event_group_id`), released by the statement
    when `only_if` holds; it answers them (id, name)."""
    return f"""released AS (
    UPDATE "{OutboxEvent.__tablename__}" SET status = '{RELEASED}', status_changed_at = now()
    WHERE event_group_id = %(event_group_id)s AND status = '{STAGED}' AND {only_if}
    RETURNING id, name
)"""


RELEASE_CTES = f"""{released_cte()}, queued AS (
    INSERT INTO "{OutboxEvent.__tablename__}"
        (name, data, internal, status, event_group_id, status_changed_at)
    SELECT name, data, internal, '{RELEASED}', event_group_id, now()
    FROM jsonb_to_recordset(%(outbox_rows)s::jsonb)
         AS r(name TEXT, data JSONB, internal BOOLEAN, event_group_id TEXT)
    RETURNING id, name
)"""


def releasing_rows(session: AsyncSession) -> str:
    """This transaction releases its run's events with `RELEASE_CTES`: its queued outbox rows
    so far, as that statement's `outbox_rows` (JSON). Rows queued later still go out with
    `write_queued`, released."""
    session.info[_RELEASE] = True
    rows = session.info.pop(_QUEUED, None) or []
    return json.dumps(
        [{k: r[k] for k in ("name", "data", "internal", "event_group_id")} for r in rows]
    )


async def release_group(session: AsyncSession, event_group_id: str) -> int:
    """Publish the run's staged events in this transaction (repeat-safe): those staged by earlier
    transactions now, this one's as it writes them; how many of the earlier ones."""
    session.info[_RELEASE] = True
    statement = _release_staged(event_group_id)
    result = await session.execute(statement.returning(table_of(OutboxEvent).c.id))
    return len(result.all())


def _release_staged(event_group_id: str) -> Update:
    """The run's staged outbox rows, released now."""
    tbl = table_of(OutboxEvent)
    return (
        update(tbl)
        .where(and_(tbl.c.event_group_id == event_group_id, tbl.c.status == STAGED))
        .values(status=RELEASED, status_changed_at=func.now())
    )
