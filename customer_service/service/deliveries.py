"""Event delivery: who gets each released event, and what became of each delivery.

A run's staged events are released and their deliveries recorded in one transaction
(`release`): one `event_delivery` row per (event, subscriber wanting its name) with a stable id,
and one `event_plan` row per event naming the subscribers it had at that moment. Deliveries of
one lane (the event's `data.id`, the customer for `customer.*` events) get `seq` numbers in
release order: the lanes' advisory locks make concurrent releases of one customer commit one
after the other. The relay (workflows/events.py) then delivers each lane in `seq` order.

A run whose events nobody wants (no local subscriber or webhook lists their names) needs no
delivery and no lock: `release` first tries one statement in autocommit that releases and plans
them only if so (`_RELEASE_UNWANTED`), and opens the transaction above only when some event is
wanted. With no subscriber, as in most runs, a hand-over is one round trip instead of seven.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import exists, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from customer_service import delivery_plan, events, ids
from customer_service import models as m
from customer_service.db import autocommit_engine, transaction, write_once
from customer_service.delivery_plan import ALL_EVENTS, PENDING
from customer_service.errors import InvalidDataError, NotFoundError
from customer_service.service.outbox import _check_event_group

DELIVERED, FAILED = "delivered", "failed"
WEBHOOK_PREFIX = "whk"
MAX_ERROR = 500


@dataclass(frozen=True)
class Lane:
    subscriber: str
    lane: str


def delivery_id(event_id: int, subscriber: str) -> str:
    """Stable for (event, subscriber): every attempt and every redelivery carries it."""
    digest = hashlib.sha256(subscriber.encode()).hexdigest()[:12]
    return f"dlv_{event_id}_{digest}"


def lane_of(data: Mapping[str, Any]) -> str:
    value = data.get("id")
    return value if isinstance(value, str) else "batch"


def _wants(wanted: Sequence[str], name: str) -> bool:
    return name in wanted or ALL_EVENTS in wanted


_OUTBOX = m.OutboxEvent.__tablename__
_DELIVERY = m.EventDelivery.__tablename__

# When no subscriber wants any of the group's events not yet planned: releases the group's
# staged events and plans them all with no subscriber (`delivery_plan`). When one is wanted it
# writes nothing, and `_release_wanted` releases and plans them in one transaction. Answers how
# many it released, how many are wanted, and the group's lanes with pending deliveries (from
# earlier attempts).
_STAGED = f"""SELECT e.id, e.name FROM "{_OUTBOX}" e
    WHERE e.event_group_id = %(event_group_id)s AND e.status = '{events.STAGED}'"""
_RELEASE_UNWANTED = f"""WITH {delivery_plan.plan_unwanted(_STAGED)}, released AS (
    UPDATE "{_OUTBOX}" SET status = '{events.RELEASED}', status_changed_at = now()
    WHERE event_group_id = %(event_group_id)s AND status = '{events.STAGED}'
      AND NOT EXISTS (SELECT FROM wanted)
    RETURNING id
)
SELECT (SELECT count(*) FROM released) AS released,
       (SELECT count(*) FROM wanted) AS wanted,
       (SELECT coalesce(jsonb_agg(DISTINCT jsonb_build_array(d.subscriber, d.lane)), '[]')
        FROM "{_DELIVERY}" d JOIN "{_OUTBOX}" e ON e.id = d.event_id
        WHERE d.status = '{PENDING}' AND e.event_group_id = %(event_group_id)s) AS lanes"""


class Deliveries:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self._autocommit = autocommit_engine(sessions.kw["bind"])

    # --- release -------------------------------------------------------------------------------

    async def release(
        self, event_group_id: str, local: Mapping[str, Sequence[str]]
    ) -> tuple[int, list[Lane]]:
        """Release the run's staged events and record the deliveries of its released events that
        have none yet (repeat-safe; a pivot step may have released them in its own transaction
        already). `local`: the worker's subscribers → their events. Returns how many events this
        call released and the lanes with deliveries still pending for this run's events."""
        _check_event_group(event_group_id)
        names = sorted({name for wanted in local.values() for name in wanted})
        first = await write_once(
            self._autocommit, _RELEASE_UNWANTED, {"event_group_id": event_group_id, "local": names}
        )
        if not first.wanted:
            return first.released, [Lane(s, lane) for s, lane in sorted(first.lanes)]
        return await self._release_wanted(event_group_id, local)

    async def _release_wanted(
        self, event_group_id: str, local: Mapping[str, Sequence[str]]
    ) -> tuple[int, list[Lane]]:
        outbox = m.table_of(m.OutboxEvent)
        plan = m.table_of(m.EventPlan)
        async with transaction(self.sessions) as session:
            released = (
                await session.execute(
                    update(outbox)
                    .where(outbox.c.event_group_id == event_group_id)
                    .where(outbox.c.status == events.STAGED)
                    .values(status=events.RELEASED, status_changed_at=func.now())
                    .returning(outbox.c.id)
                )
            ).all()
            unplanned = (
                await session.execute(
                    select(outbox.c.id, outbox.c.name, outbox.c.data)
                    .where(outbox.c.event_group_id == event_group_id)
                    .where(outbox.c.status == events.RELEASED)
                    .where(~exists().where(plan.c.event_id == outbox.c.id))
                    .order_by(outbox.c.id)
                    .with_for_update()
                )
            ).all()
            if unplanned:
                subscribers = {**local, **await _webhooks(session)}
                await _plan(session, unplanned, subscribers)
            return len(released), await _pending_lanes(session, event_group_id)

    # --- what the relay reads and writes -------------------------------------------------------

    async def pending_lanes(self, limit: int = 1000) -> list[Lane]:
        async with self.sessions() as session:
            return await _pending_lanes(session, None, limit)

    async def next_pending(self, lane: Lane, limit: int = 1) -> list[str]:
        """The lane's earliest pending deliveries (release order)."""
        tbl = m.table_of(m.EventDelivery)
        query = (
            select(tbl.c.id)
            .where(tbl.c.subscriber == lane.subscriber, tbl.c.lane == lane.lane)
            .where(tbl.c.status == PENDING)
            .order_by(tbl.c.seq)
            .limit(limit)
        )
        async with self.sessions() as session:
            return list((await session.execute(query)).scalars())

    async def begin_attempt(self, delivery: str) -> dict[str, Any]:
        """Count an attempt and return what it needs: the delivery, its event and (for a
        webhook) the endpoint's url and secret (`url` None when the endpoint was removed)."""
        async with transaction(self.sessions) as session:
            row = (
                await session.execute(
                    text(
                        """UPDATE event_delivery d SET attempts = attempts + 1
                           FROM event_outbox e WHERE d.id = :id AND e.id = d.event_id
                           RETURNING d.id, d.status, d.attempts, d.subscriber, d.event_id,
                                     e.name, e.data, e.event_group_id, e.status_changed_at"""
                    ),
                    {"id": delivery},
                )
            ).one_or_none()
            if row is None:
                raise NotFoundError(f"Delivery with id: {delivery} was not found", field="id")
            found = dict(row._mapping)
            found["url"] = found["secret"] = None
            if found["subscriber"].startswith(WEBHOOK_PREFIX + "_"):
                hook = m.table_of(m.WebhookEndpoint)
                endpoint = (
                    await session.execute(
                        select(hook.c.url, hook.c.secret)
                        .where(hook.c.id == found["subscriber"])
                        .where(hook.c.deleted_at.is_(None))
                    )
                ).one_or_none()
                if endpoint is not None:
                    found["url"], found["secret"] = endpoint
            return found

    async def record_error(self, delivery: str, error: str) -> None:
        await self._set(delivery, PENDING, last_error=error[:MAX_ERROR])

    async def mark_delivered(self, delivery: str) -> bool:
        return await self._set(delivery, DELIVERED, last_error=None)

    async def mark_failed(self, delivery: str, error: str) -> bool:
        return await self._set(delivery, FAILED, last_error=error[:MAX_ERROR])

    async def _set(self, delivery: str, status: str, **values: Any) -> bool:
        """Move a pending delivery on (a delivered or failed one stays as it is)."""
        tbl = m.table_of(m.EventDelivery)
        changed = {"status_changed_at": func.now()} if status != PENDING else {}
        async with transaction(self.sessions) as session:
            result = await session.execute(
                update(tbl)
                .where(tbl.c.id == delivery, tbl.c.status == PENDING)
                .values(status=status, **changed, **values)
                .returning(tbl.c.id)
            )
            return result.first() is not None

    # --- operators -----------------------------------------------------------------------------

    async def list_deliveries(
        self, status: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        if status not in (None, PENDING, DELIVERED, FAILED):
            raise InvalidDataError(f"Invalid status: {status}", field="status")
        sql = """SELECT d.id, d.subscriber, d.lane, d.status, d.attempts, d.last_error,
                        d.created_at, d.status_changed_at, e.name AS event, e.id AS event_id
                 FROM event_delivery d JOIN event_outbox e ON e.id = d.event_id
                 WHERE (CAST(:status AS text) IS NULL OR d.status = :status)
                 ORDER BY d.seq LIMIT :limit"""
        async with self.sessions() as session:
            result = await session.execute(text(sql), {"status": status, "limit": limit})
            return [dict(r._mapping) for r in result.all()]

    async def redeliver(self, delivery: str) -> Lane:
        """Make a delivered or failed delivery pending again (same id); the relay sends it."""
        sql = """UPDATE event_delivery SET status = 'pending', status_changed_at = now()
                 WHERE id = :id RETURNING subscriber, lane"""
        async with transaction(self.sessions) as session:
            row = (await session.execute(text(sql), {"id": delivery})).one_or_none()
        if row is None:
            raise NotFoundError(f"Delivery with id: {delivery} was not found", field="id")
        return Lane(row.subscriber, row.lane)

    async def add_webhook(self, url: str, event_names: Sequence[str]) -> dict[str, Any]:
        """Register an endpoint; the answer holds its signing secret (shown once here)."""
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidDataError("Invalid url: expected an http(s) URL", field="url")
        names = list(dict.fromkeys(event_names))
        if not names or not all(isinstance(n, str) and n.strip() for n in names):
            raise InvalidDataError("Invalid events: expected event names", field="events")
        patterns = [n for n in names if ALL_EVENTS in n and n != ALL_EVENTS]
        if patterns:
            raise InvalidDataError(
                f"Invalid events: {patterns[0]!r} is not an event name (names match exactly; "
                f"{ALL_EVENTS!r} alone is every event)",
                field="events",
            )
        row = {
            "id": ids.new_id(WEBHOOK_PREFIX),
            "url": url,
            "secret": "whsec_" + secrets.token_urlsafe(32),
            "events": names,
        }
        async with transaction(self.sessions) as session:
            await session.execute(insert(m.WebhookEndpoint).values(**row))
        return row

    async def list_webhooks(self) -> list[dict[str, Any]]:
        hook = m.table_of(m.WebhookEndpoint)
        query = select(hook.c.id, hook.c.url, hook.c.events, hook.c.created_at).where(
            hook.c.deleted_at.is_(None)
        )
        async with self.sessions() as session:
            return [dict(r._mapping) for r in (await session.execute(query.order_by(hook.c.id)))]

    async def remove_webhook(self, webhook_id: str) -> bool:
        """Stop sending to an endpoint (its pending deliveries then fail). Repeat-safe."""
        hook = m.table_of(m.WebhookEndpoint)
        async with transaction(self.sessions) as session:
            result = await session.execute(
                update(hook)
                .where(hook.c.id == webhook_id, hook.c.deleted_at.is_(None))
                .values(deleted_at=func.now())
                .returning(hook.c.id)
            )
            return result.first() is not None


async def _webhooks(session: AsyncSession) -> dict[str, list[str]]:
    hook = m.table_of(m.WebhookEndpoint)
    query = select(hook.c.id, hook.c.events).where(hook.c.deleted_at.is_(None))
    return {r.id: list(r.events) for r in (await session.execute(query)).all()}


async def _plan(
    session: AsyncSession, released: Sequence[Any], subscribers: Mapping[str, Sequence[str]]
) -> None:
    plans: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for event in released:
        wanted = sorted(s for s, names in subscribers.items() if _wants(names, event.name))
        plans.append({"event_id": event.id, "subscribers": wanted})
        lane = lane_of(event.data)
        rows += [
            {
                "id": delivery_id(event.id, s),
                "event_id": event.id,
                "subscriber": s,
                "lane": lane,
                "status": PENDING,
            }
            for s in wanted
        ]
    # One lock per lane, taken in a fixed order: a concurrent release of the same customer
    # waits, so `seq` follows the order in which releases commit.
    for lane in sorted({r["lane"] for r in rows}):
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:lane))"), {"lane": lane})
    await session.execute(insert(m.EventPlan), plans)
    if rows:
        await session.execute(insert(m.EventDelivery), rows)


async def _pending_lanes(
    session: AsyncSession, event_group_id: str | None, limit: int = 1000
) -> list[Lane]:
    sql = """SELECT DISTINCT d.subscriber, d.lane FROM event_delivery d
             JOIN event_outbox e ON e.id = d.event_id
             WHERE d.status = 'pending'
               AND (CAST(:group AS text) IS NULL OR e.event_group_id = :group)
             ORDER BY 1, 2 LIMIT :limit"""
    result = await session.execute(text(sql), {"group": event_group_id, "limit": limit})
    return [Lane(r.subscriber, r.lane) for r in result.all()]
