"""The saga mechanics every customer workflow shares.

A workflow's `run` reads as its business steps; this module does the rest:
- a compensation is registered *before* its step runs (the step may commit and still time out);
- on failure or cancellation the compensations run in reverse, shielded from cancellation, each
  with its own retry policy (unbounded attempts, capped backoff);
- if one fails for good the run fails as `CompensationFailed`, listing what could not be undone;
  otherwise it fails with the original error's type and message;
- `SagaStatus` and the step list (the `progress` query) show all of it in the Web UI.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey, SearchAttributeUpdate
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    FailureError,
    is_cancelled_exception,
)

with workflow.unsafe.imports_passed_through():
    from activities import hooks
    from activities.models import EventGroup, HookCall
    from codec import tags
    from customer_service import ids
    from customer_service.errors import BUSINESS_ERROR_TYPES
    from workflows.models import SagaState, StepProgress

T = TypeVar("T")

COMPENSATION_FAILED = "CompensationFailed"
HOOK_FAILED = "hook_failed"

CUSTOMER_ID = SearchAttributeKey.for_keyword_list("CustomerId")
CUSTOMER_EMAIL = SearchAttributeKey.for_keyword_list("CustomerEmail")
CUSTOMER_GROUP_ID = SearchAttributeKey.for_keyword_list("CustomerGroupId")
SAGA_STATUS = SearchAttributeKey.for_keyword("SagaStatus")

# Forward steps: infrastructure errors retry with backoff for hours (a database outage is waited
# out); business errors fail at once and the saga compensates.
FORWARD_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=[*BUSINESS_ERROR_TYPES, HOOK_FAILED],
)
FINAL_ERROR_TYPES = frozenset({*BUSINESS_ERROR_TYPES, HOOK_FAILED})
FORWARD_START_TO_CLOSE = timedelta(seconds=30)
FORWARD_SCHEDULE_TO_CLOSE = timedelta(hours=6)

# The run's first forward step runs as a local activity: one database transaction in the worker
# during the run's first workflow task, its result recorded in the history when that task
# completes, no task-queue round trip. One attempt only. If it fails for an infrastructure reason
# (database down, timeout, worker trouble), the same step (same operation_id, so a committed
# attempt is found, not repeated) is handed to an ordinary activity, which the server retries for
# hours, visibly (attempt, last failure) in the Web UI. Business errors end the step at once.
#
# Only the first step: a local activity can commit in a workflow task attempt that is then lost
# (worker crash; a completion the server rejects because a cancellation arrived meanwhile). The
# retried task may take another path, e.g. straight to compensation if the cancellation is now in
# it. The first step's compensation is registered before anything else in every attempt, so its
# effect is always undone or repeated idempotently; a later local step could be left behind
# unknown to the run, and a local event release could publish for a run that then compensates
# (tests/chaos/test_cancellation.py catches both). Every later step is an ordinary activity, its
# scheduling durable before it runs.
LOCAL_FIRST_PATCH = "local-first-steps"
LOCAL_ATTEMPT = RetryPolicy(maximum_attempts=1)
LOCAL_START_TO_CLOSE = timedelta(seconds=5)  # longer (say, waiting on row locks): hand over

# Compensations never give up on infrastructure errors; only a business error (a conflict: the
# row was changed by someone else) ends one, and then the run says so as CompensationFailed.
COMPENSATION_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=list(BUSINESS_ERROR_TYPES),
)
COMPENSATION_START_TO_CLOSE = timedelta(seconds=30)


@dataclass
class Compensation:
    activity: str
    arg: BaseModel
    summary: str
    progress: StepProgress


class Saga:
    """Steps, their compensations and the run's visible state. One per workflow run."""

    def __init__(self) -> None:
        self.steps: list[StepProgress] = []
        self.status: SagaState = "running"
        self._compensations: list[Compensation] = []
        info = workflow.info()
        # The run's events are staged under its own identity, so any of them can be traced back
        # to the run (and its outcome) by the invariant checker.
        self.event_group_id = f"{info.workflow_id}:{info.run_id}"
        # Runs started before this patch replay as they ran: every step an ordinary activity, ids
        # from the task's clock, parallel steps not settled first, one upsert per change.
        self.local_first = workflow.patched(LOCAL_FIRST_PATCH)
        self._pending: dict[str, SearchAttributeUpdate[Any]] = {}

    # --- ids minted in the workflow, so a retried activity finds its own earlier effect ---------

    def new_id(self, prefix: str) -> str:
        # The run's start time, not the workflow task's: every attempt of the first task (whose
        # local step may already have committed) mints the same ids.
        when = workflow.info().start_time if self.local_first else workflow.now()
        now_ms = int(when.timestamp() * 1000)
        return ids.make_id(prefix, now_ms, workflow.random().getrandbits(80))

    def operation_id(self) -> str:
        return f"op_{workflow.uuid4().hex}"

    # --- visibility --------------------------------------------------------------------------

    def set_status(self, status: SagaState) -> None:
        self.status = status
        self._upsert([SAGA_STATUS.value_set(status)])
        if status != "running":  # "running" goes out with the run's first step
            self.flush_search_attributes()
        if status in ("completed", "compensated", "compensation_failed"):
            workflow.metric_meter().create_counter(
                "customer_flows_saga_runs", "Saga runs that ended, by outcome"
            ).add(1, {"outcome": status})

    def tag(
        self,
        customer_ids: Sequence[str] = (),
        emails: Sequence[str | None] = (),
        group_ids: Sequence[str] = (),
    ) -> None:
        """Make the run findable in the Web UI by the customers, emails and groups it touches."""
        updates = []
        for key, values in (
            (CUSTOMER_ID, customer_ids),
            (CUSTOMER_EMAIL, [tags.email_tag(e) for e in emails if e]),
            (CUSTOMER_GROUP_ID, group_ids),
        ):
            if values:
                pending = self._pending.get(key.name)
                current: list[str] = list(
                    (pending.value if pending is not None
                     else workflow.info().typed_search_attributes.get(key)) or []
                )  # fmt: skip
                merged = list(dict.fromkeys([*current, *values]))[:100]
                updates.append(key.value_set(merged))
        if updates:
            self._upsert(updates)

    def _upsert(self, updates: list[SearchAttributeUpdate[Any]]) -> None:
        if not self.local_first:  # runs from before the patch replay with one upsert per change
            workflow.upsert_search_attributes(updates)
            return
        for update in updates:
            self._pending[update.key.name] = update

    def flush_search_attributes(self) -> None:
        """Send the changes gathered since the last flush as one upsert (each upsert is a
        history event and a visibility write): before a step's activity, and at each change of
        the saga's state but the first."""
        if self._pending:
            workflow.upsert_search_attributes(list(self._pending.values()))
            self._pending.clear()

    # --- steps -------------------------------------------------------------------------------

    async def step(
        self,
        activity: str,
        arg: Any,
        *,
        result_type: type[T],
        summary: str,
        compensation: tuple[str, BaseModel, str] | None = None,
        local_first: bool = True,
    ) -> T:
        """Run one forward step; its compensation (activity, undo, summary) is registered first."""
        progress = StepProgress(step=activity, summary=summary, state="running")
        self.steps.append(progress)
        if compensation is not None:
            name, undo, undo_summary = compensation
            self._compensations.append(Compensation(name, undo, undo_summary, progress))
        try:
            result = await self._execute(activity, arg, result_type, summary, local_first)
        except BaseException as err:
            progress.state = "failed"
            progress.error = _message(err)
            raise
        progress.state = "completed"
        return result

    async def _execute(
        self, activity: str, arg: Any, result_type: type[T], summary: str, local_first: bool
    ) -> T:
        self.flush_search_attributes()
        if local_first and self.local_first and len(self.steps) == 1:
            try:
                local: T = await workflow.execute_local_activity(
                    activity,
                    arg,
                    result_type=result_type,
                    start_to_close_timeout=LOCAL_START_TO_CLOSE,
                    retry_policy=LOCAL_ATTEMPT,
                    # A cancelled run compensates only once its in-flight step has stopped.
                    cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                    summary=summary,
                )
                return local
            except FailureError as err:
                # (a local activity's own failure arrives unwrapped, not as an ActivityError)
                if is_cancelled_exception(err) or _is_final(err):
                    raise
        durable: T = await workflow.execute_activity(
            activity,
            arg,
            result_type=result_type,
            start_to_close_timeout=FORWARD_START_TO_CLOSE,
            schedule_to_close_timeout=FORWARD_SCHEDULE_TO_CLOSE,
            retry_policy=FORWARD_RETRY,
            summary=summary,
        )
        return durable

    async def hook(
        self, name: str, payload: dict[str, Any], additional_data: dict[str, Any] | None
    ) -> None:
        """A Medusa hook point. With no handler registered it costs nothing (no activity)."""
        if name not in hooks.registry.registered():
            return
        await self.step(
            "run_hook",
            HookCall(hook=name, payload=payload, additional_data=additional_data),
            result_type=int,
            summary=f"hook {name}",
            # A handler may call slow outside systems: it runs as an ordinary activity, never
            # cut short by the local-activity timeout and then run again.
            local_first=False,
        )

    async def _release_events(self) -> None:
        """Last step: publish the run's staged events. Registered discard first, so a failure
        anywhere earlier discards them."""
        await self.step(
            "release_events",
            EventGroup(event_group_id=self.event_group_id),
            result_type=int,
            summary="release staged events",
        )

    def _discard_events_on_failure(self) -> None:
        progress = StepProgress(step="stage_events", summary="stage events", state="completed")
        self._compensations.append(
            Compensation(
                "discard_events",
                EventGroup(event_group_id=self.event_group_id),
                "compensate: discard staged events",
                progress,
            )
        )

    # --- running the whole thing -------------------------------------------------------------

    async def run(self, body: Callable[[], Awaitable[T]]) -> T:
        """Run the steps in `body`, then release the run's staged events as the last step; on
        failure or cancellation, compensate (which discards the staged events, registered first)."""
        self.set_status("running")
        self._discard_events_on_failure()
        try:
            result = await body()
            await self._release_events()
        except BaseException as err:
            if isinstance(err, ValidationError):
                # Input the step models reject (the client validates first; a direct start may
                # not): a typed, final error — never a workflow task retrying forever.
                err = _invalid_data(err)
            elif not isinstance(err, asyncio.CancelledError | FailureError):
                raise  # a bug in workflow code: let the task fail and retry after a fix
            await _shielded(self._compensate())
            if is_cancelled_exception(err):
                # Cancelling the run cancels the step in flight (an ActivityError caused by a
                # CancelledError): re-raised as is, the run ends cancelled, not failed.
                raise
            raise _as_final_error(err) from err
        self.set_status("completed")
        return result

    async def _compensate(self) -> None:
        self.set_status("compensating")
        failures: list[dict[str, str]] = []
        for comp in reversed(self._compensations):
            comp.progress.state = "compensating"
            try:
                await workflow.execute_activity(
                    comp.activity,
                    comp.arg,
                    start_to_close_timeout=COMPENSATION_START_TO_CLOSE,
                    retry_policy=COMPENSATION_RETRY,
                    summary=comp.summary,
                )
                comp.progress.state = "compensated"
            except ActivityError as err:
                comp.progress.state = "compensation_failed"
                comp.progress.error = _message(err)
                failures.append({"step": comp.progress.step, "compensation": comp.summary,
                                 "error": _message(err)})  # fmt: skip
        if failures:
            self.set_status("compensation_failed")
            raise ApplicationError(
                "Could not undo: "
                + "; ".join(f"{f['compensation']} ({f['error']})" for f in failures),
                failures,
                type=COMPENSATION_FAILED,
                non_retryable=True,
            )
        self.set_status("compensated")


async def _shielded(work: Awaitable[None]) -> None:
    """Await `work` to the end even if the run is cancelled meanwhile."""
    task = asyncio.ensure_future(work)
    while True:
        try:
            await asyncio.shield(task)
            return
        except asyncio.CancelledError:
            if task.done():
                task.result()
                return


def _invalid_data(err: ValidationError) -> ApplicationError:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or err.title
    message = f"Invalid {where}: {first['msg'].removeprefix('Value error, ')}"
    return ApplicationError(
        message,
        {"type": "invalid_data", "message": message, "field": where},
        type="invalid_data",
        non_retryable=True,
    )


def _root_cause(err: BaseException) -> BaseException:
    while isinstance(err, ActivityError) and err.cause is not None:
        err = err.cause
    return err


def _is_final(err: FailureError) -> bool:
    """A failure no retry can change: a business error, a failed hook, anything non-retryable."""
    root = _root_cause(err)
    return isinstance(root, ApplicationError) and (
        root.non_retryable or root.type in FINAL_ERROR_TYPES
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
