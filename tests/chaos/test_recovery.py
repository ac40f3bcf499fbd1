"""Recovery from a killed worker is a matter of seconds: the only worker is killed (-9) while a
run's step is running on it, and started again at once. The step's attempt is retried after its
heartbeat timeout (not its start-to-close timeout), the run's next workflow task leaves the dead
worker's sticky queue after the sticky schedule-to-start timeout, and the run completes within
those bounds. The speed under load is measured by `make bench-recovery`."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType, PendingActivityState, TimeoutType
from temporalio.client import Client

from settings import Settings
from tests.chaos.hooks import HOOK_POINTS
from tests.chaos.support import report, worker_pool
from triggers.client import CustomerFlows
from workflows import policies

pytestmark = pytest.mark.chaos

HOOK_SECONDS = 3.0


async def test_a_step_lost_with_its_worker_is_retried_after_its_heartbeat_timeout(
    database_url: str, temporal_address: str, temporal_client: Client, tmp_path: Path
) -> None:
    settings = Settings(task_queue=f"chaos-recovery-{uuid.uuid4().hex[:8]}")
    flows = CustomerFlows(temporal_client, settings, hooks=HOOK_POINTS)
    assert policies.HEARTBEAT_TIMEOUT is not None
    heartbeat = policies.HEARTBEAT_TIMEOUT.total_seconds()
    async with worker_pool(
        1,
        database_url=database_url,
        temporal_address=temporal_address,
        task_queue=settings.task_queue,
        log_dir=tmp_path,
    ) as pool:
        handle = await flows.start_create_customers(
            [{"email": f"recovery-{uuid.uuid4().hex[:8]}@example.com"}],
            additional_data={"chaos_delay": HOOK_SECONDS},
        )
        deadline = time.monotonic() + 30
        while True:  # until the hook step runs on the worker
            pending = (await handle.describe()).raw_description.pending_activities
            if any(
                p.activity_type.name == "run_hook"
                and p.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
                for p in pending
            ):
                break
            assert time.monotonic() < deadline, "the hook step never started"
            await asyncio.sleep(0.05)
        killed = time.monotonic()
        await asyncio.to_thread(pool.kill_and_restart, 0)
        await pool.wait_ready()
        start_up = time.monotonic() - killed  # slow on a loaded machine: part of the bound
        await handle.result()
        recovered = time.monotonic() - killed

    history = await handle.fetch_history()
    hook_retries = [
        e.activity_task_started_event_attributes
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        and e.activity_task_started_event_attributes.attempt > 1
    ]
    assert hook_retries, "the hook step was not retried after the kill"
    cause = hook_retries[0].last_failure.timeout_failure_info.timeout_type
    assert cause == TimeoutType.TIMEOUT_TYPE_HEARTBEAT, cause
    # The workflow task that followed the retried step went to the dead worker's sticky queue
    # first and left it after the sticky schedule-to-start timeout.
    sticky = [
        e
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT
        and e.workflow_task_timed_out_event_attributes.timeout_type
        == TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START
    ]
    by_id = {e.event_id: e for e in history.events}
    waits = [
        e.event_time.ToDatetime()
        - by_id[
            e.workflow_task_timed_out_event_attributes.scheduled_event_id
        ].event_time.ToDatetime()
        for e in sticky
    ]
    assert all(w.total_seconds() <= settings.sticky_schedule_to_start_timeout + 1 for w in waits)
    # The heartbeat timeout (or the new worker's start-up, whichever ends later), the hook again,
    # then at most a sticky wait and a few tasks: far below the 30 s start-to-close timeout that
    # a lost step waited out before.
    slack = 5
    bound = max(heartbeat, start_up) + HOOK_SECONDS + settings.sticky_schedule_to_start_timeout
    bound += slack
    assert bound < policies.FORWARD_START_TO_CLOSE.total_seconds(), "the bound proves nothing"
    report(
        "test_a_step_lost_with_its_worker_is_retried_after_its_heartbeat_timeout",
        runs=1,
        kills=1,
        restarts=1,
        recovered_s=round(recovered, 1),
        start_up_s=round(start_up, 1),
        sticky_waits_s=[round(w.total_seconds(), 1) for w in waits],
    )
    assert recovered <= bound, f"{recovered:.1f}s from the kill to the result (bound {bound}s)"
