"""Schedules (created idempotently; a triggered run does its work), retention and erasure, over
the real servers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from temporalio.client import ScheduleActionStartWorkflow
from temporalio.service import RPCError

from customer_service.delivery_invariants import settled_violations
from settings import Settings
from tests.events.conftest import EventsEnv
from tests.events.receiver import Receiver
from tests.helpers import eventually, fetch, scalar
from triggers.operations import Operations


@pytest.fixture
async def ops(events_env: EventsEnv) -> AsyncIterator[Operations]:
    settings = Settings(task_queue=events_env.task_queue, retention_batch=2)
    operations = Operations(events_env.client, settings, events_env.service.sessions)
    yield operations
    for want in ("invariant-check", "retention"):
        with contextlib.suppress(RPCError):  # a test that applied none
            await operations.schedule(f"{events_env.task_queue}-{want}").delete()


async def triggered_result(ops: Operations, schedule_id: str) -> Any:
    """Trigger the schedule now and return its run's result."""
    handle = ops.schedule(schedule_id)
    before = len((await handle.describe()).info.recent_actions)
    await handle.trigger()

    async def started() -> Any:
        actions = (await handle.describe()).info.recent_actions
        return actions[before:]

    [action] = await eventually(started, within=20)
    run = ops.client.get_workflow_handle(action.action.workflow_id)
    return await run.result()


async def test_apply_creates_the_schedules_once_and_updates_only_what_changed(
    events_env: EventsEnv, ops: Operations
) -> None:
    queue = events_env.task_queue
    check, retention = f"{queue}-invariant-check", f"{queue}-retention"
    assert await ops.apply_schedules() == {check: "created", retention: "created"}
    assert await ops.apply_schedules() == {check: "unchanged", retention: "unchanged"}
    described = await ops.schedule(retention).describe()
    action = described.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert action.workflow == "RetentionWorkflow" and action.task_queue == queue
    [nightly] = described.schedule.spec.calendars  # the server keeps the cron as a calendar
    assert (nightly.hour[0].start, nightly.minute[0].start) == (3, 30)
    seven_days = Operations(ops.client, Settings(task_queue=queue, retention_days=7))
    assert await seven_days.apply_schedules() == {check: "unchanged", retention: "updated"}
    assert await seven_days.apply_schedules() == {check: "unchanged", retention: "unchanged"}


async def test_triggered_check_lists_violations_and_tags_its_run(
    events_env: EventsEnv, ops: Operations
) -> None:
    await ops.apply_schedules()
    async with events_env.worker():
        await events_env.flows.create_customers([{"email": "checked@example.com"}])
        clean = await triggered_result(ops, f"{events_env.task_queue}-invariant-check")
        assert clean["violations"] == []
        async with events_env.engine.begin() as conn:  # what no correct run leaves behind:
            event = await conn.scalar(  # a delivery of an event that was never released
                text(
                    "INSERT INTO event_outbox (name, data, internal, status) VALUES "
                    "('customer.created', '{\"id\": \"cus_x\"}', false, 'staged') RETURNING id"
                )
            )
            for sql in (
                "INSERT INTO event_plan (event_id, subscribers) VALUES (:e, '[\"whk_x\"]')",
                "INSERT INTO event_delivery (id, event_id, subscriber, lane, status) "
                "VALUES ('dlv_planted', :e, 'whk_x', 'cus_x', 'delivered')",
            ):
                await conn.execute(text(sql), {"e": event})
        found = await triggered_result(ops, f"{events_env.task_queue}-invariant-check")
    rules = [v["rule"] for v in found["violations"]]
    assert rules == ["delivery of an event that was not released"]
    query = f"InvariantViolations > 0 AND TaskQueue = '{events_env.task_queue}'"

    async def tagged() -> list[Any]:  # visibility follows a run's end by a moment
        return [w async for w in events_env.client.list_workflows(query)]

    assert len(await eventually(tagged, within=15)) == 1


async def test_triggered_retention_prunes_old_log_entries_and_delivered_events_in_batches(
    events_env: EventsEnv, ops: Operations, receiver: Receiver
) -> None:
    await ops.apply_schedules()
    await events_env.deliveries.add_webhook(receiver.url, ["customer.created"])
    async with events_env.worker():
        await events_env.flows.create_customers(
            [{"email": f"old{k}@example.com"} for k in range(3)]
        )
        await events_env.settle()
        async with events_env.engine.begin() as conn:  # what was written 40 days ago
            await conn.execute(
                text("UPDATE operation_log SET created_at = now() - interval '40 days'")
            )
            await conn.execute(
                text(
                    "UPDATE event_outbox SET status_changed_at = now() - interval '40 days', "
                    "created_at = now() - interval '40 days'"
                )
            )
            # One old event whose delivery failed stays (an operator may still redeliver it).
            await conn.execute(
                text(
                    "UPDATE event_delivery SET status = 'failed' WHERE id = "
                    "(SELECT min(id) FROM event_delivery)"
                )
            )
        await events_env.flows.create_customers([{"email": "new@example.com"}])
        await events_env.settle()
        old_ops = await scalar(
            events_env.engine,
            "SELECT count(*) FROM operation_log WHERE created_at < now() - interval '30 days'",
        )
        assert old_ops >= 1
        pruned = await triggered_result(ops, f"{events_env.task_queue}-retention")
    assert pruned["operation_log"] == old_ops
    left = await fetch(events_env.engine, "SELECT * FROM event_outbox ORDER BY id")
    young = [e for e in left if e["status_changed_at"] is not None and e["id"] > 0]
    old_left = await fetch(
        events_env.engine,
        "SELECT e.id, d.status FROM event_outbox e LEFT JOIN event_delivery d ON d.event_id = e.id "
        "WHERE e.created_at < now() - interval '30 days'",
    )
    assert [r["status"] for r in old_left] == ["failed"]
    assert pruned["event_outbox"] >= 3 and young
    assert (
        await scalar(
            events_env.engine,
            "SELECT count(*) FROM operation_log WHERE created_at < now() - interval '30 days'",
        )
        == 0
    )
    assert await events_env.violations() == []


async def test_erasure_leaves_no_row_anywhere_with_the_customers_pii(
    events_env: EventsEnv, ops: Operations, receiver: Receiver
) -> None:
    pii = {
        "email": "zebulon.erase@example.com",
        "first_name": "Zebulon",
        "last_name": "Quixote-Hart",
        "phone": "+49 30 98765432",
    }
    await events_env.deliveries.add_webhook(receiver.url, ["*"])
    async with events_env.worker():
        [zeb] = await events_env.flows.create_customers(
            [
                {
                    "email": pii["email"],
                    "first_name": pii["first_name"],
                    "addresses": [
                        {"city": "Berlin", "phone": pii["phone"], "first_name": "Zebulon"}
                    ],
                }
            ]
        )
        assert zeb.id
        await events_env.flows.update_customers(zeb.id, {"last_name": pii["last_name"]})
        await events_env.flows.update_customers(zeb.id, {"phone": pii["phone"]})
        await events_env.flows.create_customers([{"email": "kept.keeper@example.com"}])
        await events_env.settle()
        assert await rows_containing(events_env, pii["email"])  # the search finds it before
        erased = await (await ops.start_erase(zeb.id)).result()
        again = await (await ops.start_erase(zeb.id)).result()
        await events_env.settle()
    assert erased.removed["customers"] == 1 and erased.removed["addresses"] == 1
    assert erased.removed["operation_log"] >= 2 and erased.removed["events"] >= 3
    assert again.removed == erased.removed
    for value in pii.values():
        assert await rows_containing(events_env, value) == {}, value
    assert await rows_containing(events_env, "kept.keeper@example.com")
    [tombstone] = await fetch(events_env.engine, "SELECT * FROM customer_erasure")
    assert tombstone["customer_id"] == zeb.id
    assert await events_env.violations() == []
    async with events_env.service.sessions() as session:
        assert await settled_violations(session) == []


async def rows_containing(env: EventsEnv, value: str) -> dict[str, int]:
    """Table → rows whose text (every column) contains `value`, over every table we have."""
    tables = await fetch(
        env.engine,
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    )
    assert len(tables) >= 10
    found: dict[str, int] = {}
    for (name,) in ((t["table_name"],) for t in tables):
        count = await scalar(
            env.engine, f'SELECT count(*) FROM "{name}" x WHERE x::text ILIKE :v', v=f"%{value}%"
        )
        if count:
            found[name] = count
    return found
