"""`Deliveries.release`, the hand-over of a run's events for delivery: events nobody wants are
released and planned in one statement; only events a subscriber wants take the transaction that
records their deliveries. Either way the outbox, the plans and the deliveries end as one
transaction would leave them, and a repeat changes nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from customer_service import CustomerModuleService
from customer_service.service.deliveries import Deliveries, Lane
from tests.helpers import Statements, fetch

GROUP = "wf-release:run"


async def stage_a_run(service: CustomerModuleService) -> list[str]:
    """A run's create and address create, events staged (not yet released): the customer ids and
    the address id (each event's lane)."""
    step = {"operation_id": "op_create", "event_group_id": GROUP}
    customers = await service.create_customers(
        [{"email": "ann@example.com"}, {"email": "bob@example.com"}], step
    )
    [address] = await service.create_customer_addresses(
        [{"customer_id": customers[0].id, "city": "Rome"}],
        {"operation_id": "op_address", "event_group_id": GROUP},
    )
    return [customers[0].id, customers[1].id, address.id]


async def outbox(engine: AsyncEngine) -> list[dict[str, Any]]:
    return await fetch(
        engine,
        """SELECT e.name, e.status, p.subscribers FROM event_outbox e
           LEFT JOIN event_plan p ON p.event_id = e.id
           WHERE e.event_group_id = :g ORDER BY e.id""",
        g=GROUP,
    )


async def test_events_nobody_wants_are_released_and_planned_in_one_statement(
    service: CustomerModuleService, engine: AsyncEngine
) -> None:
    await stage_a_run(service)
    staged = await outbox(engine)
    assert {e["status"] for e in staged} == {"staged"} and len(staged) == 4, staged

    deliveries = Deliveries(service.sessions)
    with Statements(engine) as sent:
        answer = await deliveries.release(GROUP, {"audit": ["customer.deleted"]})
    assert len(sent.sql) == 1, "\n\n".join(sent.sql)
    assert answer == (4, [])
    assert await outbox(engine) == [
        {"name": e["name"], "status": "released", "subscribers": []} for e in staged
    ]
    assert await fetch(engine, "SELECT id FROM event_delivery") == []
    assert await deliveries.release(GROUP, {}) == (0, [])  # a repeat


async def test_events_a_subscriber_wants_get_their_deliveries_and_the_rest_an_empty_plan(
    service: CustomerModuleService, engine: AsyncEngine
) -> None:
    ann, bob, home = await stage_a_run(service)
    deliveries = Deliveries(service.sessions)
    local = {"crm": ["customer.created"], "audit": ["*"], "idle": ["group.created"]}

    released, lanes = await deliveries.release(GROUP, local)

    assert released == 4
    expected = [("audit", "batch"), ("audit", ann), ("audit", bob), ("audit", home)]
    expected += [("crm", ann), ("crm", bob)]
    assert lanes == [Lane(s, lane) for s, lane in sorted(expected)]
    planned = await outbox(engine)
    assert [(e["name"], e["status"], e["subscribers"]) for e in planned] == [
        ("customer.customer.created", "released", ["audit"]),  # internal, both ids: lane "batch"
        ("customer.created", "released", ["audit", "crm"]),
        ("customer.created", "released", ["audit", "crm"]),
        ("customer.customer-address.created", "released", ["audit"]),
    ]
    recorded = await fetch(engine, "SELECT subscriber, lane FROM event_delivery ORDER BY seq")
    assert sorted((d["subscriber"], d["lane"]) for d in recorded) == sorted(expected)

    assert await deliveries.release(GROUP, local) == (0, lanes)  # a repeat: the same lanes
    assert len(await fetch(engine, "SELECT id FROM event_delivery")) == len(expected)


async def test_a_run_with_wanted_and_unwanted_events_plans_each_as_one_transaction_would(
    service: CustomerModuleService, engine: AsyncEngine
) -> None:
    ann, bob, _ = await stage_a_run(service)
    deliveries = Deliveries(service.sessions)
    with Statements(engine) as sent:
        answer = await deliveries.release(GROUP, {"crm": ["customer.created"]})
    assert answer == (4, [Lane("crm", lane) for lane in sorted([ann, bob])])
    assert [e["subscribers"] for e in await outbox(engine)] == [[], ["crm"], ["crm"], []]
    assert len(sent.sql) > 1  # deliveries to record: the transaction with the lanes' locks
