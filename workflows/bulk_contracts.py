"""Inputs, results and the `progress` query's answer of the bulk workflows. Pure module."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from activities.bulk_contracts import MAX_BATCH_ROWS, MAX_EXPORT_PAGE, FileFormat, ImportMode

BulkStatus = Literal["running", "paused", "cancelling", "completed", "cancelled"]


class BulkModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BulkCounts(BulkModel):
    """Where a bulk run stands; carried over continue-as-new."""

    batches: int = 0
    read: int = 0
    created: int = 0
    updated: int = 0
    failed: int = 0
    offset: int = 0  # import: bytes of the file done; export: bytes written
    file_size: int = 0
    after_id: str | None = None  # export: the last id written
    started_at: float | None = None  # POSIX seconds (workflow time) of the first run's start
    paused: bool = False


class ImportCustomersInput(BulkModel):
    path: str = Field(min_length=1)  # a path the worker can read (docs/bulk.md)
    format: FileFormat = "csv"
    mode: ImportMode = "create"
    batch_size: int = Field(default=500, ge=1, le=MAX_BATCH_ROWS)
    # Batches per run before continuing as new (bounds the history: ~6 events per batch).
    batches_per_run: int = Field(default=200, ge=1, le=1000)
    # A killed worker's step is retried elsewhere once this passes without a heartbeat.
    heartbeat_seconds: int = Field(default=20, ge=1, le=600)
    counts: BulkCounts = BulkCounts()


class ExportCustomersInput(BulkModel):
    path: str = Field(min_length=1)  # where the worker writes the file
    format: FileFormat = "csv"
    filters: dict[str, Any] | None = None
    page_size: int = Field(default=5_000, ge=1, le=MAX_EXPORT_PAGE)
    chunk_rows: int = Field(default=100_000, ge=1)  # rows per activity (heartbeat per page)
    chunks_per_run: int = Field(default=200, ge=1, le=1000)
    # A killed worker's step is retried elsewhere once this passes without a heartbeat.
    heartbeat_seconds: int = Field(default=20, ge=1, le=600)
    counts: BulkCounts = BulkCounts()


class BulkProgress(BulkModel):
    """The `progress` query: counts so far, rate (rows per second since the start) and, when
    the file's size is known (import), an estimate of the seconds left."""

    workflow_id: str
    status: BulkStatus
    batches: int
    read: int
    created: int
    updated: int
    failed: int
    bytes_done: int
    bytes_total: int
    rate: float
    eta_seconds: float | None


class BulkResult(BulkModel):
    """A finished import or export. `status` is "cancelled" when it was stopped: what was done
    before stays done (an import is not rolled back)."""

    workflow_id: str
    status: Literal["completed", "cancelled"]
    batches: int
    read: int
    created: int
    updated: int
    failed: int
    path: str
