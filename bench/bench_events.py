"""Event delivery benchmark (`make bench-events`): released → delivered latency.

Starts its own embedded PostgreSQL and Temporal dev server (or uses DATABASE_URL /
TEMPORAL_ADDRESS), migrates, and runs the product's worker in this process with one local
subscriber and one webhook (an HTTP receiver on 127.0.0.1), both on `customer.created`. Then
BENCH_EVENTS (200) CreateCustomersWorkflow runs are triggered one after the other, and
BENCH_EVENTS more from BENCH_CLIENTS (8) concurrent clients. For each event: released = the
outbox row's `status_changed_at` (set by the release transaction), delivered = when the local
handler ran / the receiver got the POST (same machine, same clock). Prints p50 / p95 / p99 per
subscriber and the load average, and writes bench/results/bench_events.json.

Target: released → delivered p50 ≤ 1 s with a local subscriber.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from sqlalchemy import text  # noqa: E402
from stats import summary  # noqa: E402

from activities.customer_activities import CustomerActivities  # noqa: E402
from activities.delivery_activities import DeliveryActivities  # noqa: E402
from activities.subscribers import SubscriberEvent, SubscriberRegistry  # noqa: E402
from customer_service import CustomerModuleService, create_engine, session_factory  # noqa: E402
from customer_service.migrate import upgrade_to_head  # noqa: E402
from customer_service.service.deliveries import Deliveries  # noqa: E402
from customer_service.service.retention import Retention  # noqa: E402
from devstack import ephemeral  # noqa: E402
from settings import Settings  # noqa: E402
from tests.events.receiver import Receiver  # noqa: E402
from triggers.client import CustomerFlows  # noqa: E402
from triggers.operations import delivery_policy  # noqa: E402
from worker import build_worker  # noqa: E402

EVENTS = int(os.environ.get("BENCH_EVENTS", "200"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "8"))


async def measure(database_url: str, temporal_address: str) -> dict[str, Any]:
    engine = create_engine(database_url, pool_size=10)
    service = CustomerModuleService(session_factory(engine))
    client = await ephemeral.connect_when_ready(temporal_address)
    queue = f"bench-events-{uuid.uuid4().hex[:8]}"
    settings = Settings(task_queue=queue)
    received: dict[str, float] = {}  # customer id → when the local subscriber got it

    def on_created(event: SubscriberEvent) -> None:
        received.setdefault(event.data["id"], time.time())

    subscribers = SubscriberRegistry()
    subscribers.register(["customer.created"], on_created, "bench.local")
    receiver = Receiver().start()
    deliveries = Deliveries(service.sessions)
    await deliveries.add_webhook(receiver.url, ["customer.created"])
    relay = DeliveryActivities(
        deliveries,
        Retention(service.sessions),
        subscribers,
        client,
        queue,
        delivery_policy(settings),
    )
    customers = CustomerActivities(service, None, relay)
    flows = CustomerFlows(client, settings, service, hooks=[])
    results: dict[str, Any] = {}
    try:
        async with build_worker(client, [*customers.all(), *relay.all()], settings, queue):
            await flows.create_customers([{"email": f"warmup-{queue}@example.com"}])
            for phase, clients in (("sequential", 1), (f"{CLIENTS} clients", CLIENTS)):
                ids = await run_phase(flows, queue, phase, clients)
                results[phase] = await latencies(engine, ids, received, receiver)
                print(f"{phase}: {json.dumps(results[phase])}", flush=True)
    finally:
        receiver.stop()
        await engine.dispose()
    return results


async def run_phase(flows: CustomerFlows, queue: str, phase: str, clients: int) -> list[str]:
    ids: list[str] = []
    per_client = EVENTS // clients

    async def one_client(no: int) -> None:
        for k in range(per_client):
            email = f"bench-{queue}-{clients}-{no}-{k}@example.com"
            [customer] = await flows.create_customers([{"email": email}])
            assert customer.id
            ids.append(customer.id)

    await asyncio.gather(*(one_client(n) for n in range(clients)))
    return ids


async def latencies(
    engine: Any, ids: list[str], received: dict[str, float], receiver: Receiver
) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        webhook = {r.json["data"]["id"] for r in receiver.accepted()}
        if all(i in received and i in webhook for i in ids):
            break
        await asyncio.sleep(0.2)
    hook_times: dict[str, float] = {}
    for request in receiver.accepted():
        hook_times.setdefault(request.json["data"]["id"], request.received)
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT data ->> 'id' AS id, status_changed_at FROM event_outbox "
                "WHERE name = 'customer.created' AND data ->> 'id' = ANY(:ids)"
            ),
            {"ids": ids},
        )
        released: dict[str, datetime] = {r.id: r.status_changed_at for r in rows}
    local = [received[i] - released[i].timestamp() for i in ids if i in received]
    hooks = [hook_times[i] - released[i].timestamp() for i in ids if i in hook_times]
    return {
        "events": len(ids),
        "local subscriber": summary(local),
        "webhook": summary(hooks),
        "undelivered": len(ids) - min(len(local), len(hooks)),
    }


def main() -> int:
    load_before = os.getloadavg()
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(ephemeral.database_url())
        upgrade_to_head(database_url)
        temporal_address = stack.enter_context(ephemeral.temporal_address())
        results = asyncio.run(measure(database_url, temporal_address))
    load_after = os.getloadavg()
    report = {
        "results": results,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "cpus": os.cpu_count(),
    }
    out = ROOT / "bench" / "results" / "bench_events.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    local_p50 = results["sequential"]["local subscriber"]["p50_ms"]
    print(
        f"released → delivered p50 (local subscriber, sequential): {local_p50} ms (target ≤ 1000)"
    )
    return 0 if local_p50 <= 1000 else 1


if __name__ == "__main__":
    sys.exit(main())
