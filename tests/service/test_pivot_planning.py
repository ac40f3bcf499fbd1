"""A pivot's own statement plans the delivery of its run's events when nobody wants them
(`delivery_plan.planning` around the write): the run is then fully handed over, and the
hand-over (`Deliveries.release`) finds nothing to do. When a subscriber or webhook wants one,
when deliveries of the run are still pending, when events were written after the statement or
on a repeat, the statement plans nothing and says so, and the hand-over plans as before."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_service import CustomerModuleService, delivery_plan, events, oplog
from customer_service.db import transaction
from customer_service.entities import CUSTOMER
from customer_service.errors import ConflictError, ReleasedError
from customer_service.schemas import WriteContext
from customer_service.service.deliveries import Deliveries, Lane
from tests.helpers import Statements, fetch

GROUP = "wf-pivot:run"


def step(operation: str, release: bool = False) -> dict[str, Any]:
    return {"operation_id": operation, "event_group_id": GROUP, "release": release}


async def outbox(engine: AsyncEngine) -> list[tuple[str, str, Any]]:
    rows = await fetch(
        engine,
        """SELECT e.name, e.status, p.subscribers FROM event_outbox e
           LEFT JOIN event_plan p ON p.event_id = e.id
           WHERE e.event_group_id = :g ORDER BY e.id""",
        g=GROUP,
    )
    return [(r["name"], r["status"], r["subscribers"]) for r in rows]


async def test_a_created_pivot_nobody_wants_is_planned_in_its_one_statement(
    service: CustomerModuleService, engine: AsyncEngine
) -> None:
    with Statements(engine) as sent, delivery_plan.planning(["customer.deleted"]) as plan:
        await service.create_customers(
            [{"email": "ann@example.com", "addresses": [{"city": "Rome"}]}],
            step("op_create", release=True),
        )
    assert plan.planned
    assert len(sent.sql) == 1, "\n\n".join(sent.sql)
    assert await outbox(engine) == [
        ("customer.customer.created", "released", []),
        ("customer.customer-address.created", "released", []),
        ("customer.created", "released", []),
    ]
    with Statements(engine) as sent:  # the hand-over, were it run: nothing left to do
        assert await Deliveries(service.sessions).release(GROUP, {}) == (0, [])
    assert len(sent.sql) == 1
    assert await fetch(engine, "SELECT id FROM event_delivery") == []


async def test_an_update_or_link_pivot_plans_the_runs_earlier_staged_events_too(
    service: CustomerModuleService, engine: AsyncEngine
) -> None:
    [ann] = await service.create_customers([{"email": "ann@example.com"}], step("op_create"))
    [group] = await service.create_customer_groups([{"name": "VIP"}])
    with delivery_plan.planning([]) as plan:
        await service.update_customers_tracked(
            [ann.id], {"first_name": "Ann"}, step("op_update", release=True)
        )
    assert plan.planned
    assert await outbox(engine) == [
        ("customer.customer.created", "released", []),
        ("customer.created", "released", []),
        ("customer.customer.updated", "released", []),
        ("customer.updated", "released", []),
    ]

    with delivery_plan.planning([]) as plan:
        await service.change_memberships(
            add=[{"customer_id": ann.id, "customer_group_id": group.id}],
            ctx=step("op_link", release=True),
        )
    assert plan.planned
    assert [status_and_plan for *_, status_and_plan in await outbox(engine)] == [[]] * 5


async def test_a_wanted_event_leaves_the_planning_to_the_hand_over(
    service: CustomerModuleService, engine: AsyncEngine
) -> None:
    with delivery_plan.planning(["customer.created"]) as plan:
        [ann] = await service.create_customers(
            [{"email": "ann@example.com"}], step("op_create", release=True)
        )
    assert not plan.planned
    assert await outbox(engine) == [
        ("customer.customer.created", "released", None),
        ("customer.created", "released", None),
    ]
    local = {"crm": ["customer.created"]}
    assert await Deliveries(service.sessions).release(GROUP, local) == (0, [Lane("crm", ann.id)])
    assert [plan for *_, plan in await outbox(engine)] == [[], ["crm"]]


async def test_a_webhook_that_wants_an_event_leaves_the_planning_to_the_hand_over(
    service: CustomerModuleService, engine: AsyncEngine
) -> None:
    [ann] = await service.create_customers([{"email": "ann@example.com"}])
    await Deliveries(service.sessions).add_webhook(
        "https://hooks.example.com/in", ["customer.deleted"]
    )
    await Deliveries(service.sessions).add_webhook(
        "https://crm.example.com/in", ["customer.updated"]
    )
    with delivery_plan.planning([]) as plan:
        await service.update_customers_tracked(
            [ann.id], {"first_name": "Ann"}, step("op_update", release=True)
        )
    assert not plan.planned
    assert [plan for *_, plan in await outbox(engine)] == [None, None]


async def test_deliveries_of_the_run_still_pending_leave_the_hand_over_to_wake_the_relay(
    service: CustomerModuleService, engine: AsyncEngine
) -> None:
    [ann] = await service.create_customers([{"email": "ann@example.com"}], step("op_create"))
    local = {"crm": ["customer.created"]}
    assert await Deliveries(service.sessions).release(GROUP, local) == (2, [Lane("crm", ann.id)])
    with delivery_plan.planning([]) as plan:
        await service.update_customers_tracked(
            [ann.id], {"first_name": "Ann"}, step("op_update", release=True)
        )
    assert not plan.planned  # nothing of its own wanted, but the crm delivery is pending
    assert [plan for *_, plan in await outbox(engine)] == [[], ["crm"], [], []]


async def test_events_written_after_the_pivots_statement_are_left_to_the_hand_over(
    service: CustomerModuleService, engine: AsyncEngine
) -> None:
    ctx = WriteContext(operation_id="op_late", event_group_id=GROUP, release=True)
    record = oplog.UnsetDefaultRecord(flag="is_default_billing", address_ids=[])
    with delivery_plan.planning([]) as plan:
        async with transaction(service.sessions, GROUP) as session:
            assert await oplog.recorded(session, ctx, oplog.UnsetDefaultRecord) is None
            await oplog.write(session, ctx, record)
            assert plan.planned
            await events.emit_internal(session, CUSTOMER, "updated", ["cus_late"])
    assert not plan.planned
    assert await outbox(engine) == [("customer.customer.updated", "released", None)]


async def test_a_repeated_pivot_writes_nothing_and_leaves_the_hand_over_to_run(
    service: CustomerModuleService, engine: AsyncEngine
) -> None:
    request = [{"email": "ann@example.com", "id": "cus_ann"}]
    with delivery_plan.planning(["customer.created"]):
        await service.create_customers(request, step("op_create", release=True))
    with delivery_plan.planning([]) as repeat:
        await service.create_customers(request, step("op_create", release=True))
    assert not repeat.planned
    assert [plan for *_, plan in await outbox(engine)] == [None, None]


async def test_the_hook_step_releases_with_the_pivot_marked_released_and_plans(
    service: CustomerModuleService, engine: AsyncEngine
) -> None:
    """A hooked run: the pivot only wrote (staged); after the hook, one statement marks it
    released, releases the run's events and plans them; a repeat changes nothing."""
    await service.create_customers([{"email": "ann@example.com"}], step("op_create"))
    state = "SELECT state FROM operation_log WHERE operation_id = 'op_create'"
    assert await fetch(engine, state) == [{"state": "done"}]
    with delivery_plan.planning([]) as plan:
        assert await service.release_events(GROUP, "op_create") == 2
    assert plan.planned
    assert await fetch(engine, state) == [{"state": "released"}]
    assert await outbox(engine) == [
        ("customer.customer.created", "released", []),
        ("customer.created", "released", []),
    ]
    with pytest.raises(ReleasedError):  # its compensation now answers: too late
        await service.undo_create_customers("op_create")
    assert await service.release_events(GROUP, "op_create") == 0  # a repeat


async def test_the_hook_step_of_a_compensated_pivot_releases_nothing(
    service: CustomerModuleService, engine: AsyncEngine
) -> None:
    await service.create_customers([{"email": "ann@example.com"}], step("op_create"))
    assert await service.undo_create_customers("op_create")
    with pytest.raises(ConflictError, match="already compensated"):
        await service.release_events(GROUP, "op_create")
    with pytest.raises(ConflictError):  # fenced off before it ever committed: the same
        await service.release_events(GROUP, "op_never_ran")
    assert await fetch(engine, "SELECT id FROM event_outbox WHERE status = 'released'") == []
