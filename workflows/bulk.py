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

Visibility: the client starts a run with the search attributes BulkStatus=running and BulkFile
(the file's name); the run upserts BulkStatus as it changes (paused, running, cancelling,
completed, cancelled, failed) and BulkRows (rows read) at most every `ROWS_UPSERT_SECONDS`, before
continuing as new, and at the end; its current details (Web UI) say how far it got after each
step.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, ClassVar, TypeVar

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities import bulk_stubs
    from activities.bulk_contracts import (
        ExportChunkResult,
        ExportChunkStep,
        ImportBatchResult,
        ImportBatchStep,
    )
    from workflows.bulk_contracts import (
        BulkCounts,
        BulkProgress,
        BulkResult,
        BulkStatus,
        ExportCustomersInput,
        ImportCustomersInput,
    )
    from workflows.policies import FORWARD_RETRY
    from workflows.visibility import BULK_ROWS, BULK_STATUS

STEP_START_TO_CLOSE = timedelta(minutes=30)
ROWS_UPSERT_SECONDS = 10.0
A = TypeVar("A")
R = TypeVar("R")


class _BulkRun:
    """Counts, the step loop, the `progress` query, the pause / resume / cancel signals and what
    the Web UI shows."""

    step_name: ClassVar[str]  # "import batch", "export chunk"

    def __init__(self) -> None:
        self.counts = BulkCounts()
        self.cancel_requested = False
        self.finished: BulkStatus | None = None
        self.heartbeat = timedelta(seconds=20)
        self.rows_shown_at = 0.0

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
        stub: Callable[[A], Awaitable[R]],
        step: Callable[[BulkCounts], A],
        count: Callable[[BulkCounts, R], bool],
    ) -> BulkResult:
        """Run `stub(step(counts))` and `count` its result into the counts (True when the file
        is done) until the file is done or a cancel comes, waiting while paused; every `per_run`
        steps (or sooner if Temporal suggests it) continue as new with the counts so far."""
        counts = self.begin(input.counts)
        self.heartbeat = timedelta(seconds=input.heartbeat_seconds)
        for number in range(per_run):
            if not await self.proceed():
                return self.result(input.path, "cancelled")
            if number and workflow.info().is_continue_as_new_suggested():
                break
            summary = f"{self.step_name} {counts.batches} (rows from {counts.read + 1})"
            try:
                done = await self.activity(stub, step(counts), summary)
            except ApplicationError:
                self.show("failed")
                raise
            counts.batches += 1
            if count(counts, done):
                return self.result(input.path, "completed")
            self.show()
        self.show(rows=True)
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

    def show(self, status: str | None = None, rows: bool = False) -> None:
        """The run's current details after a step; the status if it changed, and the rows read
        if asked or if they were last upserted `ROWS_UPSERT_SECONDS` ago (or with a status)."""
        c = self.counts
        workflow.set_current_details(
            f"{self.step_name} {c.batches}: {c.read} rows read, {c.created} created, "
            f"{c.updated} updated, {c.failed} failed"
        )
        now = workflow.now().timestamp()
        updates: list[SearchAttributeUpdate[Any]] = []
        if status is not None and status != workflow.info().typed_search_attributes.get(
            BULK_STATUS
        ):
            updates.append(BULK_STATUS.value_set(status))
        if updates or rows or now - self.rows_shown_at >= ROWS_UPSERT_SECONDS:
            updates.append(BULK_ROWS.value_set(c.read))
            self.rows_shown_at = now
            workflow.upsert_search_attributes(updates)

    def result(self, path: str, status: BulkStatus) -> BulkResult:
        self.finished = status
        self.show(status)
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
        self._show_status()

    @workflow.signal
    def resume(self) -> None:
        self.counts.paused = False
        self._show_status()

    @workflow.signal
    def cancel(self) -> None:
        self.cancel_requested = True
        self._show_status()

    def _show_status(self) -> None:
        if self.finished is None:
            status = self.progress().status
            if status != workflow.info().typed_search_attributes.get(BULK_STATUS):
                workflow.upsert_search_attributes([BULK_STATUS.value_set(status)])


@workflow.defn
class ImportCustomersWorkflow(_BulkRun):
    """import-customers: the staged file, batch after batch (one activity each, idempotent by
    (import id, batch number)); each batch creates or updates its customers, addresses, groups
    and memberships, records its row errors, and releases its `customer.created` events. The
    import id is the workflow id: a re-submitted file with the same request id resumes the same
    import, and batches already done are not done again."""

    step_name = "import batch"

    @workflow.run
    async def run(self, input: ImportCustomersInput) -> BulkResult:
        info = workflow.info()

        def batch(counts: BulkCounts) -> ImportBatchStep:
            return ImportBatchStep(
                import_id=info.workflow_id,
                batch=counts.batches,
                path=input.path,
                format=input.format,
                offset=counts.offset,
                size=input.batch_size,
                mode=input.mode,
                event_group_id=f"{info.workflow_id}:{info.run_id}",
            )

        stub = bulk_stubs.import_customers_batch
        return await self.steps(input, input.batches_per_run, stub, batch, _count_batch)


def _count_batch(counts: BulkCounts, done: ImportBatchResult) -> bool:
    counts.read += done.read
    counts.created += done.created
    counts.updated += done.updated
    counts.failed += done.failed
    counts.offset = done.next_offset
    counts.file_size = done.file_size
    return done.done


@workflow.defn
class ExportCustomersWorkflow(_BulkRun):
    """export-customers: the customers a list filter selects, in id order, written to a file
    in chunks (one activity each, a heartbeat per page); the cursor (last id, bytes written) is
    the run's state, so a resumed chunk neither repeats nor skips a row."""

    step_name = "export chunk"

    @workflow.run
    async def run(self, input: ExportCustomersInput) -> BulkResult:
        def chunk(counts: BulkCounts) -> ExportChunkStep:
            return ExportChunkStep(
                path=input.path,
                format=input.format,
                filters=input.filters,
                after_id=counts.after_id,
                offset=counts.offset,
                page_size=input.page_size,
                max_rows=input.chunk_rows,
            )

        stub = bulk_stubs.export_customers_chunk
        return await self.steps(input, input.chunks_per_run, stub, chunk, _count_chunk)


def _count_chunk(counts: BulkCounts, done: ExportChunkResult) -> bool:
    counts.read += done.cursor.rows
    counts.after_id = done.cursor.after_id
    counts.offset = done.cursor.offset
    return done.done
