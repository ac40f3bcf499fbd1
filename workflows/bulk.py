"""Bulk import and export of customers: long-running, resumable runs with progress.

Neither is a saga: an import keeps what it imported (a cancelled or failed import says how far
it got), an export only writes a file. What makes them safe to resume is that each step is
idempotent by itself: an import batch is recorded under (import id, batch number), an export
chunk resumes from its last heartbeat and cuts off any partial write (see
`activities.bulk_activities`). The run continues as new every `batches_per_run` steps (or when
Temporal suggests it), carrying its counts over, so its history stays small whatever the file's
size.

Controls: the `progress` query; `pause` / `resume` signals (a paused run waits before its next
step); `cancel` (the current step finishes, then the run ends as "cancelled").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities import bulk_stubs
    from activities.bulk_contracts import ExportChunkStep, ImportBatchStep
    from workflows.bulk_contracts import (
        BulkCounts,
        BulkProgress,
        BulkResult,
        BulkStatus,
        ExportCustomersInput,
        ImportCustomersInput,
    )
    from workflows.policies import FORWARD_RETRY

STEP_START_TO_CLOSE = timedelta(minutes=30)
A = TypeVar("A")
R = TypeVar("R")


class _BulkRun:
    """Counts, the `progress` query and the pause / resume / cancel signals."""

    def __init__(self) -> None:
        self.counts = BulkCounts()
        self.cancel_requested = False
        self.finished: BulkStatus | None = None
        self.heartbeat = timedelta(seconds=20)

    def begin(self, counts: BulkCounts) -> BulkCounts:
        paused = self.counts.paused  # a signal may have come before the run's first task
        self.counts = counts.model_copy()
        self.counts.paused = self.counts.paused or paused
        if self.counts.started_at is None:
            self.counts.started_at = workflow.now().timestamp()
        return self.counts

    async def proceed(self) -> bool:
        """Wait while paused; False once a cancel was asked for."""
        await workflow.wait_condition(lambda: not self.counts.paused or self.cancel_requested)
        return not self.cancel_requested

    async def steps(
        self,
        input: ImportCustomersInput | ExportCustomersInput,
        per_run: int,
        step: Callable[[], Awaitable[bool]],
    ) -> BulkResult:
        """Run `step` (True when the file is done) until the file is done or a cancel comes,
        waiting while paused; every `per_run` steps (or sooner if Temporal suggests it) continue
        as new with the counts so far."""
        self.heartbeat = timedelta(seconds=input.heartbeat_seconds)
        for number in range(per_run):
            if not await self.proceed():
                return self.result(input.path, "cancelled")
            if number and workflow.info().is_continue_as_new_suggested():
                break
            if await step():
                return self.result(input.path, "completed")
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(input.model_copy(update={"counts": self.counts}))

    async def activity(self, stub: Callable[[A], Awaitable[R]], arg: A, summary: str) -> R:
        """Run a step; a business error (a file the worker cannot read, a bad filter) ends the
        run with that error's type and message, as a saga's run ends."""
        try:
            return await workflow.execute_activity(
                stub,
                arg,
                start_to_close_timeout=STEP_START_TO_CLOSE,
                heartbeat_timeout=self.heartbeat,
                retry_policy=FORWARD_RETRY,
                summary=summary,
            )
        except ActivityError as err:
            cause = err.cause
            if not isinstance(cause, ApplicationError):
                raise
            details = cause.details
            final = ApplicationError(cause.message, *details, type=cause.type, non_retryable=True)
            raise final from None

    def result(self, path: str, status: BulkStatus) -> BulkResult:
        self.finished = status
        c = self.counts
        return BulkResult(
            workflow_id=workflow.info().workflow_id,
            status="cancelled" if status == "cancelled" else "completed",
            batches=c.batches,
            read=c.read,
            created=c.created,
            updated=c.updated,
            failed=c.failed,
            path=path,
        )

    @workflow.query
    def progress(self) -> BulkProgress:
        c = self.counts
        elapsed = workflow.now().timestamp() - c.started_at if c.started_at else 0.0
        rate = c.read / elapsed if elapsed > 0 else 0.0
        eta = None
        if c.file_size and c.offset and elapsed > 0:
            eta = (c.file_size - c.offset) / (c.offset / elapsed)
        status: BulkStatus = self.finished or (
            "cancelling" if self.cancel_requested else "paused" if c.paused else "running"
        )
        return BulkProgress(
            workflow_id=workflow.info().workflow_id,
            status=status,
            batches=c.batches,
            read=c.read,
            created=c.created,
            updated=c.updated,
            failed=c.failed,
            bytes_done=c.offset,
            bytes_total=c.file_size,
            rate=round(rate, 1),
            eta_seconds=None if eta is None else round(eta, 1),
        )

    @workflow.signal
    def pause(self) -> None:
        self.counts.paused = True

    @workflow.signal
    def resume(self) -> None:
        self.counts.paused = False

    @workflow.signal
    def cancel(self) -> None:
        self.cancel_requested = True


@workflow.defn
class ImportCustomersWorkflow(_BulkRun):
    """import-customers: the staged file, batch after batch (one activity each, idempotent by
    (import id, batch number)); each batch creates or updates its customers, addresses, groups
    and memberships, records its row errors, and releases its `customer.created` events. The
    import id is the workflow id: a re-submitted file with the same request id resumes the same
    import, and batches already done are not done again."""

    @workflow.run
    async def run(self, input: ImportCustomersInput) -> BulkResult:
        counts = self.begin(input.counts)
        info = workflow.info()

        async def batch() -> bool:
            step = ImportBatchStep(
                import_id=info.workflow_id,
                batch=counts.batches,
                path=input.path,
                format=input.format,
                offset=counts.offset,
                size=input.batch_size,
                mode=input.mode,
                event_group_id=f"{info.workflow_id}:{info.run_id}",
            )
            summary = f"import batch {counts.batches} (rows from {counts.read + 1})"
            done = await self.activity(bulk_stubs.import_customers_batch, step, summary)
            counts.batches += 1
            counts.read += done.read
            counts.created += done.created
            counts.updated += done.updated
            counts.failed += done.failed
            counts.offset = done.next_offset
            counts.file_size = done.file_size
            return done.done

        return await self.steps(input, input.batches_per_run, batch)


@workflow.defn
class ExportCustomersWorkflow(_BulkRun):
    """export-customers: the customers a list filter selects, in id order, written to a file
    in chunks (one activity each, a heartbeat per page); the cursor (last id, bytes written) is
    the run's state, so a resumed chunk neither repeats nor skips a row."""

    @workflow.run
    async def run(self, input: ExportCustomersInput) -> BulkResult:
        counts = self.begin(input.counts)

        async def chunk() -> bool:
            step = ExportChunkStep(
                path=input.path,
                format=input.format,
                filters=input.filters,
                after_id=counts.after_id,
                offset=counts.offset,
                page_size=input.page_size,
                max_rows=input.chunk_rows,
            )
            summary = f"export chunk {counts.batches} (rows from {counts.read + 1})"
            done = await self.activity(bulk_stubs.export_customers_chunk, step, summary)
            counts.batches += 1
            counts.read += done.cursor.rows
            counts.after_id = done.cursor.after_id
            counts.offset = done.cursor.offset
            return done.done

        return await self.steps(input, input.chunks_per_run, chunk)
