"""Throw-away servers for the tests, the benchmarks and the history recorder: an embedded
PostgreSQL and a Temporal dev server, each in a fresh temporary folder on a free port, stopped
and removed on exit. `make dev` keeps its servers under `.data/` instead (see `__main__`)."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from temporalio.client import Client
from temporalio.runtime import Runtime

from devstack.ports import free_port
from devstack.postgres import EmbeddedPostgres
from devstack.temporal import TemporalDevServer, ensure_search_attributes
from settings import Settings, normalise_database_url
from triggers.connection import connect

# Every throw-away PostgreSQL lives in a folder with this prefix, beside the pid of its owner, so
# a later session can stop the clusters of one that was killed before it cleaned up.
POSTGRES_PREFIX = "customer-flows-pg-"


def reap_stale_postgres() -> None:
    """Stop and remove the throw-away clusters whose owning process is gone."""
    for root in Path(tempfile.gettempdir()).glob(f"{POSTGRES_PREFIX}*"):
        try:
            pid = int((root / "owner.pid").read_text())
        except (OSError, ValueError):
            continue
        if pid != os.getpid() and not Path(f"/proc/{pid}").exists():
            EmbeddedPostgres(root / "data", 0).destroy()
            shutil.rmtree(root, ignore_errors=True)


@contextmanager
def _folder(prefix: str) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def postgres() -> Iterator[EmbeddedPostgres]:
    """A started PostgreSQL of its own (database `customer_flows`, not migrated)."""
    with _folder(POSTGRES_PREFIX) as root:
        (root / "owner.pid").write_text(str(os.getpid()))
        server = EmbeddedPostgres(root / "data", free_port())
        try:
            server.start()
            yield server
        finally:
            server.destroy()


@contextmanager
def temporal(
    *, in_memory: bool = False, extra_args: Sequence[str] = ()
) -> Iterator[TemporalDevServer]:
    """A started headless Temporal dev server; its state in a SQLite file (so it survives a
    restart of the server) unless `in_memory`. `extra_args` go to `temporal server start-dev`."""
    with _folder("customer-flows-temporal-") as root:
        db_file = None if in_memory else root / "temporal.db"
        log_file = root / "server.log"
        server = TemporalDevServer(free_port(), None, db_file, log_file, extra_args=extra_args)
        try:
            server.start()
            yield server
        finally:
            server.stop()


@contextmanager
def database_url() -> Iterator[str]:
    """`DATABASE_URL` when set (a server someone else runs), else a throw-away server's URL."""
    if os.environ.get("DATABASE_URL"):
        yield normalise_database_url(os.environ["DATABASE_URL"])
        return
    with postgres() as server:
        yield server.url


@contextmanager
def temporal_address() -> Iterator[str]:
    """`TEMPORAL_ADDRESS` when set, else a throw-away dev server's address."""
    if os.environ.get("TEMPORAL_ADDRESS"):
        yield os.environ["TEMPORAL_ADDRESS"]
        return
    with temporal() as server:
        yield server.address


async def connect_when_ready(
    address: str,
    settings: Settings | None = None,
    runtime: Runtime | None = None,
    within: float = 30.0,
) -> Client:
    """A client of a server that was just started, with our search attributes registered. The dev
    server opens its port a moment before its frontend answers, so connecting is retried."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            client = await connect(settings or Settings(), address, runtime=runtime)
            break
        except RuntimeError:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.5)
    await ensure_search_attributes(client, client.namespace)
    return client
