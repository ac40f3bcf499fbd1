"""Record the histories of the bulk import and export workflows for the replay tests (as
`record.py` does for the sagas): a small import (one bad row) and an export of what it made.

    .venv/bin/python -m tests.histories.record_bulk
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from activities.bulk_activities import BulkActivities  # noqa: E402
from activities.customer_activities import CustomerActivities  # noqa: E402
from customer_service import CustomerModuleService, create_engine, session_factory  # noqa: E402
from customer_service.migrate import upgrade_to_head  # noqa: E402
from customer_service.service.bulk import BulkImports  # noqa: E402
from customer_service.service.bulk_export import BulkExports  # noqa: E402
from devstack import ephemeral  # noqa: E402
from settings import Settings  # noqa: E402
from tests.helpers import TABLES  # noqa: E402
from triggers.client import CustomerFlows  # noqa: E402
from worker import build_worker  # noqa: E402

ROWS = [
    ["email", "first_name", "groups", "address.city"],
    ["ann@example.com", "Ann", "vip", "Berlin"],
    ["not-an-email", "Bob", "", ""],
    ["cy@example.com", "Cy", "", "Porto"],
]


async def record(database_url: str, temporal_address: str, folder: Path) -> None:
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    service = CustomerModuleService(session_factory(engine))
    client = await ephemeral.connect_when_ready(temporal_address)
    queue = "history-bulk"
    bulk = BulkActivities(BulkImports(service.sessions), BulkExports(service.sessions))
    acts = [*CustomerActivities(service).all(), *bulk.all()]
    flows = CustomerFlows(client, Settings(task_queue=queue), service, hooks=[])
    source = folder / "people.csv"
    with source.open("w", newline="") as f:
        csv.writer(f).writerows(ROWS)
    try:
        async with build_worker(client, acts, Settings(), queue):
            imported = await flows.import_customers(str(source), request_id="history")
            exported = await flows.export_customers(str(folder / "out.csv"), request_id="history")
        for name, workflow_id in (
            ("import_customers", imported.workflow_id),
            ("export_customers", exported.workflow_id),
        ):
            history = await client.get_workflow_handle(workflow_id).fetch_history()
            (HERE / f"{name}.json").write_text(history.to_json() + "\n")
            print(f"recorded {name}: {len(history.events)} events")
    finally:
        await engine.dispose()


def main() -> None:
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(ephemeral.database_url())
        upgrade_to_head(database_url)
        temporal_address = stack.enter_context(ephemeral.temporal_address())
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        asyncio.run(record(database_url, temporal_address, folder))


if __name__ == "__main__":
    main()
