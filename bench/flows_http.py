"""The HTTP API in the benchmarks: the API process, an admin client, and (in `make bench-flows`)
POST /admin/customers next to the same create started in-process, on the bench's PostgreSQL,
Temporal dev server and worker. `make bench-api` starts its API with `ApiProcess` too.

The API runs as users run it, `python -m api` with its default processes (one uvicorn process
per core), on the bench's task queue; an admin logs in (bearer JWT, as Medusa's admin does) and
the load generator is `raw_http` (keep-alive HTTP/1.1 on asyncio streams: httpx would take more
of the two cores than the API does). Both sides create one customer from the same fields, the
body Medusa's route takes; the route also re-reads the customer it created (Medusa's refetch).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
from raw_http import RawClient

from api.__main__ import worker_count
from auth.store import AuthStore
from customer_service import CustomerModuleService, create_engine, session_factory
from devstack.ports import free_port
from settings import get_settings
from supervision import die_with_parent, stop_process

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 60.0


def customer_body(tag: str, n: int) -> dict[str, Any]:
    """One customer, the fields of Medusa's POST /admin/customers body."""
    return {
        "email": f"bench.{tag}.{n}@example.com",
        "first_name": "Bench",
        "last_name": f"Http{n}",
        "phone": f"+1555{n:07d}",
    }


class ApiProcess:
    """`python -m api` on a free port, against the bench's servers and task queue; `env`: more
    of the API's settings (API_WORKERS, DB_POOL_SIZE, ...)."""

    def __init__(
        self, database_url: str, temporal_address: str, task_queue: str, log: Path, **env: str
    ) -> None:
        # API_WORKERS 0 or unset: what the API reads from the environment
        self.workers = int(env.get("API_WORKERS") or 0) or worker_count(get_settings())
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        environment = {
            **os.environ,
            **env,
            "DATABASE_URL": database_url,
            "TEMPORAL_ADDRESS": temporal_address,
            "TASK_QUEUE": task_queue,
            "API_PORT": str(self.port),
            "ENVIRONMENT": "production",
            "JWT_SECRET": secrets.token_urlsafe(48),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "api"],
            cwd=ROOT,
            env=environment,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )

    async def wait_ready(self) -> None:
        client = RawClient(self.url)
        deadline = time.monotonic() + START_TIMEOUT_S
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    break
                with contextlib.suppress(OSError):
                    if (await client.get("/health")).status_code == 200:
                        return
                await asyncio.sleep(0.2)
        finally:
            await client.aclose()
        tail = self.log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"the API did not start:\n{tail}")

    def processes(self) -> list[psutil.Process]:
        """The supervisor and its uvicorn worker processes (their CPU is the API's)."""
        with contextlib.suppress(psutil.Error):
            parent = psutil.Process(self.process.pid)
            return [parent, *parent.children(recursive=True)]
        return []

    def stop(self) -> None:
        stop_process(self.process)


async def admin_client(api: ApiProcess, database_url: str, tag: str) -> tuple[RawClient, str]:
    """A client logged in as a new admin user, with its bearer token; and the user's id."""
    email, password = f"bench.admin.{tag}@example.com", secrets.token_urlsafe(16)
    engine = create_engine(database_url, pool_size=1)
    try:
        user_id, _ = await AuthStore(
            CustomerModuleService(session_factory(engine)).sessions
        ).create_user(email, password)
    finally:
        await engine.dispose()
    client = RawClient(api.url)
    login = await client.post("/auth/user/emailpass", json={"email": email, "password": password})
    if login.status_code != 200:
        raise RuntimeError(f"login: {login.status_code} {login.text[:200]}")
    client.headers["authorization"] = f"Bearer {login.json()['token']}"
    return client, user_id


async def post_customer(client: RawClient, body: dict[str, Any]) -> Any:
    reply = await client.post("/admin/customers", json=body)
    if reply.status_code != 200:
        raise RuntimeError(f"POST /admin/customers: {reply.status_code} {reply.text[:200]}")
    return reply.json()["customer"]
