"""`customers import` / `customers export`, and `customers bulk` to follow, pause, resume or
cancel a run and print or save an import's error report.

The file is named by a path the worker shares with this machine (docs/bulk.md): the worker reads
the import file and writes the export file itself; nothing is uploaded through Temporal.
"""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError

from activities.bulk_contracts import FileFormat, ImportMode
from customer_service.service.bulk import RowError
from triggers.cli.common import connect, err, main, out, run_async
from triggers.client import CustomerFlows
from workflows.bulk_contracts import BulkProgress, BulkResult

SHOWN_ERRORS = 20
format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl"]),
    default=None,
    help="Default: from the file's suffix (.jsonl / .ndjson, else csv).",
)


def _counts(p: BulkProgress) -> str:
    eta = f" · {p.eta_seconds:.0f}s left" if p.eta_seconds is not None else ""
    return (
        f"{p.read} read · {p.created} created · {p.updated} updated · {p.failed} failed · "
        f"{p.rate:.0f} rows/s{eta} · {p.status}"
    )


async def follow(flows: CustomerFlows, handle: WorkflowHandle[Any, BulkResult]) -> BulkResult:
    """Wait for the run with a live progress bar fed by its `progress` query."""
    result = asyncio.ensure_future(flows._result(handle, BulkResult))
    # The run id may hold a caller's request id: text, not markup.
    columns = (
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        TextColumn("{task.fields[counts]}", markup=False),
    )
    with Progress(*columns, console=err) as bar:
        task = bar.add_task(handle.id, total=None, counts="starting")
        while not result.done():
            try:
                p = await flows.bulk_progress(handle.id)
                bar.update(task, total=p.bytes_total or None, completed=p.bytes_done)
                bar.update(task, counts=_counts(p))
            except RPCError:
                pass  # between two runs of a continue-as-new chain: ask again
            await asyncio.wait({result}, timeout=0.5)
    return result.result()


def show_result(flows: CustomerFlows, result: BulkResult, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({**result.model_dump(), "ui": flows.ui_link(result.workflow_id)}))
        return
    done = (
        "cancelled: the rows before were imported and stay"
        if result.status == "cancelled"
        else "done"
    )
    out.print(
        f"{done}: {result.read} rows read, {result.created} created, {result.updated} updated, "
        f"{result.failed} failed ({result.batches} steps)\nrun: {flows.ui_link(result.workflow_id)}",
        highlight=False,
    )


def report_errors(errors: list[RowError], save: Path | None, as_json: bool) -> None:
    """Save the whole report as CSV (row, field, message), or print it (the first rows)."""
    if save is not None:
        with save.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["row", "field", "message"])
            writer.writerows((e.row, e.field, e.message) for e in errors)
        err.print(f"{len(errors)} row errors saved to {save}", highlight=False)
        return
    if as_json:
        click.echo(json.dumps([e.model_dump() for e in errors]))
        return
    if not errors:
        return
    table = Table(title=f"{len(errors)} rows not imported")
    for column in ("row", "field", "message"):
        table.add_column(column)
    for e in errors[:SHOWN_ERRORS]:
        table.add_row(str(e.row), e.field, e.message)
    out.print(table)
    if len(errors) > SHOWN_ERRORS:
        out.print(f"… and {len(errors) - SHOWN_ERRORS} more: save them all with --errors FILE")


@main.command("import")
@click.argument(
    "file", type=click.Path(exists=True, dir_okay=False, resolve_path=True, path_type=Path)
)
@click.option(
    "--mode", type=click.Choice(["create", "upsert"]), default="create", show_default=True
)
@format_option
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 5000))
@click.option(
    "--request-id", default=None, help="Idempotency key: a repeat resumes the same import."
)
@click.option(
    "--errors",
    "errors_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Save the error report (CSV) here instead of printing it.",
)
@click.option("--no-wait", is_flag=True, help="Start the run, print its id, return.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@run_async
async def import_customers(
    file: Path,
    mode: ImportMode,
    fmt: FileFormat | None,
    batch_size: int,
    request_id: str | None,
    errors_file: Path | None,
    no_wait: bool,
    as_json: bool,
) -> None:
    """Import customers from a CSV (header row) or JSON Lines FILE the worker can read."""
    flows = await connect(reads=True)
    handle = await flows.start_import_customers(
        str(file), format=fmt, mode=mode, batch_size=batch_size, request_id=request_id
    )
    if no_wait:
        out.print(f"started {handle.id}\nrun: {flows.ui_link(handle.id)}", highlight=False)
        return
    result = await follow(flows, handle)
    show_result(flows, result, as_json)
    report_errors(
        await flows.import_errors(result.workflow_id, result.batches), errors_file, as_json
    )


def _range(filters: dict[str, Any], field: str, after: str | None, before: str | None) -> None:
    bounds = {op: value for op, value in (("$gte", after), ("$lt", before)) if value}
    if bounds:
        filters[field] = bounds


@main.command("export")
@click.option(
    "--out",
    "out_file",
    required=True,
    type=click.Path(dir_okay=False, resolve_path=True, path_type=Path),
)
@format_option
@click.option("--q", default=None, help="Free-text search (all words must match).")
@click.option("--group", "groups", multiple=True, help="Customers in this group id.")
@click.option("--has-account/--guest", default=None)
@click.option("--created-after", default=None, help="ISO date-time (inclusive).")
@click.option("--created-before", default=None, help="ISO date-time (exclusive).")
@click.option("--updated-after", default=None, help="ISO date-time (inclusive).")
@click.option("--updated-before", default=None, help="ISO date-time (exclusive).")
@click.option(
    "--request-id", default=None, help="Idempotency key: a repeat resumes the same export."
)
@click.option("--no-wait", is_flag=True, help="Start the run, print its id, return.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@run_async
async def export_customers(
    out_file: Path,
    fmt: FileFormat | None,
    q: str | None,
    groups: tuple[str, ...],
    has_account: bool | None,
    created_after: str | None,
    created_before: str | None,
    updated_after: str | None,
    updated_before: str | None,
    request_id: str | None,
    no_wait: bool,
    as_json: bool,
) -> None:
    """Export the customers the list filters select to a file the worker writes (--out)."""
    filters: dict[str, Any] = {}
    if q:
        filters["q"] = q
    if groups:
        filters["groups"] = list(groups)
    if has_account is not None:
        filters["has_account"] = has_account
    _range(filters, "created_at", created_after, created_before)
    _range(filters, "updated_at", updated_after, updated_before)
    flows = await connect()
    handle = await flows.start_export_customers(
        str(out_file), filters=filters, format=fmt, request_id=request_id
    )
    if no_wait:
        out.print(f"started {handle.id}\nrun: {flows.ui_link(handle.id)}", highlight=False)
        return
    show_result(flows, await follow(flows, handle), as_json)


@main.command("bulk")
@click.argument("action", type=click.Choice(["progress", "pause", "resume", "cancel", "errors"]))
@click.argument("workflow_id")
@click.option(
    "--errors",
    "errors_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="With `errors`: save the report (CSV) here.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@run_async
async def bulk(action: str, workflow_id: str, errors_file: Path | None, as_json: bool) -> None:
    """Follow or steer an import or export run: its progress, pause, resume, cancel (after the
    current batch), or an import's error report."""
    flows = await connect(reads=action == "errors")
    if action in ("pause", "resume", "cancel"):
        await flows.signal_bulk(workflow_id, action)
        out.print(f"{action} sent to {workflow_id}", highlight=False)
        return
    progress = await flows.bulk_progress(workflow_id)
    if action == "errors":
        errors = await flows.import_errors(workflow_id, progress.batches)
        report_errors(errors, errors_file, as_json)
    elif as_json:
        click.echo(progress.model_dump_json())
    else:
        out.print(f"{workflow_id}: {_counts(progress)}", highlight=False)
