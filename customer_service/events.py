"""Outbox rows: internal module events (released at once) and staged workflow events."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from customer_service.models import OutboxEvent

STAGED = "staged"
RELEASED = "released"
DISCARDED = "discarded"

# Workflow (public) events, SPEC §4.15.
CUSTOMER_CREATED = "customer.created"
CUSTOMER_UPDATED = "customer.updated"
CUSTOMER_DELETED = "customer.deleted"

_MODEL_EVENT_NAMES = {
    "Customer": "customer",
    "CustomerAddress": "customer-address",
    "CustomerGroup": "customer-group",
    "CustomerGroupCustomer": "customer-group-customer",
}


def internal_event_name(model: str, action: str) -> str:
    """`customer.<kebab model>.<action>` (SPEC §2.7)."""
    return f"customer.{_MODEL_EVENT_NAMES[model]}.{action}"


async def emit_internal(
    session: AsyncSession, model: str, action: str, ids: Sequence[str]
) -> None:
    """One aggregated message per operation: `{id}` for one entity, `{id: [...]}` for several."""
    if not ids:
        return
    payload: dict[str, object] = {"id": ids[0] if len(ids) == 1 else list(ids)}
    await session.execute(
        insert(OutboxEvent).values(
            name=internal_event_name(model, action), data=payload, internal=True, status=RELEASED
        )
    )


async def stage_workflow_events(
    session: AsyncSession, name: str, ids: Sequence[str], event_group_id: str | None
) -> None:
    """One staged message per id (as Medusa's emitEventStep), released when the run succeeds."""
    if not ids or event_group_id is None:
        return
    await session.execute(
        insert(OutboxEvent),
        [
            {"name": name, "data": {"id": i}, "internal": False, "status": STAGED,
             "event_group_id": event_group_id}
            for i in ids
        ],
    )  # fmt: skip


async def discard_staged(session: AsyncSession, name: str, ids: Sequence[str]) -> None:
    """Discard staged workflow events of these ids (their change was compensated)."""
    if not ids:
        return
    table = OutboxEvent.__table__
    await session.execute(
        update(table)
        .where(
            table.c.name == name,
            table.c.status == STAGED,
            table.c.data["id"].astext.in_(list(ids)),
        )
        .values(status=DISCARDED, status_changed_at=func.now())
    )
