"""The event outbox as workflows see it: release or discard a run's staged events, list events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from customer_service import events
from customer_service import models as m
from customer_service.db import transaction
from customer_service.errors import InvalidDataError
from customer_service.queries import row_dict
from customer_service.schemas import WriteContext
from customer_service.validation import validate


class Outbox:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def release(self, event_group_id: str) -> int:
        """Publish the run's staged events (repeat-safe)."""
        _check_event_group(event_group_id)
        async with transaction(self.sessions) as session:
            return await events.release_group(session, event_group_id)

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
