# mypy: disable-error-code="empty-body"
"""Typed references to the bulk activities (`activities.bulk_activities.BulkActivities`), for
the bulk workflows to call; same convention as `activities.stubs` (never registered or run;
`tests/test_activity_stubs.py` checks both sides agree). Pure module."""

from __future__ import annotations

from temporalio import activity

from activities.bulk_contracts import (
    ExportChunkResult,
    ExportChunkStep,
    ImportBatchResult,
    ImportBatchStep,
)


@activity.defn
async def import_customers_batch(step: ImportBatchStep) -> ImportBatchResult: ...


@activity.defn
async def export_customers_chunk(step: ExportChunkStep) -> ExportChunkResult: ...
