"""Record the histories of the event-delivery and maintenance workflows for the replay tests
(as `record.py` does for the sagas): one release delivered to a local subscriber and a webhook
(the relay's and the lane's histories), an invariant check, a retention run and an erasure.

    .venv/bin/python -m tests.histories.record_events
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from activities.delivery_contracts import (  # noqa: E402
    RelayInput,
    RetentionInput,
    lane_workflow_id,
    relay_id,
)
from activities.hooks import HookRegistry  # noqa: E402
from customer_service import CustomerModuleService, create_engine, session_factory  # noqa: E402
from customer_service.migrate import upgrade_to_head  # noqa: E402
from devstack import ephemeral  # noqa: E402
from settings import Settings  # noqa: E402
from tests.events.conftest import FAST, EventsEnv  # noqa: E402
from tests.events.receiver import Receiver  # noqa: E402
from tests.helpers import TABLES  # noqa: E402
from triggers.operations import Operations  # noqa: E402
from workflows.maintenance import InvariantCheckWorkflow, RetentionWorkflow  # noqa: E402


async def record(database_url: str, temporal_address: str) -> None:
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    service = CustomerModuleService(session_factory(engine))
    client = await ephemeral.connect_when_ready(temporal_address)
    env = EventsEnv(client, service, engine, HookRegistry())
    env.subscribers.register(["customer.created"], lambda event: None, "history.local")
    receiver = Receiver().start()
    webhook = await env.deliveries.add_webhook(receiver.url, ["customer.created"])
    queue = env.task_queue
    try:
        async with env.worker():
            [ann] = await env.flows.create_customers([{"email": "history@example.com"}])
            assert ann.id
            await env.settle()
            relay = RelayInput(task_queue=queue, policy=FAST)
            await client.execute_workflow(
                InvariantCheckWorkflow.run, relay, id="history-check", task_queue=queue
            )
            await client.execute_workflow(
                RetentionWorkflow.run, RetentionInput(), id="history-retention", task_queue=queue
            )
            ops = Operations(client, Settings(task_queue=queue))
            await (await ops.start_erase(ann.id)).result()
            histories = {
                "event_relay": relay_id(queue),
                "deliver_events": lane_workflow_id(queue, webhook["id"], ann.id),
                "invariant_check": "history-check",
                "retention": "history-retention",
                "erase_customer": f"erase-customer-{ann.id}",
            }
            for name, workflow_id in histories.items():
                history = await client.get_workflow_handle(workflow_id).fetch_history()
                (HERE / f"{name}.json").write_text(history.to_json() + "\n")
                print(f"recorded {name}")
            await client.get_workflow_handle(relay_id(queue)).terminate("history recorded")
    finally:
        receiver.stop()
        await engine.dispose()


def main() -> None:
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(ephemeral.database_url())
        upgrade_to_head(database_url)
        temporal_address = stack.enter_context(ephemeral.temporal_address())
        asyncio.run(record(database_url, temporal_address))


if __name__ == "__main__":
    main()
