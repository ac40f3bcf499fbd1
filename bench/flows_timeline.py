"""Where a sequential run's time goes, from the client's clock and the server's event times.

`StartRecorder` (a client interceptor) notes the workflow id of each run started while it
records; `parts` then reads those runs' histories and splits each run's wall time, as the
client saw it, at the server's events (the bench's processes share one machine, so one clock):

- start: the client's call to its run's WorkflowExecutionStarted (validation, the start RPC,
  the server's start);
- dispatch: to the first workflow task's start (matching hands it to the worker's poll);
- tasks: to the last workflow task's completion (the worker's activations and activities, and
  for a run of two tasks the server between them);
- close: to the run's completion event (the server applying the last task's commands: a
  search-attribute upsert, the result);
- answer: to the client holding the result (the result's long poll and its decoding).

With TEMPORAL_ADDRESS on another machine, start and answer also carry the two clocks' offset.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from stats import percentile
from temporalio import client as temporal_client
from temporalio.api.enums.v1 import EventType

PARTS = ("start", "dispatch", "tasks", "close", "answer")


class StartRecorder(temporal_client.Interceptor):
    """While `recording`, the id of every workflow this client starts goes to `started`."""

    def __init__(self) -> None:
        self.recording = False
        self.started: list[str] = []

    def intercept_client(
        self, next: temporal_client.OutboundInterceptor
    ) -> temporal_client.OutboundInterceptor:
        return _Outbound(next, self)


class _Outbound(temporal_client.OutboundInterceptor):
    def __init__(self, next: temporal_client.OutboundInterceptor, recorder: StartRecorder) -> None:
        super().__init__(next)
        self._recorder = recorder

    async def start_workflow(
        self, input: temporal_client.StartWorkflowInput
    ) -> temporal_client.WorkflowHandle[Any, Any]:
        if self._recorder.recording:
            self._recorder.started.append(input.id)
        return await super().start_workflow(input)


def recording_client(
    client: temporal_client.Client,
) -> tuple[temporal_client.Client, StartRecorder]:
    """`client` with a `StartRecorder` (the same connection and data converter)."""
    recorder = StartRecorder()
    config = client.config()
    config["interceptors"] = [*config["interceptors"], recorder]
    return temporal_client.Client(**config), recorder


@dataclass
class Timed:
    """One run as the client saw it: its id and the wall clock (ms) at call and at answer."""

    workflow_id: str
    called_ms: float
    answered_ms: float


async def timed(recorder: StartRecorder, run: Awaitable[Any]) -> Timed:
    """Await `run` (one run, to its result) and note its workflow id and wall-clock times."""
    recorder.started.clear()
    recorder.recording = True
    try:
        called = time.time() * 1000
        await run
        answered = time.time() * 1000
    finally:
        recorder.recording = False
    if not recorder.started:
        raise RuntimeError("the timed operation started no workflow through this client")
    # Its own start comes first; a worker sharing this client (BENCH_WORKER=inprocess) may
    # start others while it runs.
    return Timed(recorder.started[0], called, answered)


async def _split(client: temporal_client.Client, run: Timed) -> dict[str, float]:
    events = [e async for e in client.get_workflow_handle(run.workflow_id).fetch_history_events()]

    def at(event: Any) -> float:
        return float(event.event_time.ToNanoseconds()) / 1e6

    task_started = [
        at(e) for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
    ]
    task_completed = [
        at(e) for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    ]
    marks = [run.called_ms, at(events[0]), task_started[0], task_completed[-1], at(events[-1])]
    marks.append(run.answered_ms)
    return {part: marks[i + 1] - marks[i] for i, part in enumerate(PARTS)}


async def parts(client: temporal_client.Client, runs: list[Timed]) -> dict[str, Any]:
    """The median of each part over `runs` (ms), and the runs' median wall time."""
    limit = asyncio.Semaphore(16)

    async def one(run: Timed) -> dict[str, float]:
        async with limit:
            return await _split(client, run)

    splits = await asyncio.gather(*(one(run) for run in runs))
    out: dict[str, Any] = {
        part: round(percentile([s[part] for s in splits], 50), 3) for part in PARTS
    }
    out["total"] = round(percentile([r.answered_ms - r.called_ms for r in runs], 50), 3)
    out["runs"] = len(runs)
    return out
