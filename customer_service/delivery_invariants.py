"""Invariants of event delivery.

`RULES` always hold (the invariant checker runs them with the others): nothing is delivered for
an event that was not released (a compensated run's events are discarded, never released), and
the deliveries of an event are exactly the subscribers recorded when it was released.

`settled_violations` holds once delivery has had its time: every event a run released has its
subscribers recorded, and no delivery is still pending. The nightly check runs it with ages
(pending longer than the retry window); tests run it with zero once the relay is idle.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

RULES: dict[str, str] = {
    "delivery of an event that was not released": """
        SELECT d.id AS delivery_id, d.event_id, e.status FROM event_delivery d
        JOIN event_outbox e ON e.id = d.event_id WHERE e.status <> 'released'""",
    "subscriber recorded at release without a delivery": """
        SELECT p.event_id, s.subscriber FROM event_plan p
        CROSS JOIN LATERAL jsonb_array_elements_text(p.subscribers) AS s(subscriber)
        LEFT JOIN event_delivery d ON d.event_id = p.event_id AND d.subscriber = s.subscriber
        WHERE d.id IS NULL""",
    "delivery to a subscriber not recorded at release": """
        SELECT d.id AS delivery_id, d.event_id, d.subscriber FROM event_delivery d
        LEFT JOIN event_plan p ON p.event_id = d.event_id
        WHERE p.event_id IS NULL OR NOT (p.subscribers ? d.subscriber)""",
}

_SETTLED: dict[str, str] = {
    "released event without recorded subscribers": """
        SELECT e.id AS event_id, e.name, e.event_group_id FROM event_outbox e
        WHERE e.status = 'released' AND e.event_group_id IS NOT NULL
          AND e.status_changed_at < now() - :unplanned
          AND NOT EXISTS (SELECT 1 FROM event_plan p WHERE p.event_id = e.id)""",
    "delivery neither delivered nor failed": """
        SELECT d.id AS delivery_id, d.subscriber, d.attempts FROM event_delivery d
        WHERE d.status = 'pending' AND d.created_at < now() - :pending""",
}


async def settled_violations(
    session: AsyncSession,
    unplanned: timedelta = timedelta(0),
    pending: timedelta = timedelta(0),
) -> list[tuple[str, dict[str, object]]]:
    """Events released longer than `unplanned` ago without recorded subscribers, and deliveries
    pending for longer than `pending`."""
    found: list[tuple[str, dict[str, object]]] = []
    for rule, sql in _SETTLED.items():
        result = await session.execute(text(sql), {"unplanned": unplanned, "pending": pending})
        found += [(rule, dict(row)) for row in result.mappings()]
    return found
