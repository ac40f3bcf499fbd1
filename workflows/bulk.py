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

from datetime import timedelta
from typing import Any

from temporalio import workflow

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


class _BulkRun:
    """Counts, the `progress` query and the pause / resume / cancel signals."""

    def __init__(self) -> None:
        self.counts = BulkCounts()
        self.cancel_requested = False
        self.finished: BulkStatus | None = None

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

    def step_options(self, heartbeat_seconds: int) -> dict[str, Any]:
        return {
            "start_to_close_timeout": STEP_START_TO_CLOSE,
            "heartbeat_timeout": timedelta(seconds=heartbeat_seconds),
            "retry_policy": FORWARD_RETRY,
        }

    def time_to_continue(self, steps_this_run: int) -> bool:
        """Before the history grows large (the step limit ends the loop anyway)."""
        return steps_this_run > 0 and workflow.info().is_continue_as_new_suggested()

    async def continue_as_new(self, arg: Any) -> None:
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(arg)

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
        for step in range(input.batches_per_run):
            if not await self.proceed():
                return self.result(input.path, "cancelled")
            if self.time_to_continue(step):
                break
            batch = ImportBatchStep(
                import_id=info.workflow_id,
                batch=counts.batches,
                path=input.path,
                format=input.format,
                offset=counts.offset,
                size=input.batch_size,
                mode=input.mode,
                event_group_id=f"{info.workflow_id}:{info.run_id}",
            )
            done = await workflow.execute_activity(
                bulk_stubs.import_customers_batch,
                batch,
                summary=f"import batch {counts.batches} (rows from {counts.read + 1})",
                **self.step_options(input.heartbeat_seconds),
            )
            counts.batches += 1
            counts.read += done.read
            counts.created += done.created
            counts.updated += done.updated
            counts.failed += done.failed
            counts.offset = done.next_offset
            counts.file_size = done.file_size
            if done.done:
                return self.result(input.path, "completed")
        await self.continue_as_new(input.model_copy(update={"counts": counts}))
        raise AssertionError("unreachable: continued as new")


@workflow.defn
class ExportCustomersWorkflow(_BulkRun):
    """export-customers: the customers a list filter selects, in id order, written to a file
    in chunks (one activity each, a heartbeat per page); the cursor (last id, bytes written) is
    the run's state, so a resumed chunk neither repeats nor skips a row."""

    @workflow.run
    async def run(self, input: ExportCustomersInput) -> BulkResult:
        counts = self.begin(input.counts)
        for step in range(input.chunks_per_run):
            if not await self.proceed():
                return self.result(input.path, "cancelled")
            if self.time_to_continue(step):
                break
            chunk = ExportChunkStep(
                path=input.path,
                format=input.format,
                filters=input.filters,
                after_id=counts.after_id,
                offset=counts.offset,
                page_size=input.page_size,
                max_rows=input.chunk_rows,
            )
            done = await workflow.execute_activity(
                bulk_stubs.export_customers_chunk,
                chunk,
                summary=f"export chunk {counts.batches} (rows from {counts.read + 1})",
                **self.step_options(input.heartbeat_seconds),
            )
            counts.batches += 1
            counts.read += done.cursor.rows
            counts.after_id = done.cursor.after_id
            counts.offset = done.cursor.offset
            if done.done:
                return self.result(input.path, "completed")
        await self.continue_as_new(input.model_copy(update={"counts": counts}))
        raise AssertionError("unreachable: continued as new")
