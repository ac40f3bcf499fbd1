"""Helpers shared by the Customer Module tests: raw reads of the real database, a fingerprint of
every table (so a test can assert that a failed call left the database exactly as it was), and a
small seeded world."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_service import CustomerModuleService
from tests.conftest import TABLES


async def fetch(engine: AsyncEngine, sql: str, **params: Any) -> list[dict[str, Any]]:
    """Rows of a raw SQL query, as dicts."""
    async with engine.connect() as conn:
        result = await conn.execute(text(sql), params)
        return [dict(r._mapping) for r in result.all()]


async def scalar(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar()


async def counts(engine: AsyncEngine) -> dict[str, int]:
    """Row count of every table of the module (including soft-deleted rows)."""
    sql = " UNION ALL ".join(f"SELECT '{t}' AS t, count(*) AS n FROM {t}" for t in TABLES)
    return {r["t"]: r["n"] for r in await fetch(engine, sql)}


async def fingerprint(engine: AsyncEngine) -> dict[str, str]:
    """A digest of the full content of every table: equal fingerprints = nothing was written."""
    parts = " UNION ALL ".join(
        f"SELECT '{t}' AS t, md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS h "
        f"FROM {t} x"
        for t in TABLES
    )
    return {r["t"]: r["h"] for r in await fetch(engine, parts)}


Seed = dict[str, Any]


async def seed_world(service: CustomerModuleService) -> Seed:
    """A small world: two customers (one with two addresses), one group with one member."""
    ann = await service.create_customers(
        {
            "email": "ann@example.com",
            "first_name": "Ann",
            "last_name": "Lee",
            "metadata": {"tier": "gold"},
            "addresses": [
                {"address_name": "Home", "city": "Berlin", "is_default_shipping": True},
                {"address_name": "Work", "city": "Paris", "is_default_billing": True},
            ],
        }
    )
    bob = await service.create_customers({"email": "bob@example.com", "first_name": "Bob"})
    group = await service.create_customer_groups({"name": "VIP"})
    membership = await service.add_customer_to_group(
        {"customer_id": ann.id, "customer_group_id": group.id}
    )
    assert ann.addresses is not None
    return {
        "ann": ann,
        "bob": bob,
        "home": ann.addresses[0],
        "work": ann.addresses[1],
        "group": group,
        "membership_id": membership["id"],
    }


async def unchanged_after(
    engine: AsyncEngine, call: Callable[[], Awaitable[Any]], error: type[BaseException]
) -> BaseException:
    """Run `call`, expect `error`, and check that no table changed. Returns the error."""
    before = await fingerprint(engine)
    with pytest.raises(error) as caught:
        await call()
    assert await fingerprint(engine) == before, "a failed call changed the database"
    return caught.value
