"""A workflow's writes by id read only what they name, whatever PostgreSQL knows of its tables.

On a fresh database (no statistics yet: a new deployment, `make dev`, a bench) the generic plans
of the at-once writes once read every live customer through the partial index `deleted_at IS
NULL`, and every released event through the partial index of released events (which grows with
the outbox until retention), to find the one or three rows they name. This runs the update, the
create and the link as pivots that plan their events, and a hooked create's release after its
handlers, in a database of their own that was never analysed, until psycopg has prepared them,
and reads the generic plans PostgreSQL would settle on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, pool, text

from customer_service import CustomerModuleService, delivery_plan, session_factory
from customer_service import create_engine as create_async_engine
from customer_service.migrate import upgrade_to_head
from tests.helpers import scratch_database

# Plan lines that read a whole table's live rows, or every released event.
WHOLE_TABLE_READS = (
    "IDX_customer_deleted_at",
    "IDX_event_outbox_status_released",
    "Recheck Cond: (deleted_at IS NULL)",
    "Seq Scan on customer ",
    "Seq Scan on event_outbox ",
)
CUSTOMERS, RELEASED_EVENTS = 5_000, 20_000


@pytest.fixture
def fresh_database_url(database_url: str) -> Iterator[str]:
    with scratch_database(database_url, "plans") as url:
        upgrade_to_head(url)
        engine = create_engine(url, poolclass=pool.NullPool)
        try:
            with engine.begin() as conn:
                conn.execute(
                    text(
                        """INSERT INTO customer (id, email, first_name)
                           SELECT 'cus_seed' || i, 'seed' || i || '@example.com', 'Seed'
                           FROM generate_series(1, :n) i"""
                    ),
                    {"n": CUSTOMERS},
                )
                conn.execute(
                    text(
                        """INSERT INTO event_outbox
                               (name, data, status, event_group_id, status_changed_at)
                           SELECT 'customer.created', '{}', 'released', 'wf-old:' || i, now()
                           FROM generate_series(1, :n) i"""
                    ),
                    {"n": RELEASED_EVENTS},
                )
        finally:
            engine.dispose()
        yield url


async def test_writes_by_id_read_only_their_rows_before_any_analyze(
    fresh_database_url: str,
) -> None:
    # One connection: the plans read at the end are its own.
    engine = create_async_engine(fresh_database_url, pool_size=1)
    try:
        service = CustomerModuleService(session_factory(engine))
        group = (await service.create_customer_groups([{"name": "plans"}]))[0].id
        for i in range(8):  # psycopg prepares a statement after 5 runs
            ctx: Any = {"operation_id": f"op_u{i}", "event_group_id": f"wf-u:{i}", "release": True}
            with delivery_plan.planning([]) as plan:
                await service.update_customers_tracked(f"cus_seed{i + 1}", {"first_name": "U"}, ctx)
            assert plan.planned
            ctx = {"operation_id": f"op_c{i}", "event_group_id": f"wf-c:{i}", "release": True}
            with delivery_plan.planning([]) as plan:
                await service.create_customers([{"email": f"new{i}@example.com"}], ctx)
            assert plan.planned
            # a hooked create: the pivot stages its events, the release follows the handlers
            ctx = {"operation_id": f"op_h{i}", "event_group_id": f"wf-h:{i}"}
            await service.create_customers([{"email": f"hooked{i}@example.com"}], ctx)
            with delivery_plan.planning([]) as plan:
                assert await service.release_events(f"wf-h:{i}", pivot=f"op_h{i}") > 0
            assert plan.planned
            ctx = {"operation_id": f"op_l{i}", "event_group_id": f"wf-l:{i}", "release": True}
            pair = {"customer_id": f"cus_seed{i + 100}", "customer_group_id": group}
            with delivery_plan.planning([]) as plan:
                await service.change_memberships(add=[pair], ctx=ctx)
            assert plan.planned
        async with engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            prepared = await (
                await driver.execute(
                    "SELECT name, statement, cardinality(parameter_types) "
                    "FROM pg_prepared_statements WHERE ltrim(statement, E' \\n') LIKE 'WITH %'"
                )
            ).fetchall()
            await driver.execute("SET plan_cache_mode = force_generic_plan")
            plans: dict[str, str] = {}
            for name, statement, arguments in prepared:
                nulls = ", ".join(["NULL"] * arguments)
                explained = await (
                    await driver.execute(f"EXPLAIN EXECUTE {name}({nulls})")
                ).fetchall()
                plans[statement] = "\n".join(row[0] for row in explained)
    finally:
        await engine.dispose()

    assert any('"event_plan"' in s for s in plans), list(plans)  # the pivots' planning
    assert any("customer_group_customer" in s for s in plans), list(plans)  # the link
    assert any("WITH pivot AS" in s for s in plans), list(plans)  # the hooked run's release
    update = next(p for s, p in plans.items() if s.lstrip().startswith("WITH old AS"))
    assert "customer_pkey" in update, update
    for statement, plan in plans.items():
        for whole_table in WHOLE_TABLE_READS:
            assert whole_table not in plan, f"{whole_table} in the plan of\n{statement}\n\n{plan}"
