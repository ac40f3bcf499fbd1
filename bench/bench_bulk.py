"""Bulk import / export benchmark (`make bench-bulk`).

1. Starts its own embedded PostgreSQL and Temporal dev server (`devstack.ephemeral`), migrates,
   and starts the real worker (`python worker.py`) as its own process.
2. Import: writes a CSV of BENCH_IMPORT_ROWS (100,000) customers with one address each and imports
   it with `CustomerFlows.import_customers`, end to end (start → result); target ≥ 5,000 rows/s.
3. Export: tops the database up to BENCH_EXPORT_ROWS (1,000,000) customers (plain SQL, not timed)
   and exports them all to JSON Lines and to CSV; target ≥ 50,000 rows/s each.
4. Samples the worker's RSS every half second throughout: it must stay flat (no growth with the
   file's size): the figure is the RSS at the end of each phase against the first sample.
Results go to bench/results/bench_bulk.json; the figures with the machine's load are reported in
docs/bulk.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
from sqlalchemy import text  # noqa: E402

from customer_service import create_engine  # noqa: E402
from customer_service.migrate import upgrade_to_head  # noqa: E402
from devstack import ephemeral  # noqa: E402
from settings import Settings  # noqa: E402
from supervision import die_with_parent, stop_process  # noqa: E402
from triggers.connection import connect  # noqa: E402

IMPORT_ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "100000"))
EXPORT_ROWS = int(os.environ.get("BENCH_EXPORT_ROWS", "1000000"))
BATCH = int(os.environ.get("BENCH_BATCH", "5000"))
TARGET_IMPORT_RPS = 5_000.0
TARGET_EXPORT_RPS = 50_000.0
RESULTS = ROOT / "bench" / "results" / "bench_bulk.json"


def log(message: str) -> None:
    print(message, flush=True)


def write_import_file(path: Path, rows: int) -> None:
    header = ["email", "first_name", "last_name", "phone", "groups"]
    header += ["address.address_1", "address.city", "address.postal_code", "address.country_code"]
    header += ["address.is_default_shipping"]
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for i in range(rows):
            group = "bench-vip" if i % 10 == 0 else ""
            writer.writerow(
                [
                    *(f"bulk{i}@example.com", f"First{i}", f"Last{i}", f"+49 30 {i:07d}", group),
                    *(f"{i} Bench Street", "Berlin", f"{10000 + i % 90000}", "de", "true"),
                ]
            )


def start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """The real worker (`python worker.py`) in its own process, once it serves."""
    worker = subprocess.Popen(
        [sys.executable, "worker.py"],
        cwd=ROOT,
        env=env,
        preexec_fn=die_with_parent,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    while "worker serving" not in log_path.read_text(errors="replace"):
        if worker.poll() is not None:
            raise RuntimeError(log_path.read_text(errors="replace")[-3000:])
        time.sleep(0.1)
    return worker


class RssSampler:
    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.samples: list[float] = []
        self.task: asyncio.Task[None] | None = None

    def now(self) -> float:
        return float(self.process.memory_info().rss / 2**20)

    async def _run(self) -> None:
        while True:
            self.samples.append(self.now())
            await asyncio.sleep(0.5)

    def start(self) -> None:
        self.samples = []
        self.task = asyncio.create_task(self._run())

    async def stop(self) -> dict[str, float]:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        s = self.samples or [self.now()]
        return {
            "rss_first_mb": round(s[0], 1),
            "rss_max_mb": round(max(s), 1),
            "rss_last_mb": round(s[-1], 1),
        }


async def seed(database_url: str, total: int) -> None:
    """Top the customer table up to `total` rows (one address each), in plain SQL."""
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        have = int((await conn.execute(text("SELECT count(*) FROM customer"))).scalar_one())
        missing = total - have
        step = 200_000
        for start in range(0, max(missing, 0), step):
            n = min(step, missing - start)
            await conn.execute(
                text(
                    "INSERT INTO customer (id, email, first_name, last_name) "
                    "SELECT 'cus_seed' || lpad(g::text, 10, '0'), 'seed' || g || '@example.com', "
                    "'Seed', 'Customer ' || g FROM generate_series(CAST(:a AS int), CAST(:b AS int)) g"
                ),
                {"a": start, "b": start + n - 1},
            )
            await conn.execute(
                text(
                    "INSERT INTO customer_address (id, customer_id, address_1, city, country_code) "
                    "SELECT 'cuaddr_seed' || lpad(g::text, 10, '0'), "
                    "'cus_seed' || lpad(g::text, 10, '0'), g || ' Seed Road', 'Hamburg', 'de' "
                    "FROM generate_series(CAST(:a AS int), CAST(:b AS int)) g"
                ),
                {"a": start, "b": start + n - 1},
            )
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE customer"))
        await conn.execute(text("VACUUM ANALYZE customer_address"))
    await engine.dispose()


async def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="customer-flows-bench-bulk-"))
    results: dict[str, Any] = {"import_rows": IMPORT_ROWS, "export_rows": EXPORT_ROWS}
    with ephemeral.postgres() as pg, ephemeral.temporal(in_memory=True) as temporal:
        upgrade_to_head(pg.url)
        task_queue = f"bench-bulk-{uuid.uuid4().hex[:8]}"
        env = {
            **os.environ,
            "DATABASE_URL": pg.url,
            "TEMPORAL_ADDRESS": temporal.address,
            "TASK_QUEUE": task_queue,
        }
        env.pop("HOOKS_MODULE", None)
        worker = start_worker(env, root / "worker.log")
        try:
            settings = Settings(task_queue=task_queue, temporal_address=temporal.address)
            client = await connect(settings)
            from triggers.client import CustomerFlows

            flows = CustomerFlows(client, settings, hooks=[])
            # The process that serves, forked by the worker's supervising process (whose own RSS,
            # mostly pages shared with it, is reported once).
            [serving] = psutil.Process(worker.pid).children()
            rss = RssSampler(serving.pid)
            results["supervising_process_rss_mb"] = round(
                psutil.Process(worker.pid).memory_info().rss / 2**20, 1
            )

            source = root / "import.csv"
            write_import_file(source, IMPORT_ROWS)
            log(f"import: {IMPORT_ROWS} rows, batches of {BATCH} ...")
            rss.start()
            t0 = time.perf_counter()
            result = await flows.import_customers(str(source), batch_size=BATCH)
            seconds = time.perf_counter() - t0
            rate = result.created / seconds
            results["import"] = {
                "seconds": round(seconds, 2),
                "rows_per_s": round(rate),
                "created": result.created,
                "failed": result.failed,
                **await rss.stop(),
            }
            log(
                f"  {result.created} created in {seconds:.1f}s: {rate:.0f} rows/s {results['import']}"
            )

            log(f"seeding up to {EXPORT_ROWS} customers ...")
            await seed(pg.url, EXPORT_ROWS)
            for fmt in ("jsonl", "csv"):
                out = root / f"export.{fmt}"
                rss.start()
                t0 = time.perf_counter()
                done = await flows.export_customers(str(out), format=fmt)  # type: ignore[arg-type]
                seconds = time.perf_counter() - t0
                rate = done.read / seconds
                results[f"export_{fmt}"] = {
                    "seconds": round(seconds, 2),
                    "rows_per_s": round(rate),
                    "rows": done.read,
                    "bytes": out.stat().st_size,
                    **await rss.stop(),
                }
                log(
                    f"  export {fmt}: {done.read} rows in {seconds:.1f}s: {rate:.0f} rows/s "
                    f"{results[f'export_{fmt}']}"
                )
                out.unlink()
        finally:
            stop_process(worker, 30)
    results["load"] = os.getloadavg()
    results["targets_met"] = {
        "import": results["import"]["rows_per_s"] >= TARGET_IMPORT_RPS,
        "export": min(results[f"export_{f}"]["rows_per_s"] for f in ("jsonl", "csv"))
        >= TARGET_EXPORT_RPS,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    log(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
