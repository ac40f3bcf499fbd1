"""Bulk import and export over the real servers: row errors reported with single-create messages,
exactly-once batches (a repeated request, a re-run batch), continue-as-new, pause / resume /
cancel, events per imported customer, keyset export resumed after a partial write."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Replayer

from activities.bulk_activities import BulkActivities
from activities.bulk_contracts import ExportChunkStep, ImportBatchStep
from activities.customer_activities import CustomerActivities
from activities.hooks import HookRegistry
from customer_service import CustomerModuleService
from customer_service.invariants import check_invariants
from customer_service.service.bulk import BulkImports
from customer_service.service.bulk_export import CSV_COLUMNS, BulkExports
from settings import Settings
from tests.helpers import eventually, scalar
from tests.test_activity_stubs import mismatches
from triggers.client import CustomerFlows, FlowError
from worker import build_worker
from workflows.bulk import ExportCustomersWorkflow, ImportCustomersWorkflow
from workflows.visibility import BULK_FILE, BULK_ROWS, BULK_STATUS, SAGA_STATUS

ROOT = Path(__file__).resolve().parents[2]
HEADER = [
    "email",
    "first_name",
    "last_name",
    "groups",
    "address.address_1",
    "address.city",
    "address.country_code",
    "address.is_default_shipping",
]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([HEADER, *rows])
    return path


@pytest.fixture
async def flows(
    temporal_client: Client, service: CustomerModuleService, hooks: HookRegistry
) -> AsyncIterator[CustomerFlows]:
    task_queue = f"test-bulk-{uuid.uuid4().hex[:8]}"
    bulk = BulkActivities(BulkImports(service.sessions), BulkExports(service.sessions))
    acts = [*CustomerActivities(service, hooks).all(), *bulk.all()]
    async with build_worker(temporal_client, acts, Settings(), task_queue):
        yield CustomerFlows(temporal_client, Settings(task_queue=task_queue), service, hooks=[])


def test_bulk_stubs_match_the_activities() -> None:
    from activities import bulk_stubs

    assert mismatches(bulk_stubs, BulkActivities) == []


async def test_import_reports_bad_rows_and_imports_the_rest_once(
    flows: CustomerFlows, engine: AsyncEngine, tmp_path: Path
) -> None:
    file = write_csv(
        tmp_path / "people.csv",
        [
            ["ann@example.com", "Ann", "A", "vip|north", "1 Main St", "Berlin", "de", "true"],
            ["not-an-email", "Bob", "B", "", "", "", "", ""],
            ["cy@example.com", "Cy", "C", "vip", "2 Side St", "Paris", "fra", ""],
            ["ANN@example.com", "Ann again", "", "", "", "", "", ""],
            ["dee@example.com", "Dee", "D", "", "", "", "", ""],
            ["eve@example.com", "Eve", "", "north", "3 High St", "Rome", "it", "false"],
            ["too", "many", "cells", "", "", "", "", "", "extra"],
        ],
    )
    request = uuid.uuid4().hex
    options: dict[str, Any] = {"batch_size": 2, "batches_per_run": 2, "request_id": request}
    result = await flows.import_customers(str(file), **options)
    assert (result.status, result.read, result.created, result.failed) == ("completed", 7, 3, 4)
    assert result.batches == 4  # 7 rows by 2: continued as new once (2 batches per run)
    errors = await flows.import_errors(result.workflow_id, result.batches)
    assert [(e.row, e.field) for e in errors] == [
        (2, "email"),
        (3, "address.country_code"),
        (4, "email"),
        (7, ""),
    ]
    # The same messages as a single create.
    with pytest.raises(Exception) as single:
        await flows.create_customers([{"email": "not-an-email"}])
    assert str(single.value).replace("customers_data.0.", "") == errors[0].message
    assert (
        errors[2].message
        == "Customer with email: ANN@example.com, has_account: false, already exists."
    )

    assert await scalar(engine, "SELECT count(*) FROM customer") == 3
    assert await scalar(engine, "SELECT count(*) FROM customer_address") == 2
    groups = "SELECT string_agg(name, ',' ORDER BY name) FROM customer_group"
    assert await scalar(engine, groups) == "north,vip"
    assert await scalar(engine, "SELECT count(*) FROM customer_group_customer") == 3
    created = (
        "SELECT count(*) FROM event_outbox WHERE name = 'customer.created' AND status = 'released'"
    )
    assert await scalar(engine, created) == 3
    assert await check_invariants(flows._reads().sessions, flows.run_outcome) == []

    # Findable in the Web UI by its file, status and rows read (not as a saga).
    attributes = (
        await flows.client.get_workflow_handle(result.workflow_id).describe()
    ).typed_search_attributes
    assert (attributes.get(BULK_FILE), attributes.get(BULK_STATUS)) == ("people.csv", "completed")
    assert attributes.get(BULK_ROWS) == 7 and attributes.get(SAGA_STATUS) is None

    async def found() -> list[str]:
        query = 'BulkFile = "people.csv" AND BulkStatus = "completed" AND BulkRows = 7'
        return [w.id async for w in flows.client.list_workflows(query)]

    assert result.workflow_id in await eventually(found, within=15)

    # The same file under the same request id: the same import, nothing done twice.
    again = await flows.import_customers(str(file), **options)
    assert again.workflow_id == result.workflow_id and again.created == 3
    assert await scalar(engine, "SELECT count(*) FROM customer") == 3


async def test_a_batch_run_again_returns_its_record(
    service: CustomerModuleService, engine: AsyncEngine, tmp_path: Path
) -> None:
    file = write_csv(tmp_path / "a.csv", [["x@example.com", "X", "", "g", "", "", "", ""]])
    bulk = BulkActivities(BulkImports(service.sessions), BulkExports(service.sessions))
    step = ImportBatchStep.model_validate(
        {"import_id": "imp-1", "batch": 0, "path": str(file), "format": "csv", "offset": 0}
        | {"size": 10, "mode": "create", "event_group_id": "import-customers-x:run"}
    )
    first = await ActivityEnvironment().run(bulk.import_customers_batch, step)
    second = await ActivityEnvironment().run(bulk.import_customers_batch, step)
    assert first == second and first.created == 1 and first.done
    assert await scalar(engine, "SELECT count(*) FROM customer") == 1
    assert await scalar(engine, "SELECT count(*) FROM customer_group_customer") == 1


async def test_upsert_matches_email_ignoring_case(
    flows: CustomerFlows, engine: AsyncEngine, tmp_path: Path
) -> None:
    first = write_csv(tmp_path / "1.csv", [["kim@example.com", "Kim", "", "", "", "", "", ""]])
    await flows.import_customers(str(first))
    lines = [
        json.dumps({"email": "KIM@example.com", "last_name": "Lee", "groups": ["staff"]}),
        json.dumps({"email": "new@example.com", "address": {"city": "Oslo", "country_code": "no"}}),
        "not json",
    ]
    second = tmp_path / "2.jsonl"
    second.write_text("\n".join(lines) + "\n")
    result = await flows.import_customers(str(second), mode="upsert")
    assert (result.created, result.updated, result.failed) == (1, 1, 1)
    kim = "SELECT first_name || ' ' || last_name FROM customer WHERE email = 'kim@example.com'"
    assert await scalar(engine, kim) == "Kim Lee"
    assert await scalar(engine, "SELECT count(*) FROM customer") == 2
    assert await scalar(engine, "SELECT count(*) FROM customer_group_customer") == 1


async def test_pause_resume_and_cancel_after_the_current_batch(
    flows: CustomerFlows, engine: AsyncEngine, tmp_path: Path
) -> None:
    rows = [[f"p{i}@example.com", "P", "", "", "", "", "", ""] for i in range(20)]
    file = write_csv(tmp_path / "p.csv", rows)
    handle = await flows.start_import_customers(str(file), batch_size=1)
    await flows.signal_bulk(handle.id, "pause")
    await asyncio.sleep(1.0)
    paused = await flows.bulk_progress(handle.id)
    assert paused.status == "paused"
    assert (await handle.describe()).typed_search_attributes.get(BULK_STATUS) == "paused"
    await asyncio.sleep(1.0)
    assert (await flows.bulk_progress(handle.id)).read == paused.read  # nothing while paused
    await flows.signal_bulk(handle.id, "resume")
    for _ in range(300):
        if (await flows.bulk_progress(handle.id)).read >= paused.read + 2:
            break
        await asyncio.sleep(0.1)
    await flows.signal_bulk(handle.id, "cancel")
    result = await handle.result()
    assert result.status == "cancelled" and paused.read + 2 <= result.created < 20
    attributes = (await handle.describe()).typed_search_attributes
    assert (attributes.get(BULK_STATUS), attributes.get(BULK_ROWS)) == ("cancelled", result.read)
    assert await scalar(engine, "SELECT count(*) FROM customer") == result.created


def read_export(path: Path, format: str) -> list[dict[str, Any]]:
    if format == "jsonl":
        return [json.loads(line) for line in path.read_text().splitlines()]
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        return list(reader)


@pytest.mark.parametrize("format", ["csv", "jsonl"])
async def test_export_every_selected_row_once(
    flows: CustomerFlows, tmp_path: Path, format: str
) -> None:
    rows = [
        [f"e{i}@example.com", f"E{i}", "", "vip" if i % 2 else "", "", "Lyon", "fr", ""]
        for i in range(9)
    ]
    await flows.import_customers(str(write_csv(tmp_path / "in.csv", rows)))
    out = tmp_path / f"out.{format}"
    options: dict[str, Any] = {"page_size": 2, "chunk_rows": 3, "chunks_per_run": 2}
    result = await flows.export_customers(str(out), **options)
    exported = read_export(out, format)
    listed, _ = await flows.list_customers({}, {"order": {"id": "ASC"}, "take": 100})
    assert [r["id"] for r in exported] == [c.id for c in listed]
    assert result.read == 9 and result.status == "completed"

    vip = tmp_path / f"vip.{format}"
    await flows.export_customers(str(vip), filters={"q": "example", "groups": {"name": "vip"}})
    chosen = read_export(vip, format)
    assert len(chosen) == 4
    first = chosen[0]
    if format == "jsonl":
        assert first["groups"][0]["name"] == "vip" and first["addresses"][0]["city"] == "Lyon"
    else:
        assert first["groups.name"] == "vip" and json.loads(first["addresses"])[0]["city"] == "Lyon"


async def test_export_chunk_resumes_from_its_heartbeat_without_duplicates(
    service: CustomerModuleService, tmp_path: Path
) -> None:
    await service.create_customers([{"email": f"r{i}@example.com"} for i in range(7)])
    bulk = BulkActivities(BulkImports(service.sessions), BulkExports(service.sessions))
    out = tmp_path / "r.jsonl"
    step = ExportChunkStep(path=str(out), format="jsonl", offset=0, page_size=3, max_rows=100)
    beats: list[Any] = []
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: beats.append(details[0])
    await env.run(bulk.export_customers_chunk, step)
    assert len(beats) == 3
    # A crash after the first page's heartbeat, with half a page written after it:
    with out.open("r+b") as f:
        f.truncate(beats[0]["offset"])
        f.seek(0, 2)
        f.write(b'{"id": "partial')
    retry = ActivityEnvironment()
    retry.info = dataclasses.replace(retry.info, heartbeat_details=[beats[0]])
    result = await retry.run(bulk.export_customers_chunk, step)
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert len(ids) == 7 == len(set(ids)) and ids == sorted(ids) and result.done


async def cli(flows: CustomerFlows, database_url: str, address: str, *args: str) -> str:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TEMPORAL_ADDRESS": address,
        "TASK_QUEUE": flows.settings.task_queue,
    }
    env.pop("HOOKS_MODULE", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "triggers.cli",
        *args,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, output.decode()
    return output.decode()


async def test_cli_imports_with_an_error_report_and_exports(
    flows: CustomerFlows, database_url: str, temporal_address: str, tmp_path: Path
) -> None:
    rows = [[f"c{i}@example.com", "C", "", "", "", "", "", ""] for i in range(5)]
    rows.insert(2, ["bad@", "Bad", "", "", "", "", "", ""])
    file = write_csv(tmp_path / "cli.csv", rows)
    report = tmp_path / "errors.csv"
    shown = await cli(
        flows,
        database_url,
        temporal_address,
        "import",
        str(file),
        "--errors",
        str(report),
        "--batch-size",
        "2",
    )
    assert "6 rows read, 5 created, 0 updated, 1 failed" in shown
    with report.open(newline="") as f:
        assert list(csv.reader(f)) == [
            ["row", "field", "message"],
            ["3", "email", "Invalid request: Invalid email: is not a valid email address"],
        ]
    out = tmp_path / "out.jsonl"
    shown = await cli(
        flows, database_url, temporal_address, "export", "--out", str(out), "--q", "c3"
    )
    assert "1 rows read" in shown
    assert [json.loads(line)["email"] for line in out.read_text().splitlines()] == [
        "c3@example.com"
    ]


async def test_a_file_the_worker_cannot_read_fails_the_import_as_invalid_data(
    flows: CustomerFlows, tmp_path: Path
) -> None:
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes(b"email,first_name\nj@example.com,J\xf6rg\n")
    with pytest.raises(FlowError) as bad:
        await flows.import_customers(str(latin1))
    assert bad.value.type == "invalid_data" and "cannot be read after row 0" in bad.value.message
    failed = flows.client.get_workflow_handle(bad.value.workflow_id)
    assert (await failed.describe()).typed_search_attributes.get(BULK_STATUS) == "failed"
    with pytest.raises(FlowError) as missing:
        await flows.import_customers(str(tmp_path / "missing.csv"))
    assert missing.value.type == "invalid_data" and "cannot be read by the worker" in str(
        missing.value.message
    )


async def test_bulk_histories_replay(flows: CustomerFlows, tmp_path: Path) -> None:
    """Every run of an import (continued as new once, paused and resumed) and of an export
    replays on today's code without a non-determinism error."""
    rows = [[f"h{i}@example.com", "H", "", "g", "", "", "", ""] for i in range(5)]
    handle = await flows.start_import_customers(
        str(write_csv(tmp_path / "h.csv", rows)), batch_size=2, batches_per_run=2
    )
    await flows.signal_bulk(handle.id, "pause")
    await flows.signal_bulk(handle.id, "resume")
    await handle.result()
    export = await flows.start_export_customers(str(tmp_path / "h.jsonl"), chunk_rows=2)
    await export.result()
    replayer = Replayer(
        workflows=[ImportCustomersWorkflow, ExportCustomersWorkflow],
        data_converter=flows.client.data_converter,
    )
    runs = 0
    for workflow_id in (handle.id, export.id):
        async for execution in flows.client.list_workflows(f'WorkflowId = "{workflow_id}"'):
            history = await flows.client.get_workflow_handle(
                workflow_id, run_id=execution.run_id
            ).fetch_history()
            await replayer.replay_workflow(history)
            runs += 1
    assert runs >= 3  # the import continued as new at least once
