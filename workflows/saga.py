"""The saga mechanics every customer workflow shares.

A workflow's `run` reads as its business steps inside `async with self.saga.run(...)`; this
module does the rest:
- a compensation is registered *before* its step runs (the step may commit and still time out);
- the run's first step runs as a local activity (no task-queue round trip), handed to an ordinary
  activity on an infrastructure failure; every other step is an ordinary activity;
- when the steps succeed, the run's staged events are released as the last step, or by the
  pivot itself, or by the hook step that follows it (see below);
- on failure or cancellation the compensations run in reverse, shielded from cancellation, each
  with its own retry policy; if one fails for good the run fails as `CompensationFailed`,
  otherwise with the original error's type and message;
- `SagaStatus` and the step list (the `progress` query) show all of it in the Web UI.

Why only the first step runs locally: a local activity commits inside a workflow task, and that
task can be lost (a worker crash, a completion the server rejects because a cancellation arrived
meanwhile). The retried task may take another path, straight to compensation. The first step's
compensation is registered before anything else in every attempt, so its effect is always undone
or found again; a later local step could be left behind unknown to the run
(tests/chaos/test_cancellation.py catches it).

The pivot (DESIGN rule 10): a workflow marks its deciding write `pivot=True`. When the run calls
no hook, nothing after the pivot can fail, so the pivot releases the run's events in its own
transaction and the run is one workflow task with one local activity. Once it has committed, a
cancellation is too late. A cancellation can still reach the pivot in flight, or a retried first
task whose lost attempt had committed it: the saga then runs the pivot's compensation at once,
which either fences the operation off (it never committed: the run is cancelled and compensated)
or answers `released` (too late: the step runs again, finds its commit, and the run completes).

With a hook handler after the pivot, the hook may still fail the run, so the pivot only writes;
the hook's step then releases the run's events after its handlers, with the pivot's operation
marked released in the same statement (two activities, no release step). A cancellation that
reaches that step takes the same path: the pivot's compensation undoes it (the step, if it goes
on, is refused at its release) or answers `released`, and the step runs again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TypedDict, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    FailureError,
    is_cancelled_exception,
)

from activities import stubs
from activities.contracts import EventGroup, HookCall, HookName, PivotRelease, Undo, WriteStep
from activities.failures import application_error
from customer_service import ids
from customer_service.errors import CompensationFailedError, ReleasedError
from customer_service.validation import invalid_data
from workflows import policies
from workflows.contracts import SagaState, StepProgress
from workflows.visibility import SearchAttributes, count_outcome

A = TypeVar("A", bound=BaseModel)
T = TypeVar("T")
Activity = Callable[[A], Awaitable[T]]
UndoActivity = Callable[[Undo], Awaitable[bool]]


class WriteIds(TypedDict):
    """What every write step carries: its idempotency key and the run's event group."""

    operation_id: str
    event_group_id: str


@dataclass
class Compensation:
    activity: Callable[..., Awaitable[object]]
    arg: BaseModel
    summary: str
    progress: StepProgress


class Saga:
    """Steps, their compensations and the run's visible state. One per workflow run."""

    def __init__(self) -> None:
        self.steps: list[StepProgress] = []
        self.status: SagaState = "running"
        self.search = SearchAttributes()
        self.tag = self.search.tag
        self._compensations: list[Compensation] = []
        self._hooks: frozenset[str] = frozenset()
        self._released = False  # the pivot (or the hook after it) releases: no release step
        self._pivot: str | None = None  # a hooked run's pivot operation, once it committed
        info = workflow.info()
        # The run's events are staged under its own identity, so any of them can be traced back
        # to the run (and its outcome) by the invariant checker.
        self.event_group_id = f"{info.workflow_id}:{info.run_id}"

    # --- ids minted in the workflow, so a retried activity finds its own earlier effect ---------

    def new_id(self, prefix: str) -> str:
        # The run's start time, not the workflow task's: every attempt of the first task (whose
        # local step may already have committed) mints the same ids.
        now_ms = int(workflow.info().start_time.timestamp() * 1000)
        return ids.make_id(prefix, now_ms, workflow.random().getrandbits(80))

    def new_write(self) -> WriteIds:
        return WriteIds(
            operation_id=f"op_{workflow.uuid4().hex}", event_group_id=self.event_group_id
        )

    # --- steps -------------------------------------------------------------------------------

    async def step(
        self,
        activity: Activity[A, T],
        arg: A,
        *,
        summary: str,
        undo: tuple[UndoActivity, str] | None = None,
        local_first: bool = True,
        pivot: bool = False,
        releases: bool = False,
    ) -> T:
        """Run one forward step. With `undo` (the compensating activity and its summary; `arg`
        is then a write step), the compensation is registered first. `pivot`: the run's deciding
        write, the last one (see the module docstring). `releases`: the step releases the run's
        events after the pivot (the hook that follows it)."""
        if self._released:
            raise RuntimeError(f"{activity.__name__}: a step after the run's events were released")
        progress = StepProgress(step=activity.__name__, summary=summary, state="running")
        self.steps.append(progress)
        if releases:
            self._released = True
        if undo is not None:
            assert isinstance(arg, WriteStep), "a compensated step is a write step"
            compensate, undo_summary = undo
            self._compensations.append(
                Compensation(
                    compensate, Undo(operation_id=arg.operation_id), undo_summary, progress
                )
            )
            if pivot and not self._hooks:
                releases = self._released = True
                arg = arg.model_copy(update={"release": True})
            elif pivot:
                self._pivot = arg.operation_id
        try:
            result = await self._execute(activity, arg, summary, local_first)
        except BaseException as err:
            progress.state = "failed"
            progress.error = _message(err)
            if not (releases and is_cancelled_exception(err) and await self._too_late()):
                raise
            # The pivot committed: the cancellation is too late. Find the commit; complete.
            result = await _shielded(self._execute(activity, arg, summary, local=False))
            progress.error = None
        progress.state = "completed"
        return result

    async def _too_late(self) -> bool:
        """Run the pivot's compensation now: whether it answered that the pivot committed with
        the run's events released. Otherwise the pivot is undone or fenced off, and the run
        goes on to compensate its other steps."""
        comp = self._compensations.pop()
        try:
            await _shielded(self._undo(comp))
        except ActivityError as err:
            root = _root_cause(err)
            if isinstance(root, ApplicationError) and root.type == ReleasedError.type:
                return True
            self._compensations.append(comp)  # compensated (and reported) with the others
            return False
        comp.progress.state = "compensated"
        return False

    async def _execute(self, activity: Activity[A, T], arg: A, summary: str, local: bool) -> T:
        if local and len(self.steps) == 1:
            # Commands of the first task go out together: search attributes wait for the next
            # step or the run's end (one upsert for a run of one task).
            try:
                return await workflow.execute_local_activity(
                    activity,
                    arg,
                    start_to_close_timeout=policies.LOCAL_START_TO_CLOSE,
                    retry_policy=policies.LOCAL_ATTEMPT,
                    # A cancelled run compensates only once its in-flight step has stopped.
                    cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                    summary=summary,
                )
            except FailureError as err:
                # (a local activity's own failure arrives unwrapped, not as an ActivityError)
                if is_cancelled_exception(err) or _is_final(err):
                    raise
        self.search.flush()
        return await workflow.execute_activity(
            activity,
            arg,
            start_to_close_timeout=policies.FORWARD_START_TO_CLOSE,
            heartbeat_timeout=policies.HEARTBEAT_TIMEOUT,
            schedule_to_close_timeout=policies.FORWARD_SCHEDULE_TO_CLOSE,
            retry_policy=policies.FORWARD_RETRY,
            summary=summary,
        )

    async def hook(
        self, name: HookName, payload: dict[str, object], additional_data: dict[str, object] | None
    ) -> None:
        """A Medusa hook point. Called only when the run's input lists it, so a point without
        handlers costs nothing, and replay never asks the worker which handlers exist."""
        if name not in self._hooks:
            return
        # The hook after the pivot is the run's last step: it releases the run's events too,
        # with the pivot's operation marked released (a cancellation is then too late).
        release = None
        if self._pivot is not None:
            release = PivotRelease(operation_id=self._pivot, event_group_id=self.event_group_id)
        await self.step(
            stubs.run_hook,
            HookCall(hook=name, payload=payload, additional_data=additional_data, release=release),
            summary=f"hook {name}" + (" and release staged events" if release else ""),
            # A handler may call slow outside systems: it runs as an ordinary activity, never
            # cut short by the local-activity timeout and then run again.
            local_first=False,
            releases=release is not None,
        )

    # --- running the whole thing -------------------------------------------------------------

    def run(self, hooks: Sequence[HookName] = ()) -> Saga:
        """`async with saga.run(input.hooks): …` runs the steps of the block as this saga.

        `hooks`: the hook points this run calls (fixed in its input, so in its history)."""
        self._hooks = frozenset(hooks)
        return self

    async def __aenter__(self) -> Saga:
        self._set_status("running")
        # Registered first, so a failure anywhere discards the events staged by earlier steps.
        progress = StepProgress(step="stage_events", summary="stage events", state="completed")
        discard = EventGroup(event_group_id=self.event_group_id)
        self._compensations.append(
            Compensation(
                stubs.discard_events, discard, "compensate: discard staged events", progress
            )
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if error is None and self._released:
            self._set_status("completed")
            return
        if error is None:
            try:
                await self.step(
                    stubs.release_events,
                    EventGroup(event_group_id=self.event_group_id),
                    summary="release staged events",
                )
            except BaseException as release_error:
                error = release_error
            else:
                self._set_status("completed")
                return
        if isinstance(error, ValidationError):
            # Input the step models reject (the client validates first; a direct start may not):
            # a typed, final error, never a workflow task retrying forever.
            error = application_error(invalid_data(error))
        elif not isinstance(error, asyncio.CancelledError | FailureError):
            raise error  # a bug in workflow code: the task fails, and retries after a fix
        await _shielded(self._compensate())
        if is_cancelled_exception(error):
            # Cancelling the run cancels the step in flight: re-raised as is, the run ends
            # cancelled, not failed.
            raise error
        raise _as_final_error(error) from error

    def _set_status(self, status: SagaState) -> None:
        self.status = status
        self.search.status(status)
        if status != "running":  # "running" goes out with the run's first step
            self.search.flush()
        if status in ("completed", "compensated", "compensation_failed"):
            count_outcome(status)

    async def _compensate(self) -> None:
        self._set_status("compensating")
        failures: list[dict[str, str]] = []
        for comp in reversed(self._compensations):
            comp.progress.state = "compensating"
            try:
                await self._undo(comp)
                comp.progress.state = "compensated"
            except ActivityError as err:
                comp.progress.state = "compensation_failed"
                comp.progress.error = _message(err)
                failures.append(
                    {
                        "step": comp.progress.step,
                        "compensation": comp.summary,
                        "error": _message(err),
                    }
                )
        if failures:
            self._set_status("compensation_failed")
            undone = "; ".join(f"{f['compensation']} ({f['error']})" for f in failures)
            # Not benign, unlike business errors: an operator must look at this run.
            raise ApplicationError(
                f"Could not undo: {undone}",
                failures,
                type=CompensationFailedError.type,
                non_retryable=True,
            )
        self._set_status("compensated")

    async def _undo(self, comp: Compensation) -> None:
        await workflow.execute_activity(
            comp.activity,
            comp.arg,
            start_to_close_timeout=policies.COMPENSATION_START_TO_CLOSE,
            heartbeat_timeout=policies.HEARTBEAT_TIMEOUT,
            retry_policy=policies.COMPENSATION_RETRY,
            summary=comp.summary,
        )


async def _shielded(work: Awaitable[T]) -> T:
    """Await `work` to the end even if the run is cancelled meanwhile."""
    task = asyncio.ensure_future(work)
    while True:
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                return task.result()


def _root_cause(err: BaseException) -> BaseException:
    while isinstance(err, ActivityError) and err.cause is not None:
        err = err.cause
    return err


def _is_final(err: FailureError) -> bool:
    """A failure no retry can change: a business error, a failed hook, anything non-retryable."""
    root = _root_cause(err)
    return isinstance(root, ApplicationError) and (
        root.non_retryable or root.type in policies.FINAL_ERROR_TYPES
    )


def _message(err: BaseException) -> str:
    root = _root_cause(err)
    return getattr(root, "message", None) or str(root) or type(root).__name__


def _as_final_error(err: BaseException) -> ApplicationError:
    """The error the run fails with: the original business error's type and message."""
    root = _root_cause(err)
    if isinstance(root, ApplicationError):
        return ApplicationError(root.message, *root.details, type=root.type, non_retryable=True)
    return ApplicationError(_message(err), type=type(root).__name__, non_retryable=True)
