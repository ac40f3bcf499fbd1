"""The event outbox as workflows see it: release or discard a run's staged events, list events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from customer_service import delivery_plan, events, oplog
from customer_service import models as m
from customer_service.db import autocommit_engine, transaction, write_once
from customer_service.errors import ConflictError, InvalidDataError
from customer_service.queries import row_dict
from customer_service.schemas import WriteContext
from customer_service.validation import validate, validate_id

_LOG, _OUTBOX = m.OperationRecord.__tablename__, m.OutboxEvent.__tablename__


def _release_after_pivot(plan: bool) -> str:
    """A hooked run's release, after its hook handlers, as one statement: the pivot's operation
    marked released (only while it stands: `done`, or `released` on a repeat; the lock orders it
    after an undo in flight) and, only then, the run's staged events released; with `plan`, also
    planned for delivery when nobody wants them (`delivery_plan`). Answers whether the pivot
    stood, how many events it released, and (with `plan`) whether nothing is left to hand over."""
    fresh = "SELECT id, name FROM released"
    planning = ", " + delivery_plan.plan_unwanted(fresh, only_if="EXISTS (SELECT FROM pivot)")
    return f"""WITH pivot AS (
    UPDATE "{_LOG}" SET state = '{oplog.State.RELEASED}'
    WHERE operation_id = %(operation_id)s
      AND state IN ('{oplog.State.DONE}', '{oplog.State.RELEASED}')
    RETURNING operation_id
), released AS (
    UPDATE "{_OUTBOX}" SET status = '{events.RELEASED}', status_changed_at = now()
    WHERE event_group_id = %(event_group_id)s AND status = '{events.STAGED}'
      AND EXISTS (SELECT FROM pivot)
    RETURNING id, name
){planning if plan else ""}
SELECT EXISTS (SELECT FROM pivot) AS stood, (SELECT count(*) FROM released) AS released,
       {delivery_plan.NOTHING_TO_HAND_OVER if plan else "FALSE"} AS planned"""


_RELEASE_AFTER_PIVOT = {plan: _release_after_pivot(plan) for plan in (False, True)}


class Outbox:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self._autocommit = autocommit_engine(sessions.kw["bind"])

    async def release(self, event_group_id: str, pivot: str | None = None) -> int:
        """Publish the run's staged events (repeat-safe). With `pivot` (a hooked run's pivot
        operation, after its hook handlers), that operation is marked released in the same
        statement, so an undo arriving later finds it too late; once the pivot was undone or
        fenced off, nothing is released (ConflictError)."""
        _check_event_group(event_group_id)
        if pivot is None:
            async with transaction(self.sessions) as session:
                return await events.release_group(session, event_group_id)
        plan = delivery_plan.current()
        params: dict[str, Any] = {"operation_id": validate_id(pivot, "operation_id")}
        params.update(event_group_id=event_group_id, local=plan.local if plan else [])
        row = await write_once(self._autocommit, _RELEASE_AFTER_PIVOT[plan is not None], params)
        if not row.stood:
            raise ConflictError(
                f"Operation {pivot} was already compensated (or never committed): its run's events"
                " are not released",
                field="operation_id",
            )
        if plan is not None:
            plan.planned = bool(row.planned)
        return int(row.released)

    async def discard(self, event_group_id: str) -> int:
        """Drop the run's staged events: a compensated run publishes nothing (repeat-safe).
        They are deleted: the outbox then is as if the run never happened."""
        _check_event_group(event_group_id)
        tbl = m.table_of(m.OutboxEvent)
        async with transaction(self.sessions) as session:
            query = delete(tbl).where(_staged(event_group_id)).returning(tbl.c.id)
            return len((await session.execute(query)).all())

    async def events(
        self,
        event_group_id: str | None,
        status: str | None,
        name: str | None,
        internal: bool | None,
    ) -> list[dict[str, Any]]:
        checks = {"event_group_id": event_group_id, "status": status, "name": name}
        for key, value in checks.items():
            if value is not None and not isinstance(value, str):
                raise InvalidDataError(f"Invalid {key}: expected a str", field=key)
        if internal is not None and not isinstance(internal, bool):
            raise InvalidDataError("Invalid internal: expected a bool", field="internal")
        tbl = m.table_of(m.OutboxEvent)
        conditions = [
            column == value
            for column, value in (
                (tbl.c.event_group_id, event_group_id),
                (tbl.c.status, status),
                (tbl.c.name, name),
                (tbl.c.internal, internal),
            )
            if value is not None
        ]
        async with transaction(self.sessions) as session:
            result = await session.execute(select(tbl).where(*conditions).order_by(tbl.c.id))
            return [row_dict(r) for r in result.all()]


def _check_event_group(event_group_id: str) -> None:
    # A run's "<workflow id>:<run id>" (schemas.EventGroupId) is longer than an entity id.
    if not isinstance(event_group_id, str) or not event_group_id:
        raise InvalidDataError("Invalid event_group_id: expected an id", field="event_group_id")
    validate(WriteContext, {"event_group_id": event_group_id}, "")


def _staged(event_group_id: str) -> ColumnElement[bool]:
    tbl = m.table_of(m.OutboxEvent)
    return and_(tbl.c.event_group_id == event_group_id, tbl.c.status == events.STAGED)
