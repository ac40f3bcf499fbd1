"""Inputs and outputs of the bulk import / export activities. Pure module (workflows pass it
through the sandbox)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FileFormat = Literal["csv", "jsonl"]
ImportMode = Literal["create", "upsert"]
MAX_BATCH_ROWS = 5_000
MAX_EXPORT_PAGE = 10_000


class BulkModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ImportBatchStep(BulkModel):
    """Batch `batch` of an import: up to `size` rows of the staged file from byte `offset` (the
    header, if any, is read from the file's start each time). Row numbers count data rows from 1:
    a batch starts at row `batch * size + 1`."""

    import_id: str
    batch: int = Field(ge=0)
    path: str
    format: FileFormat
    offset: int = Field(ge=0)
    size: int = Field(ge=1, le=MAX_BATCH_ROWS)
    mode: ImportMode
    event_group_id: str


class ImportBatchResult(BulkModel):
    """Counts only: the rows' errors stay in the operation log (the report reads them there), so
    a run's history does not grow with them."""

    read: int
    created: int
    updated: int
    failed: int
    next_offset: int  # where the next batch starts
    file_size: int
    done: bool  # the file ends here


class ExportChunkStep(BulkModel):
    """Write up to `max_rows` customers after `after_id` (id order) to `path`, from byte `offset`
    on (anything past it is a crashed attempt's partial write, and is cut off first), in pages
    of `page_size` with a heartbeat per page."""

    path: str
    format: FileFormat
    filters: dict[str, Any] | None = None
    after_id: str | None = None
    offset: int = Field(ge=0)
    page_size: int = Field(ge=1, le=MAX_EXPORT_PAGE)
    max_rows: int = Field(ge=1)


class ExportCursor(BulkModel):
    """Where an export stands: the last id written and the file's size after it."""

    after_id: str | None = None
    offset: int = 0
    rows: int = 0  # rows written by this chunk


class ExportChunkResult(BulkModel):
    cursor: ExportCursor
    done: bool
