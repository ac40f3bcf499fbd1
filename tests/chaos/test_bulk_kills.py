"""Worker SIGKILL during a bulk import: the worker process (the only one, so each kill hits the
batch in flight) killed with -9 and restarted three times while batches run. The import still
completes; the database holds exactly the file's valid rows, once each; the error report lists
exactly the invalid rows; one `customer.created` event per imported customer; the invariant
checker finds nothing.

Size: BULK_CHAOS_ROWS rows (default 3,000, so the suite stays short on 2 cores); the 100,000-row
run of the issue is `BULK_CHAOS_ROWS=100000 pytest --timeout 1800 tests/chaos/test_bulk_kills.py`
(docs/bulk.md).
"""

from __future__ import annotations

import asyncio
import csv
import os
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from customer_service import CustomerModuleService
from settings import Settings
from tests.chaos.support import invariant_violations, report, rows, worker_pool
from tests.helpers import scalar
from triggers.client import CustomerFlows

pytestmark = pytest.mark.chaos

ROWS = int(os.environ.get("BULK_CHAOS_ROWS", "3000"))
BATCH = max(100, ROWS // 30)  # about 30 batches, whatever the size (3 runs: continue-as-new)
KILLS = 3
WORKERS = 1


def write_file(path: Path, tag: str) -> tuple[set[str], set[int]]:
    """The import file: every 17th row has a bad email, every 23rd a bad country code, every
    31st repeats an earlier row's email. Returns the valid emails and the invalid row numbers."""
    valid: set[str] = set()
    invalid: set[int] = set()
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["email", "first_name", "groups", "address.city", "address.country_code"])
        for row in range(1, ROWS + 1):
            email, country = f"k{row}-{tag}@example.com", "de"
            if row % 17 == 0:
                email = f"broken-{row}@"
            elif row % 23 == 0:
                country = "deu"
            elif row % 31 == 0:
                email = f"K1-{tag}@EXAMPLE.com"  # row 1's email, another case
            if row % 17 == 0 or row % 23 == 0 or row % 31 == 0:
                invalid.add(row)
            else:
                valid.add(email)
            writer.writerow([email, "Kim", "chaos|bulk" if row % 5 == 0 else "", "Kiel", country])
    return valid, invalid


async def test_import_survives_worker_sigkills(
    database_url: str,
    temporal_address: str,
    temporal_client: Client,
    chaos_service: CustomerModuleService,
    engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    tag = uuid.uuid4().hex[:8]
    task_queue = f"chaos-bulk-{tag}"
    file = tmp_path / "customers.csv"
    valid, invalid = write_file(file, tag)
    flows = CustomerFlows(temporal_client, Settings(task_queue=task_queue), chaos_service)
    started = time.monotonic()
    async with worker_pool(
        WORKERS,
        database_url=database_url,
        temporal_address=temporal_address,
        task_queue=task_queue,
        log_dir=tmp_path / "workers",
    ) as pool:
        handle = await flows.start_import_customers(
            str(file), batch_size=BATCH, batches_per_run=10, heartbeat_seconds=3
        )
        for kill in range(KILLS):
            # Kill once the import is a quarter, half and three quarters through.
            goal = ROWS * (kill + 1) // (KILLS + 1)
            for _ in range(3000):
                if (await flows.bulk_progress(handle.id)).read >= goal:
                    break
                await asyncio.sleep(0.05)
            pool.kill_and_restart(0)
            await pool.wait_ready()
        result = await asyncio.wait_for(handle.result(), 600)
        pool.assert_all_running()
        kills = pool.kills

    assert (result.status, result.read) == ("completed", ROWS)
    assert (result.created, result.failed) == (len(valid), len(invalid))
    emails = await rows(engine, "SELECT email FROM customer")
    assert sorted(e for (e,) in emails) == sorted(valid)  # every valid row, once
    assert await scalar(engine, "SELECT count(*) FROM customer_address") == len(valid)
    events = await rows(
        engine, "SELECT data->>'id' FROM event_outbox WHERE name = 'customer.created'"
    )
    assert len(events) == len({e for (e,) in events}) == len(valid)
    errors = await flows.import_errors(handle.id, result.batches)
    assert sorted(e.row for e in errors) == sorted(invalid)
    violations = await invariant_violations(chaos_service, flows)
    assert violations == []
    report(
        "test_import_survives_worker_sigkills",
        runs=1,
        rows=ROWS,
        kills=kills,
        violations=len(violations),
        duplicates=len(emails) - len(valid),
        seconds=round(time.monotonic() - started, 1),
    )
