"""`SUBSCRIBERS_MODULE` of the delivery chaos test's worker processes: a local subscriber whose
effect is a POST to the test's receiver (`CHAOS_RECEIVER_URL`), carrying the delivery id, so the
test sees every call a killed worker made."""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request

from activities.subscribers import SubscriberEvent, subscriber


@subscriber("customer.created", "customer.updated", "customer.deleted", name="chaos.crm_sync")
async def crm_sync(event: SubscriberEvent) -> None:
    body = json.dumps(
        {"id": event.metadata["delivery_id"], "event": event.name, "data": event.data}
    ).encode()
    request = urllib.request.Request(os.environ["CHAOS_RECEIVER_URL"], data=body, method="POST")
    request.add_header("Webhook-Id", str(event.metadata["delivery_id"]))
    request.add_header("Content-Type", "application/json")

    def post() -> None:
        with urllib.request.urlopen(request, timeout=10):
            pass

    await asyncio.to_thread(post)
