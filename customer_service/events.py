"""Outbox rows: internal module events (released at once) and staged workflow events."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from customer_service.models import OutboxEvent

STAGED = "staged"
RELEASED = "released"
DISCARDED = "discarded"

_GROUP = "event_group_id"
_MUTED = "mute_events"

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


def use_event_group(session: AsyncSession, event_group_id: str | None) -> None:
    """Events written in this transaction belong to a workflow run: stage them under its group."""
    session.info[_GROUP] = event_group_id


def mute(session: AsyncSession) -> None:
    """A compensation writes no events: the run's staged ones are discarded with its group."""
    session.info[_MUTED] = True


async def emit_internal(session: AsyncSession, model: str, action: str, ids: Sequence[str]) -> None:
    """One aggregated message per operation: `{id}` for one entity, `{id: [...]}` for several.
    Released at once, or staged when the transaction belongs to a workflow run."""
    if not ids or session.info.get(_MUTED):
        return
    group = session.info.get(_GROUP)
    payload: dict[str, object] = {"id": ids[0] if len(ids) == 1 else list(ids)}
    await session.execute(
        insert(OutboxEvent).values(
            name=internal_event_name(model, action),
            data=payload,
            internal=True,
            status=STAGED if group else RELEASED,
            event_group_id=group,
        )
    )


async def stage_workflow_events(
    session: AsyncSession, name: str, ids: Sequence[str], event_group_id: str | None
) -> None:
    """One staged message per id (as Medusa's emitEventStep), released when the run succeeds."""
    if not ids or event_group_id is None or session.info.get(_MUTED):
        return
    await session.execute(
        insert(OutboxEvent),
        [
            {"name": name, "data": {"id": i}, "internal": False, "status": STAGED,
             "event_group_id": event_group_id}
            for i in ids
        ],
    )  # fmt: skip
