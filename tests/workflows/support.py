"""Helpers shared by the workflow tests: reading a run's failure and history, comparing database
snapshots taken before and after a compensated run, and holding an activity. (Seed data, waiting
and raw reads: `tests.helpers`.)"""

from __future__ import annotations

import asyncio
import json
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError, WorkflowHandle

from tests.helpers import Snapshot
from workflows.contracts import Progress

# The compensation activities (each undoes one operation_id, or fences it off if it never ran).
COMPENSATIONS = frozenset(
    {
        "undo_create_customers",
        "undo_update_customers",
        "undo_soft_delete_customers",
        "undo_link_auth_identity",
        "undo_remove_auth_identity",
        "undo_unset_default_addresses",
        "undo_create_customer_addresses",
        "undo_update_customer_addresses",
        "undo_delete_customer_addresses",
        "undo_create_customer_groups",
        "undo_update_customer_groups",
        "undo_soft_delete_customer_groups",
        "undo_change_memberships",
        "discard_events",
    }
)


async def failure_of(handle: WorkflowHandle[Any, Any]) -> Any:
    """The cause the run failed with (fails the test if the run succeeded)."""
    with pytest.raises(WorkflowFailureError) as info:
        await handle.result()
    return info.value.cause


@dataclass
class ActivityRecord:
    """One activity of a run, as its history tells it."""

    name: str
    summary: str
    scheduled_event_id: int
    attempts_started: list[int]
    outcome: str | None = None  # completed / failed / timed_out / canceled; None while running
    local: bool = False  # a local activity (its one attempt recorded as a marker)


async def activity_records(handle: WorkflowHandle[Any, Any]) -> list[ActivityRecord]:
    """The run's activities, local and ordinary, in the order they were scheduled (a local
    activity is recorded when it ends, so it takes the place of its marker)."""
    history = await handle.fetch_history()
    records: dict[int, ActivityRecord] = {}
    outcomes = {
        EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: ("completed", "activity_task_completed"),
        EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: ("failed", "activity_task_failed"),
        EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: ("timed_out", "activity_task_timed_out"),
        EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED: ("canceled", "activity_task_canceled"),
    }
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            marker = event.marker_recorded_event_attributes
            if marker.marker_name == "core_local_activity":
                data = json.loads(marker.details["data"].payloads[0].data)
                summary = event.user_metadata.summary
                text = json.loads(summary.data) if summary.data else ""
                records[event.event_id] = ActivityRecord(
                    data["activity_type"], text, event.event_id, [data["attempt"]],
                    "failed" if marker.HasField("failure") else "completed", local=True,
                )  # fmt: skip
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            summary = event.user_metadata.summary
            text = json.loads(summary.data) if summary.data else ""
            records[event.event_id] = ActivityRecord(name, text, event.event_id, [])
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attrs = event.activity_task_started_event_attributes
            records[attrs.scheduled_event_id].attempts_started.append(attrs.attempt)
        elif event.event_type in outcomes:
            outcome, field = outcomes[event.event_type]
            scheduled = getattr(event, f"{field}_event_attributes").scheduled_event_id
            records[scheduled].outcome = outcome
    return list(records.values())


async def scheduled(handle: WorkflowHandle[Any, Any]) -> list[str]:
    """Activity types in the order the run scheduled them."""
    return [r.name for r in await activity_records(handle)]


def after_failure(names: list[str], failed: str) -> list[str]:
    """What the run scheduled after the last `failed` activity: its compensations."""
    index = len(names) - 1 - names[::-1].index(failed)
    return names[index + 1 :]


async def progress_of(handle: WorkflowHandle[Any, Any]) -> Progress:
    return await handle.query("progress", result_type=Progress)


def _strip_updated_at(snapshot: Snapshot) -> Snapshot:
    return {t: [{k: v for k, v in r.items() if k != "updated_at"} for r in rows]
            for t, rows in snapshot.items()}  # fmt: skip


def _differences(before: Snapshot, after: Snapshot) -> str:
    """The rows that differ, table by table (what a failing `assert_restored` reports)."""
    lines = []
    for table in sorted(set(before) | set(after)):
        old = {json.dumps(r, sort_keys=True, default=str) for r in before.get(table, [])}
        new = {json.dumps(r, sort_keys=True, default=str) for r in after.get(table, [])}
        lines += [f"{table} - {r}" for r in sorted(old - new)[:5]]
        lines += [f"{table} + {r}" for r in sorted(new - old)[:5]]
    return "rows changed:\n" + "\n".join(lines)


def assert_restored(before: Snapshot, after: Snapshot) -> None:
    """Every row is back exactly as it was (ids, values, created_at, deleted_at, the outbox);
    only `updated_at` may have moved, and only forward: undoing a change is a write too, and a
    reader that syncs by `updated_at` must see the row again."""
    old, new = _strip_updated_at(before), _strip_updated_at(after)
    assert new == old, _differences(old, new)
    for table, rows in before.items():
        for old, new in zip(rows, after[table], strict=True):
            if "updated_at" in old:
                assert isinstance(new["updated_at"], datetime)
                assert new["updated_at"] >= old["updated_at"], (table, old["id"])


# --- holding an activity -------------------------------------------------------------------------


class Gate:
    """Holds an activity at its start until the test opens it; records how the real call ended."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.opened = asyncio.Event()
        self.finished = asyncio.Event()
        self.error: BaseException | None = None


def held(activity_fn: Callable[..., Awaitable[Any]], gate: Gate, *, local: bool = False) -> Any:
    """An activity registered under `activity_fn`'s name that waits for `gate` to open, then
    runs the real activity.

    By default it holds the step's ordinary (durable) activity: the step's local attempt fails at
    once, before touching the database, as an infrastructure error would, and the step is handed
    over. With `local=True` it holds the local attempt itself."""
    hints = typing.get_type_hints(activity_fn)
    param = next(k for k in hints if k != "return")

    async def wrapper(arg: Any) -> Any:
        if activity.info().is_local != local:
            raise HandOver(f"{activity_fn.__name__}: not the attempt this test holds")
        try:
            gate.entered.set()
            await gate.opened.wait()
            return await activity_fn(arg)
        except BaseException as err:
            gate.error = err
            raise
        finally:
            gate.finished.set()

    wrapper.__annotations__ = {"arg": hints[param], "return": hints["return"]}
    wrapper.__name__ = activity_fn.__name__
    return activity.defn(name=activity_fn.__name__)(wrapper)


class HandOver(Exception):
    """A retryable failure: the step's local attempt gives way to its ordinary activity."""
