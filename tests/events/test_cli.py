"""The operator commands, run as the `customers` CLI in a subprocess against the real servers:
webhooks add / list / remove, events failed / redeliver, schedules apply, erase."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from settings import Settings
from tests.events.conftest import EventsEnv
from tests.helpers import fetch
from triggers.operations import Operations

CLI = str(Path(sys.executable).parent / "customers")


async def customers(
    env: EventsEnv, database_url: str, temporal_address: str, *args: str
) -> tuple[int, str, str]:
    environ = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TEMPORAL_ADDRESS": temporal_address,
        "TASK_QUEUE": env.task_queue,
    }
    process = await asyncio.create_subprocess_exec(
        CLI, *args, env=environ, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_operator_commands(
    events_env: EventsEnv, database_url: str, temporal_address: str
) -> None:
    async def run(*args: str) -> Any:
        code, out, err = await customers(events_env, database_url, temporal_address, *args)
        assert code == 0, err
        return json.loads(out) if "--json" in args else out

    added = await run(
        "webhooks", "add", "http://127.0.0.1:9/hooks", "--event", "customer.created", "--json"
    )
    assert added["id"].startswith("whk_") and added["secret"].startswith("whsec_")
    listed = await run("webhooks", "list", "--json")
    assert [w["id"] for w in listed] == [added["id"]] and "secret" not in listed[0]
    code, _, err = await customers(
        events_env, database_url, temporal_address, "webhooks", "add", "ftp://x", "--event", "a"
    )
    assert code == 1 and "invalid_data" in err and "url" in err

    queue = events_env.task_queue
    applied = await run("schedules", "apply", "--json")
    assert applied == {f"{queue}-invariant-check": "created", f"{queue}-retention": "created"}
    again = await run("schedules", "apply", "--json")
    assert set(again.values()) == {"unchanged"}

    async with events_env.worker():
        [ann] = await events_env.flows.create_customers([{"email": "cli.erase@example.com"}])
        assert ann.id
        erased = await run("erase", ann.id, "--json")
        assert erased["removed"]["customers"] == 1
        await run("webhooks", "remove", added["id"])  # its pending delivery then fails
        await events_env.settle()
    failed = await run("events", "failed", "--json")
    assert failed == []  # erasure took the customer's events and deliveries with it
    assert await fetch(events_env.engine, "SELECT * FROM customer WHERE id = :i", i=ann.id) == []
    code, _, err = await customers(
        events_env, database_url, temporal_address, "events", "redeliver", "dlv_missing"
    )
    assert code == 1 and "not_found" in err
    ops = Operations(events_env.client, Settings(task_queue=queue))
    for schedule_id in applied:
        await ops.schedule(schedule_id).delete()
