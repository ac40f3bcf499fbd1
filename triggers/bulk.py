"""The bulk half of `CustomerFlows`: start an import or an export, follow it, read its error
report. The file is named by a path the worker can read (import) or write (export): see
docs/bulk.md for how it is staged."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.common import SearchAttributePair

from activities.bulk_contracts import FileFormat, ImportMode
from customer_service.errors import InvalidDataError
from customer_service.service.bulk import BulkImports, RowError
from customer_service.validation import validate
from triggers.base import FlowsBase
from workflows.bulk import ExportCustomersWorkflow, ImportCustomersWorkflow
from workflows.bulk_contracts import (
    BulkProgress,
    BulkResult,
    ExportCustomersInput,
    ImportCustomersInput,
)
from workflows.visibility import BULK_FILE, BULK_STATUS


def file_format(path: str, given: str | None) -> str:
    """The format asked for, else the file's suffix: `.jsonl` / `.ndjson` → jsonl, else csv."""
    if given:
        return given
    return "jsonl" if path.lower().endswith((".jsonl", ".ndjson")) else "csv"


def absolute(path: str) -> str:
    """The file as the worker names it: an absolute path (relative ones would depend on the
    worker's working directory)."""
    if not isinstance(path, str) or not PurePath(path).is_absolute():
        raise InvalidDataError(
            f"Invalid path: expected an absolute path the worker can reach, got {path!r}",
            field="path",
        )
    return path


def _attributes(path: str) -> list[SearchAttributePair[Any]]:
    """A bulk run is findable from its start by its status and its file's name (not by
    SagaStatus: it is not a saga). It upserts its status and rows read as they change."""
    return [
        SearchAttributePair(BULK_STATUS, "running"),
        SearchAttributePair(BULK_FILE, PurePath(path).name[:250]),
    ]


class BulkFlows(FlowsBase):
    async def start_import_customers(
        self,
        path: str,
        *,
        format: FileFormat | None = None,
        mode: ImportMode = "create",
        batch_size: int = 500,
        request_id: str | None = None,
        **options: Any,
    ) -> WorkflowHandle[Any, BulkResult]:
        """Start importing the staged file at `path` (as the worker sees it). With a
        `request_id`, a repeat joins (or returns) the same import instead of importing again."""
        path = absolute(path)
        arg = validate(
            ImportCustomersInput,
            {
                "path": path,
                "format": file_format(path, format),
                "mode": mode,
                "batch_size": batch_size,
                **options,
            },
            "",
        )
        summary = f"Import customers ({arg.mode}) from {PurePath(path).name}"
        return await self._start(
            ImportCustomersWorkflow.run,
            arg,
            "import-customers",
            summary,
            request_id,
            _attributes(path),
        )

    async def import_customers(self, path: str, **kw: Any) -> BulkResult:
        handle = await self.start_import_customers(path, **kw)
        return await self._result(handle, BulkResult)

    async def start_export_customers(
        self,
        path: str,
        *,
        filters: Mapping[str, Any] | None = None,
        format: FileFormat | None = None,
        request_id: str | None = None,
        **options: Any,
    ) -> WorkflowHandle[Any, BulkResult]:
        """Start exporting the customers `filters` selects (the list API's filters) to `path`
        (as the worker sees it)."""
        path = absolute(path)
        arg = validate(
            ExportCustomersInput,
            {
                "path": path,
                "format": file_format(path, format),
                "filters": dict(filters) if filters else None,
                **options,
            },
            "",
        )
        if arg.filters:  # a bad filter fails here, not in the run
            from customer_service.entities import CUSTOMER
            from customer_service.filters import compile_filter

            compile_filter(CUSTOMER, arg.filters, "filters")
        summary = f"Export customers to {PurePath(path).name}"
        return await self._start(
            ExportCustomersWorkflow.run,
            arg,
            "export-customers",
            summary,
            request_id,
            _attributes(path),
        )

    async def export_customers(self, path: str, **kw: Any) -> BulkResult:
        handle = await self.start_export_customers(path, **kw)
        return await self._result(handle, BulkResult)

    async def bulk_progress(self, workflow_id: str) -> BulkProgress:
        """The `progress` query of an import or export run (its latest run)."""
        handle = self.client.get_workflow_handle(workflow_id)
        progress: BulkProgress = await handle.query("progress", result_type=BulkProgress)
        return progress

    async def signal_bulk(self, workflow_id: str, signal: str) -> None:
        """`pause`, `resume` or `cancel` an import or export."""
        if signal not in ("pause", "resume", "cancel"):
            raise ValueError(f"unknown bulk signal {signal!r}")
        await self.client.get_workflow_handle(workflow_id).signal(signal)

    async def import_errors(self, workflow_id: str, batches: int) -> list[RowError]:
        """The error report of an import: every rejected row (row number, column, message), from
        the batch records of its first `batches` batches."""
        outcomes = await BulkImports(self._reads().sessions).outcomes(workflow_id, batches)
        return [error for outcome in outcomes for error in outcome.errors]
