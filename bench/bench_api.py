"""HTTP API benchmark (`make bench-api`): each route through HTTP next to the same operation
called in-process, with 1, 16 and 32 concurrent clients, on BENCH_ROWS (1,000,000) customers.

One run:
  1. starts a throw-away PostgreSQL and Temporal dev server (or uses DATABASE_URL /
     TEMPORAL_ADDRESS), seeds the customers with bench_service's PostgreSQL-side generator;
  2. starts the worker (`worker.py`) and the API (`python -m api`: API_WORKERS uvicorn processes,
     BENCH_API_WORKERS or one per core) as child processes, creates an admin user and logs in
     (bearer JWT, as the admin dashboard does);
  3. for each operation and client count, runs the clients for BENCH_SECONDS (8) on each side
     (after a warm-up), in BENCH_ROUNDS (4) alternating slices of HTTP (raw_http: keep-alive
     HTTP/1.1 on asyncio streams, far lighter than httpx on the CPU the server needs) and
     in-process:
       POST /admin/customers          ↔ CustomerFlows.create_customers (the same workflow), then
                                        read_one(service.retrieve_customer, …) (the route's re-read)
       GET /admin/customers/:id       ↔ read_one(service.retrieve_customer, …) (the route's read)
       GET /admin/customers?q=<term>  ↔ read_page(service.list_and_count_customers, …) for a rare
                                        term, a "First Last" pair and a common term, with count;
  4. prints the table, writes bench/results/bench_api.json, the table into
     docs/api-performance.md (between its result markers) and the plots
     docs/api-latency.png, docs/api-throughput.png (`--replot` redoes these from the JSON).

The in-process side runs in this process, so each figure pair differs by what HTTP adds: the
client's request, uvicorn, FastAPI routing, auth, query validation, JSON encoding. This process
runs on uvloop, as the API does; its CPU per request is reported for both sides (on the HTTP
side it is the load generator's own cost).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import platform
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import uvloop  # noqa: E402
from bench_service import ROWS, libpq_url, log, pick_terms, prepare_database  # noqa: E402
from flows_http import ApiProcess, admin_client  # noqa: E402
from raw_http import RawClient, Reply  # noqa: E402
from stats import summary  # noqa: E402

from api.__main__ import worker_count  # noqa: E402
from api.shapes import ADMIN_CUSTOMER, read_one, read_page  # noqa: E402
from customer_service import CustomerModuleService, create_engine, session_factory  # noqa: E402
from devstack import ephemeral  # noqa: E402
from settings import Settings  # noqa: E402
from supervision import die_with_parent, stop_process  # noqa: E402
from triggers.client import CustomerFlows  # noqa: E402

CLIENTS = (1, 16, 32)
SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))
WARMUP_S = 1.5
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "4"))
SAMPLE_IDS = 20_000
RESULTS = ROOT / "bench" / "results" / "bench_api.json"
DOC = ROOT / "docs" / "api-performance.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"
TARGET_OVERHEAD_MS = 2.0
TARGET_GET_RPS = 800.0
TARGET_COMMON_Q_MS = 25.0
API_WORKERS = int(os.environ.get("BENCH_API_WORKERS", "0"))  # 0: the API's default

Call = Callable[[int], Awaitable[None]]
CALLS = itertools.count()  # one sequence for the whole run: every created email is new


class Stack:
    """PostgreSQL, Temporal, the worker and the API process (`flows_http.ApiProcess`)."""

    def __init__(self, database_url: str, temporal_address: str, root: Path) -> None:
        self.database_url = database_url
        self.temporal_address = temporal_address
        self.root = root
        self.settings = Settings(
            database_url=database_url,
            temporal_address=temporal_address,
            task_queue=f"bench-api-{secrets.token_hex(4)}",
        )
        self.worker: subprocess.Popen[bytes] | None = None
        self.api: ApiProcess | None = None
        self.api_workers = API_WORKERS or worker_count(self.settings)

    @property
    def url(self) -> str:
        assert self.api is not None, "the stack is started"
        return self.api.url

    def start(self) -> None:
        worker_log = self.root / "worker.log"
        self.worker = subprocess.Popen(
            [sys.executable, "worker.py"],
            cwd=ROOT,
            env={
                **os.environ,
                "DATABASE_URL": self.database_url,
                "TEMPORAL_ADDRESS": self.temporal_address,
                "TASK_QUEUE": self.settings.task_queue,
            },
            stdout=worker_log.open("ab"),
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        self.api = ApiProcess(
            self.database_url,
            self.temporal_address,
            self.settings.task_queue,
            self.root / "api.log",
            API_WORKERS=str(self.api_workers),
            DB_POOL_SIZE="16",  # per worker process; a list takes two connections at once
        )
        deadline = time.monotonic() + 90
        while "worker serving" not in worker_log.read_text(errors="replace"):
            if self.worker.poll() is not None or time.monotonic() > deadline:
                tail = worker_log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the worker did not start: {tail}")
            time.sleep(0.3)
        asyncio.run(self.api.wait_ready())

    def stop(self) -> None:
        if self.api is not None:
            self.api.stop()
        if self.worker is not None:
            stop_process(self.worker)


async def run_clients(call: Call, clients: int, seconds: float) -> dict[str, Any]:
    """`clients` loops calling `call` for `seconds`: latencies, wall and CPU time, errors."""
    latencies: list[float] = []
    errors = 0

    async def loop(until: float) -> None:
        nonlocal errors
        while time.perf_counter() < until:
            start = time.perf_counter()
            try:
                await call(next(CALLS))
            except Exception as exc:  # counted and reported, never hidden
                errors += 1
                if errors <= 3:
                    log(f"    error: {type(exc).__name__}: {str(exc)[:200]}")
                continue
            latencies.append(time.perf_counter() - start)

    began, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(loop(began + seconds) for _ in range(clients)))
    return {
        "latencies": latencies,
        "wall": time.perf_counter() - began,
        "cpu": time.process_time() - cpu,
        "errors": errors,
    }


async def side_by_side(in_process: Call, via_http: Call, clients: int) -> dict[str, Any]:
    """Both sides of one cell, each warmed up for WARMUP_S, then measured for SECONDS in ROUNDS
    alternating slices (in-process first in even rounds, HTTP first in odd ones), so that a drift
    of the machine or of the servers during the cell (a background checkpoint, a load spike, the
    dev server's database growing) falls on both sides alike, not on whichever ran second."""
    sides = {"in_process": in_process, "http": via_http}
    for call in sides.values():
        await run_clients(call, clients, WARMUP_S)
    parts: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
    for round_ in range(ROUNDS):
        order = list(sides.items()) if round_ % 2 == 0 else list(sides.items())[::-1]
        for name, call in order:
            parts[name].append(await run_clients(call, clients, SECONDS / ROUNDS))
    merged = {}
    for name, runs in parts.items():
        latencies = [latency for run in runs for latency in run["latencies"]]
        wall, cpu = sum(run["wall"] for run in runs), sum(run["cpu"] for run in runs)
        merged[name] = {
            **summary(latencies),
            "rps": round(len(latencies) / wall, 1),
            "cpu_ms_per_request": round(cpu * 1000 / max(1, len(latencies)), 3),
            "errors": sum(run["errors"] for run in runs),
        }
    return merged


def sample_ids(url: str) -> list[str]:
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT id FROM customer TABLESAMPLE SYSTEM (5) WHERE deleted_at IS NULL LIMIT %s",
            (SAMPLE_IDS,),
        ).fetchall()
    ids = [r[0] for r in rows]
    random.Random(7).shuffle(ids)
    return ids


def operations(
    http: RawClient,
    service: CustomerModuleService,
    flows: CustomerFlows,
    user_id: str,
    ids: list[str],
    terms: list[tuple[str, str, int]],
) -> list[tuple[str, Call, Call]]:
    """(name, through HTTP, in-process) for every measured operation."""
    tag = secrets.token_hex(3)

    def ok(response: Reply) -> None:
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code} {response.text[:200]}")

    async def post_http(i: int) -> None:
        ok(await http.post("/admin/customers", json={"email": f"h{tag}.{i}@bench.example"}))

    async def post_local(i: int) -> None:
        # What the route does, without HTTP: the same run, then the same re-read of the customer
        # it created (Medusa's refetch), in the admin shape.
        [created] = await flows.create_customers(
            [{"email": f"l{tag}.{i}@bench.example", "created_by": user_id}]
        )
        await read_one(service.retrieve_customer, created.id, {}, ADMIN_CUSTOMER)

    async def get_http(i: int) -> None:
        ok(await http.get(f"/admin/customers/{ids[i % len(ids)]}"))

    async def get_local(i: int) -> None:
        await read_one(service.retrieve_customer, ids[i % len(ids)], {}, ADMIN_CUSTOMER)

    ops: list[tuple[str, Call, Call]] = [
        ("POST /admin/customers", post_http, post_local),
        ("GET /admin/customers/:id", get_http, get_local),
    ]
    for kind, term, matches in terms:

        async def list_http(i: int, term: str = term) -> None:
            ok(await http.get("/admin/customers", params={"q": term}))

        async def list_local(i: int, term: str = term) -> None:
            query = {"q": term}
            await read_page(service.list_and_count_customers, "customers", query, ADMIN_CUSTOMER)

        ops.append((f"GET ?q= {kind} ({term!r}, {matches:,})", list_http, list_local))
    return ops


async def measure(stack: Stack) -> dict[str, Any]:
    terms = [t for t in pick_terms(stack.database_url) if t[0] in ("rare", "first last", "common")]
    ids = sample_ids(stack.database_url)
    engine = create_engine(stack.database_url, pool_size=max(CLIENTS))
    service = CustomerModuleService(session_factory(engine))
    flows = await CustomerFlows.connect(stack.settings, reads=False)
    assert stack.api is not None, "the stack is started"
    http, user_id = await admin_client(stack.api, stack.database_url, secrets.token_hex(3))
    try:
        rows = []
        for name, via_http, in_process in operations(http, service, flows, user_id, ids, terms):
            for clients in CLIENTS:
                cell = await side_by_side(in_process, via_http, clients)
                local, remote = cell["in_process"], cell["http"]
                log(
                    f"  {name:<52} {clients:>2} clients: in-process p50 {local['p50_ms']:7.2f} ms "
                    f"{local['rps']:7.1f}/s | HTTP p50 {remote['p50_ms']:7.2f} ms "
                    f"{remote['rps']:7.1f}/s (client CPU {remote['cpu_ms_per_request']:.2f} ms/req)"
                )
                rows.append(
                    {"operation": name, "clients": clients, "in_process": local, "http": remote}
                )
    finally:
        await http.aclose()
    await engine.dispose()
    return {"rows": rows, "terms": terms, "api_workers": stack.api_workers}


def targets(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    worst = max(rows, key=lambda r: r["http"]["p50_ms"] - r["in_process"]["p50_ms"])
    added = worst["http"]["p50_ms"] - worst["in_process"]["p50_ms"]
    out[f"HTTP adds <= {TARGET_OVERHEAD_MS:g} ms p50 (worst cell)"] = {
        "value": f"{added:+.2f} ms ({worst['operation']}, {worst['clients']} clients)",
        "met": added <= TARGET_OVERHEAD_MS,
    }
    by_id = [r for r in rows if r["operation"].startswith("GET /admin/customers/:id")]
    get16 = next(r for r in by_id if r["clients"] == 16)
    out[f"GET by id >= {TARGET_GET_RPS:g} req/s at 16 clients"] = {
        "value": f"{get16['http']['rps']:.0f} req/s",
        "met": get16["http"]["rps"] >= TARGET_GET_RPS,
    }
    common = next(r for r in rows if " common " in r["operation"] and r["clients"] == 1)
    out[f"q common term + count p50 <= {TARGET_COMMON_Q_MS:g} ms (HTTP, 1 client)"] = {
        "value": f"{common['http']['p50_ms']:.2f} ms",
        "met": common["http"]["p50_ms"] <= TARGET_COMMON_Q_MS,
    }
    return out


def table(results: dict[str, Any]) -> str:
    head = (
        "| operation | clients | in-process p50 / p95 / p99 ms | req/s | HTTP p50 / p95 / p99 ms"
        " | req/s | HTTP adds (p50) | client CPU / req |\n|---|---:|---:|---:|---:|---:|---:|---:|"
    )
    lines = [head]
    for r in results["rows"]:
        a, b = r["in_process"], r["http"]
        lines.append(
            f"| {r['operation']} | {r['clients']} | {a['p50_ms']:.2f} / {a['p95_ms']:.2f} / "
            f"{a['p99_ms']:.2f} | {a['rps']:.0f} | {b['p50_ms']:.2f} / {b['p95_ms']:.2f} / "
            f"{b['p99_ms']:.2f} | {b['rps']:.0f} | {b['p50_ms'] - a['p50_ms']:+.2f} ms | "
            f"{b.get('cpu_ms_per_request', float('nan')):.2f} ms |"
        )
    lines.append("")
    for name, t in results["targets"].items():
        lines.append(f"- target {name}: **{t['value']}** — {'met' if t['met'] else 'MISSED'}")
    return "\n".join(lines)


def plot(results: dict[str, Any]) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(r["operation"] for r in results["rows"]))
    paths = [ROOT / "docs" / "api-latency.png", ROOT / "docs" / "api-throughput.png"]
    for path, metrics in zip(paths, (("p50_ms", "p95_ms", "p99_ms"), ("rps",)), strict=True):
        fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.8), squeeze=False)
        for ax, name in zip(axes[0], names, strict=True):
            rows = [r for r in results["rows"] if r["operation"] == name]
            for mode, style in (("in_process", "--"), ("http", "-")):
                for metric in metrics:
                    values = [r[mode][metric] for r in rows]
                    ax.plot(CLIENTS, values, style, marker="o", label=f"{mode} {metric}")
            ax.set_title(name, fontsize=8)
            ax.set_xlabel("clients")
            ax.set_xticks(CLIENTS)
            ax.set_ylabel("ms (log)" if metrics[0] != "rps" else "requests/s")
            if metrics[0] != "rps":
                ax.set_yscale("log")
            ax.grid(alpha=0.3)
        axes[0][0].legend(fontsize=7)
        fig.suptitle(f"HTTP API vs in-process, {results['rows_seeded']:,} customers", fontsize=10)
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)
    return paths


def write_doc(results: dict[str, Any], text: str) -> None:
    block = (
        f"{START}\n_{results['rows_seeded']:,} customers; {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; load average at the start {results['load_start']}, at the "
        f"end {results['load_end']}; {SECONDS:g} s per side and cell, in {ROUNDS} alternating "
        f"slices, after {WARMUP_S:g} s warm-up; the API in {results.get('api_workers', 1)} "
        f"uvicorn process(es); client CPU / req is the load "
        f"generator's (raw_http) CPU per HTTP request._\n\n"
        f"{text}\n{END}"
    )
    doc = DOC.read_text() if DOC.exists() else f"# HTTP API performance\n\n{START}\n{END}\n"
    before, _, rest = doc.partition(START)
    _, _, after = rest.partition(END)
    DOC.write_text(before + block + after)


@contextlib.contextmanager
def stack_running() -> Iterator[tuple[Stack, dict[str, Any]]]:
    """The servers (seeded) and the worker and API processes; yields them with the seed timings."""
    with ephemeral.database_url() as url, ephemeral.temporal_address() as address:
        seed = prepare_database(url)
        stack = Stack(url, address, Path(tempfile.mkdtemp(prefix="bench-api-")))
        try:
            stack.start()
            yield stack, seed
        finally:
            stack.stop()


def replot() -> None:
    """`--replot`: the document block and the plots again, from the last run's JSON."""
    results = json.loads(RESULTS.read_text())
    write_doc(results, table(results))
    for path in plot(results):
        log(f"wrote {path.relative_to(ROOT)}")


def main() -> None:
    if "--replot" in sys.argv:
        replot()
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    wall = time.perf_counter()
    load_start = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with stack_running() as (stack, seed):
        results: dict[str, Any] = uvloop.run(measure(stack))
    results["seed"] = seed
    results["rows_seeded"] = ROWS
    results["load_start"] = load_start
    results["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    results["wall_s"] = round(time.perf_counter() - wall, 1)
    results["targets"] = targets(results["rows"])
    text = table(results)
    print("\n" + text, flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n")
    write_doc(results, text)
    for path in plot(results):
        log(f"wrote {path.relative_to(ROOT)}")
    log(f"results: {RESULTS.relative_to(ROOT)}, {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
