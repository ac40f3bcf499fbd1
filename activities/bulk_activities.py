"""`BulkActivities`: a batch of an import, a chunk of an export.

Both read or write a file the worker shares with whoever staged it (see docs/bulk.md). An import
batch reads its rows from a byte offset (memory stays flat whatever the file's size) and hands
them to the service, which imports them once per (import id, batch number). An export chunk
writes pages in id order and heartbeats its cursor (last id, file size) after each: a retry after
a crash resumes from the last heartbeat, first cutting off whatever was written after it, so the
file ends up with every row exactly once.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
from collections import deque
from collections.abc import Callable, Iterator
from typing import IO, Any

from temporalio import activity

from activities.bulk_contracts import (
    ExportChunkResult,
    ExportChunkStep,
    ExportCursor,
    ImportBatchResult,
    ImportBatchStep,
)
from activities.failures import business_errors
from customer_service.errors import InvalidDataError
from customer_service.service.bulk import BulkImports
from customer_service.service.bulk_export import CSV_COLUMNS, BulkExports

Row = tuple[int, dict[str, Any] | None]
# Pages of an export PostgreSQL renders at once, on as many connections (CSV, 2 cores, 1M rows:
# 37,000 rows/s one at a time, 70,000 two at a time, 77,000 three: docs/bulk.md).
RENDERED_AT_ONCE = 2


class _Lines:
    """Lines of a binary file from an offset, decoded, with the offset after the last one read
    (a CSV record may span lines: the reader pulls as many as it needs)."""

    def __init__(self, file: IO[bytes], offset: int) -> None:
        self.file = file
        self.offset = offset
        file.seek(offset)

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self.file.readline()
        if not line:
            raise StopIteration
        self.offset += len(line)
        return line.decode("utf-8-sig" if self.offset == len(line) else "utf-8")


def _open(path: str) -> IO[bytes]:
    try:
        return open(path, "rb")
    except OSError as exc:
        raise InvalidDataError(
            f"The import file cannot be read by the worker: {exc.strerror}", field="path"
        ) from None


def read_batch(step: ImportBatchStep) -> tuple[list[Row], int, int, bool]:
    """The batch's rows (row number, values or None if unreadable), the offset after them, the
    file's size, and whether the file ends there. A file that is not text this can read (not
    UTF-8, a CSV field over the csv module's limit) fails the import: no retry can change it."""
    try:
        return _read_batch(step)
    except (UnicodeDecodeError, csv.Error) as exc:
        first = step.batch * step.size + 1
        raise InvalidDataError(
            f"The import file cannot be read after row {first - 1}: {type(exc).__name__}",
            field="path",
        ) from None


def _read_batch(step: ImportBatchStep) -> tuple[list[Row], int, int, bool]:
    first = step.batch * step.size + 1
    rows: list[Row] = []
    with _open(step.path) as file:
        size = os.fstat(file.fileno()).st_size
        if step.format == "csv":
            head = _Lines(file, 0)
            header = next(csv.reader(head), None)
            if header is None:
                return [], size, size, True
            start = max(step.offset, head.offset)
            lines = _Lines(file, start)
            reader = csv.reader(lines)
            for cells in reader:
                if not cells:
                    continue  # a blank line is no row
                values = (
                    dict(zip(header, cells, strict=False)) if len(cells) == len(header) else None
                )
                rows.append((first + len(rows), values))
                if len(rows) == step.size:
                    break
        else:
            lines = _Lines(file, step.offset)
            for line in lines:
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError:
                    value = None
                rows.append((first + len(rows), value if isinstance(value, dict) else None))
                if len(rows) == step.size:
                    break
        done = lines.offset >= size or len(rows) < step.size
        return rows, lines.offset, size, done


class _Output:
    """The export file, cut back to a cursor's offset, written page by page."""

    def __init__(self, path: str, offset: int) -> None:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
        except OSError as exc:
            raise InvalidDataError(
                f"The export file cannot be written by the worker: {exc.strerror}", field="path"
            ) from None
        self.file = os.fdopen(fd, "r+b", buffering=1 << 20)
        self.file.truncate(offset)
        self.file.seek(offset)

    def append(self, data: bytes) -> int:
        """`data` written and on disk; the file's size."""
        self.file.write(data)
        self.file.flush()
        os.fsync(self.file.fileno())
        return self.file.tell()

    def close(self) -> None:
        self.file.close()


class BulkActivities:
    def __init__(self, imports: BulkImports, exports: BulkExports) -> None:
        self._imports = imports
        self._exports = exports

    def all(self) -> list[Callable[..., Any]]:
        """Every activity of this instance, for `Worker(activities=...)`."""
        return [self.import_customers_batch, self.export_customers_chunk]

    @activity.defn
    @business_errors
    async def import_customers_batch(self, step: ImportBatchStep) -> ImportBatchResult:
        rows, next_offset, size, done = read_batch(step)
        activity.heartbeat(step.batch)
        outcome = await self._imports.import_batch(
            step.import_id, step.batch, rows, step.mode, step.event_group_id
        )
        return ImportBatchResult(
            read=outcome.read,
            created=outcome.created,
            updated=outcome.updated,
            failed=len(outcome.errors),
            next_offset=next_offset,
            file_size=size,
            done=done,
        )

    @activity.defn
    @business_errors
    async def export_customers_chunk(self, step: ExportChunkStep) -> ExportChunkResult:
        details = activity.info().heartbeat_details
        cursor = (
            ExportCursor.model_validate(details[0])
            if details
            else ExportCursor(after_id=step.after_id, offset=step.offset)
        )
        output = _Output(step.path, cursor.offset)
        # Pages in id order, each rendered by PostgreSQL as soon as its ids are known, up to
        # RENDERED_AT_ONCE at a time, and written in order as they come back.
        renders: deque[tuple[str, asyncio.Task[tuple[int, bytes]]]] = deque()
        after_id, planned, short = cursor.after_id, cursor.rows, False
        try:
            if cursor.offset == 0 and step.format == "csv":
                cursor = cursor.model_copy(update={"offset": output.append(_csv_line(CSV_COLUMNS))})
            while True:
                while not short and len(renders) < RENDERED_AT_ONCE and planned < step.max_rows:
                    limit = min(step.page_size, step.max_rows - planned)
                    ids = await self._exports.page_ids(step.filters, after_id, limit)
                    short = len(ids) < limit
                    if ids:
                        render = self._exports.render(ids, step.format)
                        renders.append((ids[-1], asyncio.create_task(render)))
                        after_id, planned = ids[-1], planned + len(ids)
                if not renders:
                    return ExportChunkResult(cursor=cursor, done=short)
                last_id, task = renders.popleft()
                rows, text = await task
                offset = await asyncio.to_thread(output.append, text)
                cursor = ExportCursor(after_id=last_id, offset=offset, rows=cursor.rows + rows)
                activity.heartbeat(cursor.model_dump())
        finally:
            for _, task in renders:
                task.cancel()
            await asyncio.gather(*(task for _, task in renders), return_exceptions=True)
            output.close()


def _csv_line(values: Any) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue().encode()
