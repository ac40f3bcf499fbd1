"""Data retention and erasure.

`prune_*` delete old rows in batches (each batch one short transaction, so pruning never holds
locks for long); `erase_customer` removes one customer's personal data everywhere this database
keeps it and leaves a tombstone (`customer_erasure`: the id, when, and how many rows went).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from customer_service.db import transaction
from customer_service.errors import InvalidDataError
from customer_service.validation import validate_id

_PRUNE_OPERATIONS = """
DELETE FROM operation_log WHERE operation_id IN (
    SELECT operation_id FROM operation_log WHERE created_at < now() - :age
    ORDER BY created_at LIMIT :batch)"""

# Released events whose deliveries are all done (a failed one is kept for `redeliver`).
_PRUNE_OUTBOX = """
DELETE FROM event_outbox WHERE id IN (
    SELECT e.id FROM event_outbox e
    WHERE e.status = 'released' AND coalesce(e.status_changed_at, e.created_at) < now() - :age
      AND NOT EXISTS (SELECT 1 FROM event_delivery d
                      WHERE d.event_id = e.id AND d.status IN ('pending', 'failed'))
    ORDER BY e.id LIMIT :batch)"""

# The personal values an operation-log entry about the customer may hold.
_CUSTOMER_PII = (
    "SELECT email, first_name, last_name, phone, company_name FROM customer WHERE id = :id"
)
_ADDRESS_PII = """SELECT id, first_name, last_name, phone, company, address_1, address_2
                  FROM customer_address WHERE customer_id = :id"""


class Retention:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def prune_operation_log(self, older_than: timedelta, batch: int) -> int:
        """Delete up to `batch` operation-log entries older than `older_than`."""
        return await self._prune(_PRUNE_OPERATIONS, older_than, batch)

    async def prune_outbox(self, older_than: timedelta, batch: int) -> int:
        """Delete up to `batch` released events older than `older_than` whose deliveries are
        done (their delivery records go with them)."""
        return await self._prune(_PRUNE_OUTBOX, older_than, batch)

    async def _prune(self, sql: str, older_than: timedelta, batch: int) -> int:
        if not isinstance(batch, int) or batch < 1:
            raise InvalidDataError("Invalid batch: expected a positive integer", field="batch")
        if not isinstance(older_than, timedelta) or older_than < timedelta(0):
            raise InvalidDataError("Invalid age: expected a positive duration", field="older_than")
        async with transaction(self.sessions) as session:
            result = await session.execute(text(sql), {"age": older_than, "batch": batch})
            return int(getattr(result, "rowcount", 0) or 0)

    async def erase_customer(self, customer_id: str) -> dict[str, int]:
        """Remove the customer's personal data: the customer, its addresses and memberships, the
        operation-log entries naming it (or its email, names, phone), its events (and their
        deliveries); then record a tombstone. Repeat-safe: a repeat returns the first
        erasure's counts. Returns rows removed per kind."""
        validate_id(customer_id, "customer_id")
        async with transaction(self.sessions) as session:
            done = await session.execute(
                text("SELECT removed FROM customer_erasure WHERE customer_id = :id"),
                {"id": customer_id},
            )
            previous = done.scalar()
            if previous is not None:
                return dict(previous)
            needles = await _needles(session, customer_id)
            entity_ids = [n for n in needles if n.startswith(("cus_", "cuaddr_", "cusgc_"))]
            removed = {
                "operation_log": await _count(
                    session,
                    "DELETE FROM operation_log WHERE EXISTS (SELECT 1 FROM unnest(CAST(:n AS text[]))"
                    " AS x(v) WHERE strpos(result::text, v) > 0)",
                    n=needles,
                ),
                "events": await _erase_events(session, entity_ids),
                "addresses": await _count(
                    session, "DELETE FROM customer_address WHERE customer_id = :id", id=customer_id
                ),
                "memberships": await _count(
                    session,
                    "DELETE FROM customer_group_customer WHERE customer_id = :id",
                    id=customer_id,
                ),
                "customers": await _count(
                    session, "DELETE FROM customer WHERE id = :id", id=customer_id
                ),
            }
            await session.execute(
                text(
                    "INSERT INTO customer_erasure (customer_id, removed) "
                    "VALUES (:id, CAST(:removed AS jsonb))"
                ),
                {"id": customer_id, "removed": _json(removed)},
            )
            return removed


async def _needles(session: AsyncSession, customer_id: str) -> list[str]:
    """The customer's ids and personal values: what an entry about it contains."""
    values: list[Any] = [customer_id]
    row = (await session.execute(text(_CUSTOMER_PII), {"id": customer_id})).one_or_none()
    if row is not None:
        values += list(row)
    addresses = await session.execute(text(_ADDRESS_PII), {"id": customer_id})
    for address in addresses.all():
        values += list(address)
    members = await session.execute(
        text("SELECT id FROM customer_group_customer WHERE customer_id = :id"), {"id": customer_id}
    )
    values += [r.id for r in members.all()]
    # Short values ("Al", "12") would match unrelated entries; ids and real values are longer.
    return sorted({v for v in values if isinstance(v, str) and len(v) >= 4})


async def _erase_events(session: AsyncSession, entity_ids: list[str]) -> int:
    """Events about these entities go (their deliveries cascade); an aggregated event that also
    names others keeps only the others' ids."""
    await session.execute(
        text(
            """UPDATE event_outbox SET data = jsonb_set(data, '{id}', coalesce((
                   SELECT jsonb_agg(x) FROM jsonb_array_elements(data -> 'id') x
                   WHERE NOT (x #>> '{}' = ANY(CAST(:ids AS text[])))), '[]'::jsonb))
               WHERE jsonb_typeof(data -> 'id') = 'array'
                 AND data -> 'id' ?| CAST(:ids AS text[])"""
        ),
        {"ids": entity_ids},
    )
    return await _count(
        session,
        "DELETE FROM event_outbox WHERE data ->> 'id' = ANY(CAST(:ids AS text[]))",
        ids=entity_ids,
    )


async def _count(session: AsyncSession, sql: str, **params: Any) -> int:
    result = await session.execute(text(sql), params)
    return int(getattr(result, "rowcount", 0) or 0)


def _json(value: dict[str, int]) -> str:
    return json.dumps(value)
