"""Helpers shared by every test package (and the history recorder): raw reads of the real
database, a fingerprint and a snapshot of its tables (to assert that a failed call or a
compensated run left it exactly as it was), a scratch database, waiting for a condition, and the
seeded worlds."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from sqlalchemy import create_engine, event, make_url, pool, text
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_service import CustomerModuleService

T = TypeVar("T")

# Every table of the module, emptied between tests.
TABLES = (
    "customer_group_customer",
    "customer_address",
    "customer_group",
    "customer",
    "event_outbox",
    "operation_log",
    "event_delivery",
    "event_plan",
    "webhook_endpoint",
    "customer_erasure",
)
# The tables a compensated run must leave as they were (see `snapshot`).
SNAPSHOT_TABLES = (
    "customer",
    "customer_address",
    "customer_group",
    "customer_group_customer",
    "event_outbox",
    "auth_identity",
)

Snapshot = dict[str, list[dict[str, Any]]]


@contextlib.contextmanager
def scratch_database(database_url: str, prefix: str) -> Iterator[str]:
    """An empty database of its own on the session's server, dropped afterwards: its URL."""
    url = make_url(database_url)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=pool.NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    finally:
        admin.dispose()


# --- waiting, bounded ----------------------------------------------------------------------------


async def eventually(
    check: Callable[[], Awaitable[T]], within: float = 10.0, interval: float = 0.1
) -> T:
    """Poll `check()` until it returns something truthy; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s (last value: {value!r})")
        await asyncio.sleep(interval)


def wait_until(
    condition: Callable[[], bool], what: str, within: float = 20.0, interval: float = 0.05
) -> None:
    """`eventually` for plain code (processes, files): poll until true, fail saying `what`."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(interval)


# --- reading the database ------------------------------------------------------------------------


async def fetch(engine: AsyncEngine, sql: str, **params: Any) -> list[dict[str, Any]]:
    """Rows of a raw SQL query, as dicts."""
    async with engine.connect() as conn:
        result = await conn.execute(text(sql), params)
        return [dict(r._mapping) for r in result.all()]


async def scalar(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    """The first column of the first row of a raw SQL query (None without rows)."""
    async with engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar()


async def counts(engine: AsyncEngine) -> dict[str, int]:
    """Row count of every table of the module (including soft-deleted rows)."""
    sql = " UNION ALL ".join(f"SELECT '{t}' AS t, count(*) AS n FROM {t}" for t in TABLES)
    return {r["t"]: r["n"] for r in await fetch(engine, sql)}


STAMPS = ("created_at", "updated_at", "status_changed_at", "deleted_at")


def stamped(row: dict[str, Any]) -> dict[str, Any]:
    """`row` with its timestamps reduced to whether they are set."""
    return {k: (None if v is None else "set") if k in STAMPS else v for k, v in row.items()}


async def written(engine: AsyncEngine, orders: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Every row of the tables `orders` names (table → ORDER BY), without what the clock or a
    sequence sets: timestamps reduced to whether they are set, the outbox's ids left out. For
    comparing what two paths of one write wrote."""
    out: dict[str, list[dict[str, Any]]] = {}
    for table, order in orders.items():
        rows = [stamped(r) for r in await fetch(engine, f"SELECT * FROM {table} ORDER BY {order}")]
        if table == "event_outbox":
            for row in rows:
                del row["id"]
        out[table] = rows
    return out


async def fingerprint(engine: AsyncEngine) -> dict[str, str]:
    """A digest of the full content of every table: equal fingerprints = nothing was written."""
    parts = " UNION ALL ".join(
        f"SELECT '{t}' AS t, md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS h "
        f"FROM {t} x"
        for t in TABLES
    )
    return {r["t"]: r["h"] for r in await fetch(engine, parts)}


async def snapshot(engine: AsyncEngine) -> Snapshot:
    """Every row of the four entity tables and the outbox, to compare before / after a
    compensated run."""
    out: Snapshot = {}
    async with engine.connect() as conn:
        for table in SNAPSHOT_TABLES:
            rows = await conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))
            out[table] = [dict(r._mapping) for r in rows]
    return out


async def unchanged_after(
    engine: AsyncEngine, call: Callable[[], Awaitable[Any]], error: type[BaseException]
) -> BaseException:
    """Run `call`, expect `error`, and check that no table changed. Returns the error."""
    before = await fingerprint(engine)
    with pytest.raises(error) as caught:
        await call()
    assert await fingerprint(engine) == before, "a failed call changed the database"
    return caught.value


# --- seed data -----------------------------------------------------------------------------------

Seed = dict[str, Any]


async def seed_world(service: CustomerModuleService) -> Seed:
    """The Customer Module tests' world: two customers (Ann with a home and a work address) and
    group VIP with Ann as its member."""
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


@dataclass
class World:
    """The workflow tests' world: a guest with a default and a plain address and one group, a
    registered customer with an address, and a group without members."""

    guest: str
    default_address: str
    other_address: str
    registered: str
    registered_address: str
    auth_identity_id: str
    group: str
    empty_group: str


SEEDED_IDENTITIES = ("authid_rui", "authid_new")


async def _seed_identities(service: CustomerModuleService, registered: str) -> None:
    """The auth identities of the workflow world (auth tables outlive a test: reset them):
    Rui's, linked to the registered customer, and a fresh one for registrations."""
    rows = [
        {
            "id": "authid_rui",
            "email": "rui.member@example.com",
            "meta": {"customer_id": registered},
        },
        {"id": "authid_new", "email": "new.member@example.com", "meta": {}},
    ]
    async with service.sessions() as session, session.begin():
        await session.execute(
            text("DELETE FROM auth_identity WHERE id = ANY(:ids) OR lower(email) = ANY(:emails)"),
            {"ids": list(SEEDED_IDENTITIES), "emails": [r["email"] for r in rows]},
        )
        for row in rows:
            await session.execute(
                text(
                    "INSERT INTO auth_identity (id, email, password_hash, app_metadata) "
                    "VALUES (:id, :email, 'not-a-hash', CAST(:meta AS jsonb))"
                ),
                {**row, "meta": json.dumps(row["meta"])},
            )


async def seed(service: CustomerModuleService) -> World:
    """Create the workflow tests' `World`."""
    guest = await service.create_customers(
        {
            "email": "ana.guest@example.com",
            "first_name": "Ana",
            "company_name": "Acme",
            "metadata": {"tier": "gold"},
            "addresses": [
                {
                    "address_name": "home",
                    "city": "Lisbon",
                    "country_code": "pt",
                    "is_default_shipping": True,
                    "is_default_billing": True,
                },
                {"address_name": "work", "city": "Porto", "country_code": "pt"},
            ],
        }
    )
    registered = await service.create_customers(
        {
            "email": "rui.member@example.com",
            "first_name": "Rui",
            "has_account": True,
            "auth_identity_id": "authid_rui",
            "addresses": [{"city": "Faro", "country_code": "pt"}],
        }
    )
    await _seed_identities(service, registered.id)
    group = await service.create_customer_groups({"name": "VIP", "metadata": {"level": 1}})
    empty = await service.create_customer_groups({"name": "Wholesale"})
    await service.add_customer_to_group({"customer_id": guest.id, "customer_group_id": group.id})
    default, other = sorted(guest.addresses or [], key=lambda a: a.address_name or "")
    assert default.is_default_shipping and not other.is_default_shipping
    assert guest.id and registered.id and group.id and empty.id
    assert default.id and other.id and registered.addresses and registered.addresses[0].id
    return World(
        guest=guest.id,
        default_address=default.id,
        other_address=other.id,
        registered=registered.id,
        registered_address=registered.addresses[0].id,
        auth_identity_id="authid_rui",
        group=group.id,
        empty_group=empty.id,
    )


@contextlib.contextmanager
def serving(server: Any) -> Iterator[Any]:
    """Run a `uvicorn.Server` (the codec server) in a thread until the block ends."""
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(10)


class Statements:
    """`with Statements(engine) as sent:` the SQL statements `engine` sent meanwhile, in
    `sent.sql` (not BEGIN / COMMIT, which psycopg sends itself)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.sql: list[str] = []
        self._engine = engine

    def _count(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.sql.append(statement)

    def __enter__(self) -> Statements:
        event.listen(self._engine.sync_engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self._engine.sync_engine, "before_cursor_execute", self._count)
