"""`DeliveryActivities`: event delivery, the scheduled maintenance and erasure.

`release` is what the saga's release step calls (injected into `CustomerActivities`): it
releases the run's events and records their deliveries in one transaction, then wakes the relay
workflow. The activities below are what the relay, the per-lane delivery workflows and the
maintenance workflows run; their signatures are those of `activities.delivery_stubs`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import inspect
import json
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.delivery_contracts import (
    LANE_WORKFLOW,
    MORE_SIGNAL,
    NEXT_BATCH,
    RELAY_WORKFLOW,
    WAKE_SIGNAL,
    DeliveryPolicy,
    DeliveryRef,
    Dispatch,
    EraseInput,
    ErasureResult,
    FailedDelivery,
    LaneInput,
    LaneRef,
    PruneBatch,
    RelayInput,
    Violations,
    lane_workflow_id,
    relay_id,
)
from activities.failures import business_errors
from activities.subscribers import SubscriberEvent, SubscriberRegistry
from customer_service.delivery_invariants import settled_violations
from customer_service.invariants import check_invariants
from customer_service.service.deliveries import Deliveries, Lane
from customer_service.service.retention import Retention

SIGNATURE_HEADER = "Webhook-Signature"
ID_HEADER = "Webhook-Id"
TIMESTAMP_HEADER = "Webhook-Timestamp"
BENIGN = ApplicationErrorCategory.BENIGN
DISPATCH_CONCURRENCY = 16  # lane workflows started or signalled at once
HEARTBEAT_EVERY = 3.0  # the delivery workflows' heartbeat timeout is 10 s


def sign(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    """`v1=<hex HMAC-SHA256(secret, "<delivery id>.<timestamp>.<body>")>` (docs/events.md)."""
    message = f"{delivery_id}.{timestamp}.".encode() + body
    return "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class DeliveryActivities:
    """Activities over the delivery and retention services, the deployment's subscribers and a
    Temporal client (to wake the relay and start deliveries)."""

    def __init__(
        self,
        deliveries: Deliveries,
        retention: Retention,
        subscribers: SubscriberRegistry,
        client: Client,
        task_queue: str,
        policy: DeliveryPolicy | None = None,
        relay_rounds: int = 500,
        sweep_every_seconds: float = RelayInput.model_fields["sweep_every_seconds"].default,
    ) -> None:
        self._deliveries = deliveries
        self._retention = retention
        self._subscribers = subscribers
        self._client = client
        self._relay = RelayInput(
            task_queue=task_queue,
            policy=policy or DeliveryPolicy(),
            rounds_per_run=relay_rounds,
            sweep_every_seconds=sweep_every_seconds,
        )

    def all(self) -> list[Callable[..., Any]]:
        return [
            member
            for _, member in inspect.getmembers(self, inspect.ismethod)
            if hasattr(member, "__temporal_activity_definition")
        ]

    # --- the release step and the relay --------------------------------------------------------

    def local_events(self) -> list[str]:
        """The event names this worker's local subscribers want (a pivot's statement plans the
        run's events itself when nobody wants them: `delivery_plan`)."""
        return sorted(
            {name for wanted in self._subscribers.subscribed().values() for name in wanted}
        )

    async def release(self, event_group_id: str) -> int:
        """Release a run's events with their deliveries, then wake the relay if any are due.
        Called by the saga's `release_events` activity (so a lost wake-up is retried with it)."""
        task_queue = activity.info().task_queue if activity.in_activity() else None
        released, lanes = await self._deliveries.release(
            event_group_id, self._subscribers.subscribed()
        )
        if lanes:
            relay = self._relay.model_copy(
                update={"task_queue": task_queue or self._relay.task_queue}
            )
            refs = [LaneRef(subscriber=lane.subscriber, lane=lane.lane) for lane in lanes]
            await wake_relay(self._client, relay, refs)
        return released

    @activity.defn
    @business_errors
    async def dispatch_deliveries(self, dispatch: Dispatch) -> int:
        """Start (or nudge) the delivery workflows of the given lanes, or of every lane with
        pending deliveries."""
        relay = dispatch.relay
        lanes = (
            [Lane(r.subscriber, r.lane) for r in dispatch.lanes]
            if dispatch.lanes is not None
            else await self._deliveries.pending_lanes()
        )
        limit = asyncio.Semaphore(DISPATCH_CONCURRENCY)

        async def nudge(lane: Lane) -> None:
            async with limit:
                await self._client.start_workflow(
                    LANE_WORKFLOW,
                    LaneInput(subscriber=lane.subscriber, lane=lane.lane, policy=relay.policy),
                    id=lane_workflow_id(relay.task_queue, lane.subscriber, lane.lane),
                    task_queue=relay.task_queue,
                    start_signal=MORE_SIGNAL,
                )

        await asyncio.gather(*(nudge(lane) for lane in lanes))
        return len(lanes)

    @activity.defn
    @business_errors
    async def next_deliveries(self, lane: LaneInput) -> list[str]:
        return await self._deliveries.next_pending(Lane(lane.subscriber, lane.lane), NEXT_BATCH)

    @activity.defn
    @business_errors
    async def deliver(self, ref: DeliveryRef) -> bool:
        """One attempt. True when delivered now; False when it was already delivered or failed
        (a repeat after a crash). Raises (and Temporal retries with backoff) on any failure."""
        found = await self._deliveries.begin_attempt(ref.delivery_id)
        if found["status"] != "pending":
            return False
        subscriber: str = found["subscriber"]
        meter = activity.metric_meter().create_counter(
            "customer_flows_event_deliveries", "Event delivery attempts by subscriber and outcome"
        )
        event = SubscriberEvent(
            name=found["name"],
            data=found["data"],
            metadata={
                "delivery_id": found["id"],
                "event_id": found["event_id"],
                "workflow_id": (found["event_group_id"] or "").rpartition(":")[0],
                "run_id": (found["event_group_id"] or "").rpartition(":")[2],
                "released_at": _iso(found["status_changed_at"]),
                "attempt": found["attempts"],
            },
        )
        try:
            await _heartbeating(self._send(found, event, ref.timeout_seconds))
        except ApplicationError:
            raise  # final (the endpoint was removed): the workflow marks the delivery failed
        except Exception as err:
            meter.add(1, {"subscriber": subscriber, "outcome": "retried"})
            await self._deliveries.record_error(found["id"], _describe(err))
            # Expected while a receiver is down: retried, and not logged as a worker failure.
            raise ApplicationError(
                _describe(err), type="delivery_attempt_failed", category=BENIGN
            ) from err
        await self._deliveries.mark_delivered(found["id"])
        meter.add(1, {"subscriber": subscriber, "outcome": "delivered"})
        return True

    async def _send(self, found: dict[str, Any], event: SubscriberEvent, seconds: float) -> None:
        subscriber: str = found["subscriber"]
        if not subscriber.startswith("whk_"):
            handler = self._subscribers.handler(subscriber)
            if handler is None:
                raise RuntimeError(f"subscriber {subscriber} is not registered on this worker")
            outcome = handler(event)
            if inspect.isawaitable(outcome):
                await outcome
            return
        if found["url"] is None:
            raise ApplicationError(
                f"webhook endpoint {subscriber} was removed",
                type="webhook_removed",
                non_retryable=True,
            )
        body = json.dumps(
            {
                "id": found["id"],
                "event": event.name,
                "data": event.data,
                "metadata": event.metadata,
            },
            separators=(",", ":"),
        ).encode()
        await asyncio.to_thread(_post, found["url"], found["secret"], found["id"], body, seconds)

    @activity.defn
    @business_errors
    async def fail_delivery(self, failed: FailedDelivery) -> bool:
        marked = await self._deliveries.mark_failed(failed.delivery_id, failed.error)
        if marked:
            activity.metric_meter().create_counter(
                "customer_flows_event_deliveries",
                "Event delivery attempts by subscriber and outcome",
            ).add(1, {"subscriber": failed.subscriber, "outcome": "failed"})
        return marked

    # --- maintenance ---------------------------------------------------------------------------

    @activity.defn
    @business_errors
    async def find_violations(self, relay: RelayInput) -> Violations:
        """The invariant checker (with run outcomes from Temporal), plus the delivery rules
        that hold once the retry window has passed."""
        found = await check_invariants(self._deliveries.sessions, self._run_outcome)
        grace = relay.policy.give_up_after() + timedelta(hours=1)
        async with self._deliveries.sessions() as session:
            settled = await settled_violations(session, timedelta(hours=1), grace)
        rows = [{"rule": v.rule, **v.detail} for v in found]
        rows += [{"rule": rule, **detail} for rule, detail in settled]
        return Violations(violations=json.loads(json.dumps(rows, default=str)))

    async def _run_outcome(self, event_group_id: str) -> str | None:
        workflow_id, _, run_id = event_group_id.rpartition(":")
        if not workflow_id:
            return None
        try:
            described = await self._client.get_workflow_handle(
                workflow_id, run_id=run_id
            ).describe()
        except Exception:  # an unknown or expired run: the rule skips it
            return None
        return described.status.name.lower() if described.status else None

    @activity.defn
    @business_errors
    async def prune(self, batch: PruneBatch) -> int:
        age = timedelta(days=batch.older_than_days)
        if batch.table == "operation_log":
            return await self._retention.prune_operation_log(age, batch.batch)
        return await self._retention.prune_outbox(age, batch.batch)

    @activity.defn
    @business_errors
    async def erase_customer(self, erase: EraseInput) -> ErasureResult:
        removed = await self._retention.erase_customer(erase.customer_id)
        return ErasureResult(customer_id=erase.customer_id, removed=removed)


async def wake_relay(client: Client, relay: RelayInput, lanes: list[LaneRef] | None) -> None:
    """Signal the task queue's relay (starting it if it is not running) with lanes to nudge
    (None: a sweep of every lane with pending deliveries)."""
    await client.start_workflow(
        RELAY_WORKFLOW,
        relay,
        id=relay_id(relay.task_queue),
        task_queue=relay.task_queue,
        start_signal=WAKE_SIGNAL,
        start_signal_args=[lanes],
    )


def _post(url: str, secret: str, delivery_id: str, body: bytes, timeout: float) -> None:
    timestamp = str(int(time.time()))
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header(ID_HEADER, delivery_id)
    request.add_header(TIMESTAMP_HEADER, timestamp)
    request.add_header(SIGNATURE_HEADER, sign(secret, delivery_id, timestamp, body))
    with urllib.request.urlopen(request, timeout=timeout) as response:
        if not 200 <= response.status < 300:
            raise RuntimeError(f"webhook answered HTTP {response.status}")


async def _heartbeating(work: Awaitable[None]) -> None:
    """Await `work`, heartbeating meanwhile (a slow subscriber is not taken for a dead worker)."""
    task = asyncio.ensure_future(work)
    while True:
        done, _ = await asyncio.wait({task}, timeout=HEARTBEAT_EVERY)
        if done:
            return task.result()
        activity.heartbeat()


def _describe(err: BaseException) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code}"
    return f"{type(err).__name__}: {err}"[:500]


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
