"""Machinery of the chaos suite: worker processes that can be killed and restarted, a ledger of
the runs a test started (and how each ended), what the histories say about retries, and the
figures each test reports at the end of the session (see `conftest.pytest_terminal_summary`).
Servers a test may stop come from `devstack.ephemeral`; waiting and raw reads from
`tests.helpers`."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psutil
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.service import RPCError

from devstack import ephemeral
from settings import PROJECT_ROOT
from supervision import die_with_parent
from tests.workflows.support import COMPENSATIONS, activity_records
from workflows.visibility import SAGA_STATUS

T = TypeVar("T")

HOOKS_MODULE = "tests.chaos.worker_hooks"

# Test name → its figures, printed once at the end of the session.
FIGURES: dict[str, dict[str, Any]] = {}


def report(test: str, **figures: Any) -> None:
    FIGURES.setdefault(test, {}).update(figures)


# --- waiting, bounded ----------------------------------------------------------------------------


async def through_outage(call: Callable[[], Awaitable[T]], within: float = 90.0) -> T:
    """Await `call()`, repeating it while the Temporal server does not answer (it is restarting);
    give up after `within` seconds. Only safe for idempotent calls (starts with a request id,
    reading a result)."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await call()
        except RPCError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def connect_client(address: str, within: float = 60.0) -> Client:
    """A client with the project's data converter and our search attributes, retried while the
    server is not answering yet. Its runtime logs errors only: the retries it makes while the
    server is away on purpose are not news."""
    from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

    quiet = TelemetryFilter(core_level="ERROR", other_level="ERROR")
    runtime = Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=quiet)))
    return await through_outage(
        lambda: ephemeral.connect_when_ready(address, runtime=runtime, within=within), within
    )


# --- worker processes ----------------------------------------------------------------------------


class WorkerProcess:
    """`python worker.py`, configured by environment like a deployed replica."""

    def __init__(self, index: int, env: dict[str, str], log_dir: Path) -> None:
        self.index = index
        self.env = env
        self.log_dir = log_dir
        self.incarnation = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = log_dir / f"worker-{index}.log"

    def start(self) -> None:
        self.incarnation += 1
        self.log_path = self.log_dir / f"worker-{self.index}-{self.incarnation}.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "worker.py"],
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
            )

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def is_ready(self) -> bool:
        return "worker serving" in self.log_tail(100_000)

    def serving_starts(self) -> int:
        """How often this incarnation has started serving: the worker's supervising process
        forks a new serving process whenever one dies."""
        return self.log_tail(10_000_000).count("worker serving")

    async def wait_serving(self, starts: int, within: float = 60.0) -> None:
        deadline = time.monotonic() + within
        while self.serving_starts() < starts:
            if not self.is_running() or time.monotonic() > deadline:
                raise AssertionError(f"worker {self.index} did not serve again:\n{self.log_tail()}")
            await asyncio.sleep(0.01)

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def wait_ready(self, within: float = 60.0) -> None:
        deadline = time.monotonic() + within
        while not self.is_ready():
            if not self.is_running():
                raise AssertionError(f"worker {self.index} exited at start:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"worker {self.index} not ready in {within}s:\n{self.log_tail()}"
                )
            await asyncio.sleep(0.1)

    def kill(self) -> None:
        """kill -9 of the whole worker, its serving process dying with it: no drain, no goodbye
        to the server; in-flight tasks are simply lost."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def kill_serving(self) -> None:
        """kill -9 of the serving process only (a crash, an OOM kill): the worker's supervising
        process forks another after `supervision.RESTART_DELAY`."""
        assert self.process is not None
        [serving] = psutil.Process(self.process.pid).children()
        serving.send_signal(signal.SIGKILL)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


class WorkerPool:
    """N worker processes on one task queue of the given servers."""

    def __init__(
        self,
        size: int,
        *,
        database_url: str,
        temporal_address: str,
        task_queue: str,
        log_dir: Path,
    ) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("METRICS_PORT", "HOOKS_MODULE")}
        env.update(
            DATABASE_URL=database_url,
            TEMPORAL_ADDRESS=temporal_address,
            TASK_QUEUE=task_queue,
            HOOKS_MODULE=HOOKS_MODULE,
            DB_POOL_SIZE="5",
        )
        log_dir.mkdir(parents=True, exist_ok=True)
        self.workers = [WorkerProcess(i, env, log_dir) for i in range(size)]
        self.kills = 0
        self.restarts = 0

    async def start(self) -> None:
        for worker in self.workers:
            worker.start()
        await self.wait_ready()

    async def wait_ready(self, within: float = 60.0) -> None:
        await asyncio.gather(*(w.wait_ready(within) for w in self.workers))

    def kill_and_restart(self, index: int) -> None:
        self.workers[index].kill()
        self.kills += 1
        self.workers[index].start()
        self.restarts += 1

    def assert_all_running(self) -> None:
        """No worker died by itself (an outage must not take a worker down)."""
        dead = [w for w in self.workers if not w.is_running()]
        assert not dead, "\n".join(f"worker {w.index} exited:\n{w.log_tail()}" for w in dead)

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()


@asynccontextmanager
async def worker_pool(size: int, **kwargs: Any) -> AsyncIterator[WorkerPool]:
    pool = WorkerPool(size, **kwargs)
    try:
        await pool.start()
        yield pool
    finally:
        await asyncio.to_thread(pool.stop)


# --- the runs a test started ---------------------------------------------------------------------


@dataclass
class Run:
    kind: str
    request_id: str
    handle: WorkflowHandle[Any, Any]
    run_id: str
    expect: str  # "completed", or the error type the run is meant to fail with
    again: Callable[[], Awaitable[WorkflowHandle[Any, Any]]]
    status: str | None = None  # completed / failed / canceled
    error_type: str | None = None
    error: BaseException | None = None
    result: Any = None
    started: float = field(default_factory=time.monotonic)
    ended: float = float("inf")


@dataclass
class Ledger:
    """Every run a test started; `open` counts those not ended yet."""

    runs: list[Run] = field(default_factory=list)
    open: int = 0
    repeated_starts: int = 0
    retry_rpc: bool = False

    async def start(
        self,
        kind: str,
        start: Callable[..., Awaitable[WorkflowHandle[Any, Any]]],
        *args: Any,
        request_id: str,
        expect: str = "completed",
        **kwargs: Any,
    ) -> Run:
        async def again() -> WorkflowHandle[Any, Any]:
            return await start(*args, request_id=request_id, **kwargs)

        handle = await (through_outage(again) if self.retry_rpc else again())
        run_id = handle.result_run_id or handle.first_execution_run_id
        assert run_id, f"{kind} {request_id}: no run id"
        run = Run(kind, request_id, handle, run_id, expect, again)
        self.runs.append(run)
        self.open += 1
        return run

    async def finish(self, run: Run) -> Run:
        """Wait for the run's end and record how it ended."""
        try:
            if self.retry_rpc:
                run.result = await through_outage(run.handle.result)
            else:
                run.result = await run.handle.result()
            run.status = "completed"
        except WorkflowFailureError as err:
            cause = err.cause
            run.error = cause
            if isinstance(cause, CancelledError):
                run.status, run.error_type = "canceled", "cancelled"
            else:
                run.status = "failed"
                run.error_type = cause.type if isinstance(cause, ApplicationError) else None
        finally:
            self.open -= 1
            run.ended = time.monotonic()
        return run

    async def call(
        self,
        kind: str,
        start: Callable[..., Awaitable[WorkflowHandle[Any, Any]]],
        *args: Any,
        request_id: str,
        expect: str = "completed",
        repeat: bool = False,
        **kwargs: Any,
    ) -> Run:
        """Start a run and wait for it; with `repeat`, the trigger is sent a second time while
        the run is going (a client retrying): it must join the same run."""
        run = await self.start(kind, start, *args, request_id=request_id, expect=expect, **kwargs)
        if repeat:
            second = await (through_outage(run.again) if self.retry_rpc else run.again())
            self.repeated_starts += 1
            assert second.id == run.handle.id
            described = await (
                through_outage(second.describe) if self.retry_rpc else second.describe()
            )
            assert described.run_id == run.run_id, f"{kind} {request_id} started twice"
        return await self.finish(run)

    def unexpected(self) -> list[str]:
        """Runs that did not end the way they were meant to."""
        out = []
        for run in self.runs:
            ended = run.status if run.status == "completed" else run.error_type
            if ended != run.expect:
                out.append(f"{run.kind} {run.request_id}: expected {run.expect}, got {ended} "
                           f"({run.error!r})")  # fmt: skip
        return out


async def saga_status(handle: WorkflowHandle[Any, Any]) -> tuple[WorkflowExecutionStatus, str]:
    description = await handle.describe()
    assert description.status is not None
    return description.status, str(description.typed_search_attributes.get(SAGA_STATUS))


async def assert_saga_statuses(ledger: Ledger) -> None:
    """Every completed run says SagaStatus=completed; every failed or cancelled one is fully
    compensated (or, when it failed as CompensationFailed, says so)."""
    wrong = []
    for run in ledger.runs:
        status, saga = await saga_status(run.handle)
        if run.status == "completed":
            expected = (WorkflowExecutionStatus.COMPLETED, "completed")
        elif run.error_type == "CompensationFailed":
            expected = (WorkflowExecutionStatus.FAILED, "compensation_failed")
        elif run.status == "canceled":
            expected = (WorkflowExecutionStatus.CANCELED, "compensated")
        else:
            expected = (WorkflowExecutionStatus.FAILED, "compensated")
        if (status, saga) != expected:
            wrong.append(f"{run.kind} {run.request_id}: {status.name}/{saga}, expected {expected}")
    assert not wrong, wrong


# --- what the histories say ----------------------------------------------------------------------


@dataclass
class Retries:
    """Interruptions a run's history records."""

    activity_attempts: int = 0  # activities that completed on an attempt > 1
    workflow_task_timeouts: int = 0
    workflow_task_failures: int = 0

    def __add__(self, other: Retries) -> Retries:
        return Retries(
            self.activity_attempts + other.activity_attempts,
            self.workflow_task_timeouts + other.workflow_task_timeouts,
            self.workflow_task_failures + other.workflow_task_failures,
        )

    @property
    def total(self) -> int:
        return self.activity_attempts + self.workflow_task_timeouts + self.workflow_task_failures


async def retries_of(handle: WorkflowHandle[Any, Any]) -> Retries:
    history = await handle.fetch_history()
    out = Retries()
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            if event.activity_task_started_event_attributes.attempt > 1:
                out.activity_attempts += 1
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
            out.workflow_task_timeouts += 1
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            out.workflow_task_failures += 1
    return out


async def total_retries(ledger: Ledger) -> Retries:
    total = Retries()
    for run in ledger.runs:
        total = total + await retries_of(run.handle)
    return total


# --- consistency ---------------------------------------------------------------------------------


async def invariant_violations(service: Any, flows: Any) -> list[Any]:
    """`check_invariants` with run outcomes from Temporal (`CustomerFlows.run_outcome`). Every
    event group in the outbox must belong to a run Temporal knows: an unknown one would be
    skipped by the checker, and the check would pass without looking."""
    from customer_service.invariants import check_invariants

    unknown: list[str] = []

    async def outcome(event_group_id: str) -> str | None:
        found: str | None = await flows.run_outcome(event_group_id)
        if found is None:
            unknown.append(event_group_id)
        return found

    violations = await check_invariants(service.sessions, outcome)
    assert unknown == [], f"event groups of runs Temporal does not know: {unknown}"
    return violations


# --- reading the database ------------------------------------------------------------------------


async def rows(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


# --- in-process activity wrappers ----------------------------------------------------------------


@dataclass
class InFlight:
    """What the wrapped activities are doing: how many attempts are running right now, and how
    many late attempts the service refused because their operation was already compensated."""

    running: int = 0
    refused: int = 0
    calls: int = 0


async def hang_heartbeating(seconds: float) -> None:
    """Inside an ordinary activity: hang for `seconds`, heartbeating, so the attempt is not timed
    out meanwhile and a cancellation of its run reaches it."""
    from temporalio import activity

    for _ in range(int(seconds / 0.2)):
        activity.heartbeat()
        await asyncio.sleep(0.2)


def slowed(
    activity_fn: Callable[..., Awaitable[Any]],
    delay: Callable[[Any], float],
    tracker: InFlight,
    fail: Callable[[], Awaitable[None]] | None = None,
    after: Callable[[Any], Awaitable[None]] | None = None,
) -> Any:
    """An activity registered under `activity_fn`'s name that waits `delay(arg)` seconds, then
    calls `fail()` (which may raise), the real activity, and `after(arg)`."""
    import typing

    from temporalio import activity

    hints = typing.get_type_hints(activity_fn)
    param = next(k for k in hints if k != "return")

    async def wrapper(arg: Any) -> Any:
        tracker.running += 1
        tracker.calls += 1
        try:
            await asyncio.sleep(delay(arg))
            if fail is not None:
                await fail()
            result = await activity_fn(arg)
            if after is not None:
                await after(arg)
            return result
        except ApplicationError as err:
            if err.type == "conflict" and "already compensated" in err.message:
                tracker.refused += 1
            raise
        finally:
            tracker.running -= 1

    wrapper.__annotations__ = {"arg": hints[param], "return": hints["return"]}
    wrapper.__name__ = activity_fn.__name__
    return activity.defn(name=activity_fn.__name__)(wrapper)


async def answered_too_late(run: Run) -> str | None:
    """None when the run's history has the cancel request, its pivot's compensation failing
    (`released`) and no compensation completed; otherwise what the history has instead."""
    records = await activity_records(run.handle)
    undone = [r for r in records if r.name in COMPENSATIONS or r.name == "discard_events"]
    requested = False
    async for event in run.handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
            requested = True
    if requested and len(undone) == 1 and undone[0].outcome == "failed":
        return None
    steps = ", ".join(f"{r.name}: {r.outcome}" for r in records)
    return f"{run.request_id}: cancel requested {requested}; {steps}"


async def assert_events_follow_outcomes(
    service: Any, compensated: list[Run], completed: list[Run]
) -> None:
    """A compensated run has no event at all; a completed one has its events, all released."""
    for run in compensated:
        group_id = f"{run.handle.id}:{run.run_id}"
        assert await service.list_events(event_group_id=group_id) == [], run.request_id
    for run in completed:
        group_id = f"{run.handle.id}:{run.run_id}"
        events = await service.list_events(event_group_id=group_id)
        assert events and all(e["status"] == "released" for e in events), run.request_id
