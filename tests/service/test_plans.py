"""Which statements PostgreSQL plans once and which on every call (`db._planned_per_call`): a
statement built on a caller's filter is never prepared, so it is planned with its values; one
that names its rows by id is prepared by psycopg after 5 runs, and PostgreSQL settles on a generic
plan for it after 5 more."""

from __future__ import annotations

from typing import Any

from customer_service import CustomerModuleService, create_engine, session_factory


async def _prepared(engine: Any) -> list[tuple[str, int]]:
    async with engine.connect() as conn:
        query = "SELECT statement, generic_plans FROM pg_prepared_statements"
        return [(r[0], r[1]) for r in (await conn.exec_driver_sql(query)).all()]


async def test_filtered_reads_are_planned_per_call_and_writes_by_id_once(
    database_url: str, clean_db: None
) -> None:
    # One connection, so the prepared statements read at the end are those the calls made.
    engine = create_engine(database_url, pool_size=1)
    try:
        service = CustomerModuleService(session_factory(engine))
        created = await service.create_customers(
            [{"email": f"plan{i}@example.com", "first_name": f"Plan{i}"} for i in range(3)]
        )
        ids = [c.id for c in created if c.id]
        for i in range(12):
            ctx = {"operation_id": f"op_plan{i}", "event_group_id": f"wf-plan:{i}"}
            await service.update_customers_tracked(ids[i % 3], {"last_name": f"L{i}"}, ctx)
            found = await service.list_customers({"q": "plan1"}, {"take": 5})
            assert [c.id for c in found] == [ids[1]]
            assert len(await service.list_customers({"first_name": {"$ilike": "plan%"}})) == 3
            assert await service.retrieve_customer(ids[0])
        prepared = await _prepared(engine)
    finally:
        await engine.dispose()

    filtered = [s for s, _ in prepared if "ILIKE" in s.upper()]
    assert filtered == []
    updates = [g for s, g in prepared if s.lstrip().startswith("WITH old AS")]
    assert updates and updates[0] > 0, prepared
    by_id = [g for s, g in prepared if "WHERE customer.id = $1" in s]
    assert by_id and by_id[0] > 0, prepared
