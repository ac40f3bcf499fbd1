"""The ORM models (customer_service/models.py) and the migrated schema must agree: columns, types,
nullability, defaults, indexes (with their predicates and expressions) and constraints.

The models' DDL is created in a scratch schema and compared with the migrated one through the
PostgreSQL catalog, so both sides are described by the server in the same words."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from auth.models import AuthBase
from customer_service.models import Base

SCRATCH = "models_check"


async def describe(conn: AsyncConnection, schema: str) -> dict[str, Any]:
    async def rows(sql: str) -> list[tuple[Any, ...]]:
        result = await conn.execute(text(sql), {"s": schema})
        return sorted(tuple(r) for r in result.all())

    def unqualify(value: Any) -> Any:
        return re.sub(rf"\b{schema}\.", "", value) if isinstance(value, str) else value

    columns = await rows(
        """SELECT table_name, column_name, data_type, is_nullable, column_default,
                  ordinal_position
           FROM information_schema.columns WHERE table_schema = :s"""
    )
    indexes = await rows(
        """SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = :s"""
    )
    constraints = await rows(
        """SELECT cl.relname, co.conname, co.contype, pg_get_constraintdef(co.oid)
           FROM pg_constraint co JOIN pg_class cl ON cl.oid = co.conrelid
           JOIN pg_namespace n ON n.oid = cl.relnamespace WHERE n.nspname = :s"""
    )
    tables = await rows("SELECT table_name FROM information_schema.tables WHERE table_schema = :s")

    def ours(items: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        return [r for r in items if r[0] != "alembic_version"]  # Alembic's own bookkeeping

    columns, indexes, constraints, tables = map(ours, (columns, indexes, constraints, tables))
    return {
        "tables": tables,
        "columns": [tuple(unqualify(v) for v in r) for r in columns],
        "indexes": [tuple(unqualify(v) for v in r) for r in indexes],
        "constraints": [tuple(unqualify(v) for v in r) for r in constraints],
    }


@pytest.fixture
async def scratch(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection whose search path puts the models' own DDL in a scratch schema."""
    async with engine.connect() as conn:
        await conn.execute(text(f"DROP SCHEMA IF EXISTS {SCRATCH} CASCADE"))
        await conn.execute(text(f"CREATE SCHEMA {SCRATCH}"))
        # public stays on the path for pg_trgm's operator classes
        await conn.execute(text(f"SET LOCAL search_path = {SCRATCH}, public"))
        await conn.execute(text("SET LOCAL lock_timeout = '5s'"))
        # checkfirst=False: the migrated tables in public are visible and must not count
        await conn.run_sync(Base.metadata.create_all, checkfirst=False)
        await conn.run_sync(AuthBase.metadata.create_all, checkfirst=False)  # the API's tables
        try:
            yield conn
        finally:
            await conn.rollback()  # the scratch schema never outlives the test


async def test_models_agree_with_the_migrated_schema(
    scratch: AsyncConnection, engine: AsyncEngine
) -> None:
    async with engine.connect() as conn:
        migrated = await describe(conn, "public")
    models = await describe(scratch, SCRATCH)
    assert sorted(t for (t,) in models["tables"]) == sorted(
        [
            "customer",
            "customer_address",
            "customer_group",
            "customer_group_customer",
            "event_outbox",
            "operation_log",
            "auth_identity",
            "admin_user",
            "api_key",
            "api_idempotency_key",
            "webhook_endpoint",
            "event_delivery",
            "event_plan",
            "customer_erasure",
        ]
    )
    for part in ("tables", "columns", "indexes", "constraints"):
        only_models = sorted(set(models[part]) - set(migrated[part]))
        only_migration = sorted(set(migrated[part]) - set(models[part]))
        assert (only_models, only_migration) == ([], []), part


async def test_the_comparison_notices_a_difference(
    scratch: AsyncConnection, engine: AsyncEngine
) -> None:
    """Guard against a comparison that always passes: a changed index in the models' schema is
    reported."""
    async with engine.connect() as conn:
        migrated = await describe(conn, "public")
    await scratch.execute(text(f'DROP INDEX {SCRATCH}."IDX_customer_deleted_at"'))
    await scratch.execute(
        text(f'CREATE INDEX "IDX_customer_deleted_at" ON {SCRATCH}.customer (deleted_at)')
    )
    models = await describe(scratch, SCRATCH)
    assert set(models["indexes"]) != set(migrated["indexes"])
    changed = set(migrated["indexes"]) - set(models["indexes"])
    assert [i[1] for i in changed] == ["IDX_customer_deleted_at"]
