"""Reads without a ping or a transaction around them, and the count's exact limit.

The pool does not ping a connection at checkout: a PostgreSQL stopped and started again under a
warm pool must still be survived, by reads and writes (the checkout's socket poll) and by reads
alone when a dead connection goes unnoticed until used (`db.read` retries once). A list's count is
exact up to `exact_count_limit` and an estimate above it (decision 14)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_service import CustomerModuleService, create_engine, session_factory
from customer_service.db import _closed_by_server
from customer_service.migrate import upgrade_to_head
from devstack import ephemeral
from devstack.postgres import EmbeddedPostgres
from tests.helpers import scalar


@pytest.fixture
async def own_postgres() -> AsyncIterator[tuple[EmbeddedPostgres, AsyncEngine]]:
    """A PostgreSQL of this test's own (the session's must not be stopped), with a pool."""
    with ephemeral.postgres() as postgres:
        await asyncio.to_thread(upgrade_to_head, postgres.url)
        engine = create_engine(postgres.url, pool_size=2)
        try:
            yield postgres, engine
        finally:
            await engine.dispose()


async def _warm(service: CustomerModuleService, email: str) -> str:
    """Both pooled connections used once (a list and its count run on two at once)."""
    customer = await service.create_customers({"email": email, "first_name": "Pooled"})
    rows, count = await service.list_and_count_customers({"q": "Pooled"})
    assert count == len(rows) >= 1
    return customer.id


async def _restart(postgres: EmbeddedPostgres) -> None:
    await asyncio.to_thread(postgres.stop)
    await asyncio.to_thread(postgres.start)


async def test_a_restarted_postgres_is_survived_without_a_ping(
    own_postgres: tuple[EmbeddedPostgres, AsyncEngine],
) -> None:
    postgres, engine = own_postgres
    service = CustomerModuleService(session_factory(engine))
    assert engine.pool._pre_ping is False  # type: ignore[attr-defined]
    first = await _warm(service, "before@example.com")
    backends = await scalar(engine, "SELECT pg_backend_pid()")

    # Every pooled connection now belongs to a server that is gone; the socket poll at checkout
    # replaces them: the first write after the restart (a write is not retried here) succeeds.
    await _restart(postgres)
    second = await service.create_customers({"email": "after@example.com", "first_name": "Pooled"})
    assert (await service.retrieve_customer(first)).email == "before@example.com"
    rows, count = await service.list_and_count_customers(
        {"q": "Pooled"}, {"order": {"email": "ASC"}}
    )
    assert ([r.id for r in rows], count) == ([second.id, first], 2)
    assert await scalar(engine, "SELECT pg_backend_pid()") != backends

    # Without the poll a dead connection is found only when used: a read retries once on a
    # fresh one, so reads still succeed (a write's activity retries, DESIGN rule 6).
    event.remove(engine.sync_engine, "checkout", _closed_by_server)
    await _warm(service, "third@example.com")
    await _restart(postgres)
    rows, count = await service.list_and_count_customers({"q": "Pooled"})
    assert count == len(rows) == 3
    assert (await service.retrieve_customer(second.id)).email == "after@example.com"


async def _insert(engine: AsyncEngine, rows: int, every: int) -> None:
    """`rows` customers in insertion order, one in `every` of them named Spread."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO customer (id, email, first_name, has_account, created_at, updated_at)"
                " SELECT 'cus_spread' || lpad(g::text, 8, '0'), 'c' || g || '@example.com',"
                " CASE WHEN g % :every = 0 THEN 'Spread' ELSE 'Other' END, false, now(), now()"
                " FROM generate_series(1, :rows) g"
            ),
            {"rows": rows, "every": every},
        )
        await conn.execute(text("ANALYZE customer"))


async def test_count_is_exact_up_to_the_limit_and_estimated_above(
    clean_db: None, engine: AsyncEngine, service: CustomerModuleService
) -> None:
    await _insert(engine, 12_000, 4)  # 3,000 match, spread over the whole table
    spread = {"q": "Spread"}

    async def count(limit: int | None) -> int:
        _, n = await service.list_and_count_customers(
            spread, {"take": 5, "exact_count_limit": limit}
        )
        return n

    assert await count(None) == 3_000  # the module's default: exact, as Medusa
    assert await count(3_000) == 3_000  # at the limit: still exact
    assert await count(5_000) == 3_000
    estimated = await count(2_999)  # one below: an estimate, always above the limit
    assert estimated > 2_999
    for limit in (500, 1_000):
        estimate = await count(limit)
        assert estimate > limit
        assert abs(estimate - 3_000) / 3_000 < 0.15, (limit, estimate)
    # Exact counts stay exact however the rows lie (a narrower filter, below the limit).
    _, n = await service.list_and_count_customers(
        {"q": "Spread", "email": {"$like": "c1%"}}, {"exact_count_limit": 1_000}
    )
    assert n == await scalar(
        engine, "SELECT count(*) FROM customer WHERE first_name = 'Spread' AND email LIKE 'c1%'"
    )
