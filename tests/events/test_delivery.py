"""Subscribers and webhooks over a real HTTP receiver on 127.0.0.1: delivery with valid
signatures, per-customer order, retries, giving up and redelivery, nothing for compensated runs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError

from activities.delivery_activities import DeliveryActivities
from activities.delivery_contracts import relay_id
from activities.hooks import HookRegistry
from activities.subscribers import SubscriberEvent
from settings import Settings
from tests.events.conftest import EventsEnv
from tests.events.receiver import Receiver, verify
from tests.helpers import eventually, fetch
from triggers.client import CustomerFlows, FlowError
from triggers.operations import Operations

LIFE = ["customer.created", "customer.updated", "customer.updated", "customer.deleted"]


async def live_a_life(flows: CustomerFlows, email: str) -> str:
    """Create, update twice, delete: four events for one customer, released in this order."""
    [customer] = await flows.create_customers([{"email": email, "first_name": "Ann"}])
    assert customer.id
    await flows.update_customers(customer.id, {"last_name": "Lee"})
    await flows.update_customers(customer.id, {"company_name": "Acme"})
    await flows.delete_customers([customer.id])
    return customer.id


def for_customer(requests: list[Any], customer_id: str) -> list[str]:
    return [r.json["event"] for r in requests if r.json["data"]["id"] == customer_id]


async def test_subscriber_and_webhook_get_every_event_in_order_signed(
    events_env: EventsEnv, receiver: Receiver
) -> None:
    seen: list[SubscriberEvent] = []

    async def record(event: SubscriberEvent) -> None:
        seen.append(event)

    local = events_env.subscribers.register(
        ["customer.created", "customer.updated", "customer.deleted"], record, "tests.record"
    )
    endpoint = await events_env.deliveries.add_webhook(receiver.url, ["*"])
    async with events_env.worker():
        customer_id = await live_a_life(events_env.flows, "order@example.com")
        await events_env.settle()

    assert [e.name for e in seen] == LIFE
    assert all(e.data == {"id": customer_id} for e in seen)
    # The webhook ("*") also had the module's internal events; the public ones are in order.
    assert "customer.customer.created" in for_customer(receiver.accepted(), customer_id)
    public = [r for r in receiver.accepted() if r.json["event"] in set(LIFE)]
    assert [r.json["event"] for r in public] == LIFE
    for request in receiver.requests:
        assert verify(endpoint["secret"], request.headers, request.body)
        assert request.headers["webhook-id"] == request.json["id"]
        assert not verify("whsec_wrong", request.headers, request.body)
    rows = {r["id"]: r for r in await events_env.deliveries_of()}
    assert {r.json["id"] for r in receiver.requests} <= rows.keys()
    assert {e.metadata["delivery_id"] for e in seen} <= rows.keys()
    assert all(r["status"] == "delivered" and r["attempts"] == 1 for r in rows.values())
    first = seen[0].metadata
    assert first["workflow_id"].startswith("create-customers-") and first["run_id"]
    assert first["released_at"]
    assert events_env.subscribers.subscribed()[local]
    assert await events_env.violations() == []


async def test_receiver_failing_three_times_gets_it_on_the_fourth_with_one_id(
    events_env: EventsEnv, receiver: Receiver
) -> None:
    receiver.fail_first = 3
    await events_env.deliveries.add_webhook(receiver.url, ["customer.created"])
    async with events_env.worker():
        [customer] = await events_env.flows.create_customers([{"email": "retry@example.com"}])
        await events_env.settle()
    ids = {r.json["id"] for r in receiver.requests}
    assert len(ids) == 1 and len(receiver.requests) == 4
    assert [r.status for r in receiver.requests] == [503, 503, 503, 200]
    [row] = await events_env.deliveries_of()
    assert row["status"] == "delivered" and row["attempts"] == 4 and row["id"] in ids
    assert receiver.accepted()[0].json["data"] == {"id": customer.id}


async def test_receiver_down_past_the_window_fails_then_redelivers_with_the_same_id(
    events_env: EventsEnv, receiver: Receiver
) -> None:
    events_env.policy = events_env.policy.model_copy(update={"give_up_after_seconds": 2.0})
    receiver.down = True
    await events_env.deliveries.add_webhook(receiver.url, ["customer.created"])
    ops = Operations(
        events_env.client, Settings(task_queue=events_env.task_queue), events_env.service.sessions
    )
    async with events_env.worker():
        await events_env.flows.create_customers([{"email": "down@example.com"}])
        await events_env.settle()
        [failed] = await events_env.deliveries_of("failed")
        assert failed["attempts"] >= 2 and "given up" in failed["last_error"]
        assert not receiver.accepted()

        async def tagged() -> list[Any]:
            query = f"DeliveryStatus = 'failed' AND FailedDeliveryId = '{failed['id']}'"
            return [w async for w in events_env.client.list_workflows(query)]

        await eventually(tagged, within=15)
        receiver.down = False
        await ops.redeliver(failed["id"])
        await events_env.settle()
    [row] = await events_env.deliveries_of()
    assert row["status"] == "delivered" and row["id"] == failed["id"]
    assert [r.json["id"] for r in receiver.accepted()] == [failed["id"]]


async def test_nothing_delivered_for_a_compensated_run(
    events_env: EventsEnv, receiver: Receiver
) -> None:
    hooks = HookRegistry()

    def refuse(payload: dict[str, Any], additional: Any) -> None:
        raise RuntimeError("no")

    hooks.register("customersCreated", refuse)
    failing = CustomerFlows(
        events_env.client,
        Settings(task_queue=events_env.task_queue),
        events_env.service,
        hooks=["customersCreated"],
    )
    seen: list[SubscriberEvent] = []
    events_env.subscribers.register(["*"], seen.append, "tests.all")
    await events_env.deliveries.add_webhook(receiver.url, ["*"])
    async with events_env.worker(hooks):
        with pytest.raises((FlowError, WorkflowFailureError)):
            await failing.create_customers([{"email": "rolled.back@example.com"}])
        [kept] = await events_env.flows.create_customers([{"email": "kept@example.com"}])
        await events_env.settle()
    assert {e.data["id"] for e in seen if e.name.startswith("customer.created")} == {kept.id}
    assert all(
        r.json["data"]["id"] == kept.id
        for r in receiver.requests
        if r.json["event"] == "customer.created"
    )
    rolled = await fetch(
        events_env.engine, "SELECT id FROM customer WHERE email = 'rolled.back@example.com'"
    )
    assert rolled == []
    assert await events_env.violations() == []


async def test_per_customer_order_holds_across_concurrent_customers_with_retries(
    events_env: EventsEnv, receiver: Receiver
) -> None:
    receiver.fail_first = 1  # every delivery is retried once: order must survive retries
    await events_env.deliveries.add_webhook(receiver.url, LIFE[:2] + LIFE[3:])
    async with events_env.worker():
        ids = await asyncio.gather(
            *(live_a_life(events_env.flows, f"lane{k}@example.com") for k in range(5))
        )
        await events_env.settle(within=60)
    for customer_id in ids:
        assert for_customer(receiver.accepted(), customer_id) == LIFE
    assert await events_env.violations() == []


async def test_the_relay_continues_as_new_and_keeps_delivering(
    events_env: EventsEnv, receiver: Receiver
) -> None:
    events_env.relay_rounds = 2
    await events_env.deliveries.add_webhook(receiver.url, ["customer.created"])
    async with events_env.worker():
        for k in range(5):
            await events_env.flows.create_customers([{"email": f"relay{k}@example.com"}])
            await events_env.settle()
    assert len(receiver.accepted()) == 5
    query = f"WorkflowId = '{relay_id(events_env.task_queue)}'"

    async def relay_runs() -> list[str]:  # visibility follows a run's end by a moment
        runs = [str(w.status) async for w in events_env.client.list_workflows(query)]
        return runs if len(runs) >= 3 else []

    await eventually(relay_runs, within=15)


class CountedHandOvers(DeliveryActivities):
    """The worker's delivery activities, counting the hand-overs pivots and release steps make."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handed_over: list[str] = []

    async def release(self, event_group_id: str) -> int:
        self.handed_over.append(event_group_id)
        return await super().release(event_group_id)


async def test_a_pivot_whose_events_nobody_wants_hands_them_over_itself(
    events_env: EventsEnv,
) -> None:
    deliveries: CountedHandOvers = events_env.delivery_activities(CountedHandOvers)
    async with events_env.worker(deliveries=deliveries):
        [ann] = await events_env.flows.create_customers([{"email": "ann@example.com"}])
        assert ann.id
        await events_env.flows.update_customers(ann.id, {"first_name": "Ann"})
        assert deliveries.handed_over == []
        plans = await fetch(
            events_env.engine,
            "SELECT e.name, p.subscribers FROM event_outbox e"
            " LEFT JOIN event_plan p ON p.event_id = e.id WHERE NOT e.internal ORDER BY e.id",
        )
        assert plans == [
            {"name": "customer.created", "subscribers": []},
            {"name": "customer.updated", "subscribers": []},
        ]

        seen: list[str] = []

        async def record(event: SubscriberEvent) -> None:
            seen.append(event.name)

        events_env.subscribers.register(["customer.updated"], record, "tests.updates")
        await events_env.flows.update_customers(ann.id, {"first_name": "Anna"})
        assert len(deliveries.handed_over) == 1  # wanted: the pivot hands them over
        await events_env.settle()
    assert seen == ["customer.updated"]
    assert await events_env.violations() == []
