"""Customer workflows on Temporal benchmark (`make bench-flows`).

One run:
  1. starts its own embedded PostgreSQL and Temporal dev server (`devstack.ephemeral`) in temp
     dirs on free ports (or uses DATABASE_URL / TEMPORAL_ADDRESS), migrates, seeds customers, and
     starts the worker as a separate process (`bench/bench_worker.py`: the product's worker plus a
     bare reference workflow), so its RSS and CPU can be measured;
  2. counts the activities each measured workflow runs (from a run's history) and runs the bare
     reference workflow with that many no-op activities, on the same server and worker, and
     beside it the same reference with a create's search attributes (`TAGGED`): how much of a
     gap those are;
  3. latency: trigger-to-result p50 / p95 over BENCH_RUNS (200) sequential runs of the reference,
     CreateCustomersWorkflow (one customer, one address), UpdateCustomersWorkflow (first_name of
     an existing customer) and LinkCustomersToCustomerGroupWorkflow (one customer into a group),
     each started through `CustomerFlows`, as the product starts runs; the workflows take turns
     in blocks of LATENCY_BLOCK runs, so a drift of the machine's speed (this is a VM: its p50s
     moved by half within minutes) falls on the reference and the workflows alike; each run
     split at its history's events (`flows_timeline`: start, dispatch, tasks, close, answer);
  4. throughput (runs/s) with 16 and 32 concurrent clients, BENCH_SECONDS (20) each, same four,
     in BENCH_ROUNDS (8) blocks per workflow taking turns, every other round in reverse (ABBA: a
     drift of the machine's speed, or a burst of the server's own work, falls on each workflow
     alike), each block counted after BLOCK_WARMUP_S of warm-up,
     with the CPU time each component (worker, Temporal, PostgreSQL) spent per run;
  5. worker RSS with BENCH_OPEN (1,000) runs open: UpdateCustomersWorkflow runs blocked in their
     first step on row locks the benchmark holds (then released; runs not finished 10 s later are
     terminated), then, on a fresh worker process, reference runs waiting for a signal;
  6. a profile of the worker (yappi) during an extra x32 phase of the create, the hooked create
     and their references, after the RSS phase (the profiler's statistics would stay in the
     worker's RSS);
  7. the HTTP API (`python -m api`, bench/flows_http.py): POST /admin/customers and the same
     create started in-process, latency and throughput as above, the two taking turns;
  8. eager start: the create and its reference started by a process that hosts the worker;
and prints a results table, also written to bench/results/bench_flows.json.

Environment: DATABASE_URL, TEMPORAL_ADDRESS (use those servers: the run adds ~35,000 customers,
named seed.* / bench.*, to that database); BENCH_RUNS, BENCH_WARMUP, BENCH_SECONDS,
BENCH_ROUNDS, BENCH_CLIENTS ("16,32"), BENCH_OPEN, BENCH_HTTP=0 / BENCH_EAGER=0 (leave out
phase 7 / 8). Levers, to measure one against the default:
BENCH_WORKER=inprocess (the worker in this process, sharing the client: eager workflow start
applies), BENCH_TEMPORAL_DB=memory (dev server state in memory, not a SQLite file),
BENCH_DYNAMIC_CONFIG / BENCH_SQLITE_PRAGMAS (extra dev server values, "key=value,..."),
BENCH_WORKER_OPTIONS (JSON `Worker` keyword arguments), BENCH_SANDBOX_PASSTHROUGH (modules the
workflow sandbox shares between runs), BENCH_PYC=1 (the worker's modules compiled to bytecode
ahead: with PYTHONDONTWRITEBYTECODE set, the sandbox otherwise compiles the workflow modules'
source for every run), and the product's own settings (e.g. DB_POOL_SIZE).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import bench_worker  # noqa: E402
import flows_http  # noqa: E402
import flows_profile  # noqa: E402
import flows_report  # noqa: E402
import flows_timeline  # noqa: E402
import psutil  # noqa: E402
from bench_worker import READY_LINE  # noqa: E402
from flows_report import TAGGED, parse_reference  # noqa: E402
from raw_http import RawClient  # noqa: E402
from reference_contracts import ReferenceInput  # noqa: E402
from reference_workflow import ReferenceWorkflow  # noqa: E402
from sqlalchemy import text  # noqa: E402
from stats import percentile, summary  # noqa: E402
from temporalio.api.enums.v1 import EventType  # noqa: E402
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle  # noqa: E402
from temporalio.service import RPCError  # noqa: E402

from customer_service import CustomerModuleService, create_engine, session_factory  # noqa: E402
from customer_service.migrate import upgrade_to_head  # noqa: E402
from devstack import ephemeral  # noqa: E402
from devstack.postgres import EmbeddedPostgres  # noqa: E402
from devstack.temporal import TemporalDevServer  # noqa: E402
from settings import Settings, normalise_database_url  # noqa: E402
from supervision import die_with_parent, stop_process  # noqa: E402
from triggers.base import RESULT_POLL, saga_attributes  # noqa: E402
from triggers.client import CustomerFlows  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "200"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "20"))
LATENCY_BLOCK = 10  # runs of one workflow before the next takes its turn
# Blocks per workflow and client count, in ABBA order. Many short blocks, not two long ones: under
# steady x32 load the dev server alone has bursts of 15-30 s, every 30-60 s, in which it spends
# ~25% more CPU and completes 20-30% fewer runs (a bare reference, 2026-12-01 16:00 UTC); with two
# 10 s blocks a burst fell on whichever workflow's block it met (x32 ratios 0.82-0.99 for the same
# code, three cycles in a row).
THROUGHPUT_ROUNDS = int(os.environ.get("BENCH_ROUNDS", "8"))
# A block's first second is not counted: its clients are running, but the runs completing then
# are the ramp-up of an empty pipeline, which a short block would otherwise weigh by its latency.
BLOCK_WARMUP_S = 1.0
# After the throughput blocks of workflows with an ordinary activity, idle seconds before the next
# blocks: the server's work they leave behind comes in bursts afterwards (a link block right after
# a hooked create's ran at 0.83-0.89 of its rate before it, 2026-12-01 11:28 UTC).
AFTER_ORDINARY_S = 20.0
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
CLIENTS = [int(c) for c in os.environ.get("BENCH_CLIENTS", "16,32").split(",")]
OPEN_RUNS = int(os.environ.get("BENCH_OPEN", "1000"))
TEMPORAL_DB = os.environ.get("BENCH_TEMPORAL_DB", "file")
DYNAMIC_CONFIG = [v for v in os.environ.get("BENCH_DYNAMIC_CONFIG", "").split(",") if v]
SQLITE_PRAGMAS = [v for v in os.environ.get("BENCH_SQLITE_PRAGMAS", "").split(",") if v]
IN_PROCESS = os.environ.get("BENCH_WORKER", "process") == "inprocess"
PYC = os.environ.get("BENCH_PYC") == "1"
SEED_CUSTOMERS = int(os.environ.get("BENCH_SEED", "30000"))  # link runs: a fresh one each
RESULTS = ROOT / "bench" / "results" / "bench_flows.json"

# Targets (issue 12), relative to bare references of the same shape on the same server and worker.
TARGET_P50_VS_REF = 1.2  # create / update / link: one workflow task, one local activity
TARGET_RPS_VS_REF = 0.85
TARGET_HOOKED_P50_VS_REF = 1.15  # with a hook handler: vs the bare two-activity reference
TARGET_HOOKED_RPS_VS_REF = 0.9
HOOKED_REFERENCE = "reference:2:1"
TARGET_CPU_VS_REF = 1.4
TARGET_RSS_MB = 250.0
TARGET_DRAIN_VS_NORMAL = 0.8
DRAIN_WAIT_S = float(os.environ.get("BENCH_DRAIN_WAIT", "180"))
EAGER = os.environ.get("BENCH_EAGER", "1") == "1"  # the eager-start phase at the end
HTTP = os.environ.get("BENCH_HTTP", "1") == "1"  # the HTTP API phase

WORKFLOWS = ("create", "update", "link", "create_hooked")
MINIMAL = ("create", "update", "link")  # no hook handler: the minimal durable shape
LABELS = {
    "create": "CreateCustomersWorkflow",
    "update": "UpdateCustomersWorkflow",
    "link": "LinkCustomersToCustomerGroupWorkflow",
    "create_hooked": "CreateCustomersWorkflow + hook handler",
}
# The HTTP phase: one customer from POST /admin/customers's fields, in-process and through the API.
HTTP_LABELS = {
    "create_plain": "CreateCustomersWorkflow, the route's fields, in-process (CustomerFlows)",
    "create_http": "POST /admin/customers through the HTTP API",
}


def log(message: str) -> None:
    print(message, flush=True)


# --- the stack ---------------------------------------------------------------------------------


class Stack:
    """PostgreSQL, Temporal and the worker process, with the pids whose CPU / RSS we measure."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="customer-flows-bench-flows-"))
        self.servers = contextlib.ExitStack()  # the throw-away servers this run started
        self.postgres: EmbeddedPostgres | None = None
        self.temporal: TemporalDevServer | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.api: flows_http.ApiProcess | None = None
        self.in_process = False  # the worker runs in this process (the eager-start phase)
        self.worker_log = self.root / "worker.log"
        self.task_queue = f"bench-flows-{uuid.uuid4().hex[:8]}"
        self.database_url = ""
        self.temporal_address = ""

    def start_servers(self) -> None:
        if os.environ.get("DATABASE_URL"):
            self.database_url = normalise_database_url(os.environ["DATABASE_URL"])
            log("PostgreSQL: DATABASE_URL")
        else:
            log("starting embedded PostgreSQL ...")
            self.postgres = self.servers.enter_context(ephemeral.postgres())
            self.database_url = self.postgres.url
        if os.environ.get("TEMPORAL_ADDRESS"):
            self.temporal_address = os.environ["TEMPORAL_ADDRESS"]
            log(f"Temporal: TEMPORAL_ADDRESS {self.temporal_address}")
        else:
            in_memory = TEMPORAL_DB != "file"
            log(
                f"starting Temporal dev server (state: {'in memory' if in_memory else 'SQLite file'}"
                f"{', dynamic config ' + ' '.join(DYNAMIC_CONFIG) if DYNAMIC_CONFIG else ''}) ..."
            )
            extra = [a for v in DYNAMIC_CONFIG for a in ("--dynamic-config-value", v)]
            extra += [a for v in SQLITE_PRAGMAS for a in ("--sqlite-pragma", v)]
            self.temporal = self.servers.enter_context(
                ephemeral.temporal(in_memory=in_memory, extra_args=extra)
            )
            self.temporal_address = self.temporal.address

    def start_worker(self, timeout: float = 90) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "TEMPORAL_ADDRESS": self.temporal_address,
            "TASK_QUEUE": self.task_queue,
            "HOOKS_MODULE": "bench_hooks",  # a no-op `customersCreated` handler
            flows_profile.OUT_ENV: os.environ[flows_profile.OUT_ENV],
        }
        if PYC:  # bytecode compiled ahead, kept outside the work tree; the sandbox loads it
            env["PYTHONPYCACHEPREFIX"] = str(self.root / "pycache")
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "compileall",
                    "-q",
                    "workflows",
                    "activities",
                    "customer_service",
                    "bench/bench_worker.py",
                ],
                cwd=ROOT,
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        out = self.worker_log.open("ab")
        self.worker = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "bench_worker.py")],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if READY_LINE in self.worker_log.read_text(errors="replace"):
                log(f"worker process {self.worker.pid} ready on task queue {self.task_queue}")
                return
            if self.worker.poll() is not None:
                break
            time.sleep(0.1)
        tail = self.worker_log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"the worker did not start:\n{tail}")

    def processes(self) -> dict[str, list[psutil.Process]]:
        """Our processes by component (PostgreSQL: the postmaster and its backends)."""
        out: dict[str, list[psutil.Process]] = {}
        if self.worker is not None:
            out["worker"] = [psutil.Process(self.worker.pid)]
        elif IN_PROCESS or self.in_process:
            out["worker"] = [psutil.Process()]  # the worker and the clients: one process
        if self.temporal is not None and self.temporal.pid is not None:
            out["temporal"] = [psutil.Process(self.temporal.pid)]
        if self.postgres is not None:
            pid_file = self.postgres.data_dir / "postmaster.pid"
            with contextlib.suppress(OSError, ValueError, psutil.Error):
                master = psutil.Process(int(pid_file.read_text().split()[0]))
                out["postgres"] = [master, *master.children(recursive=True)]
        if self.api is not None:
            out["api"] = self.api.processes()
        if not (IN_PROCESS or self.in_process):
            out["bench"] = [psutil.Process()]
        return out

    def worker_rss_mb(self) -> float:
        process = psutil.Process(self.worker.pid) if self.worker else psutil.Process()
        return float(process.memory_info().rss / 2**20)

    def restart_worker(self) -> None:
        """A fresh worker process (for a measurement that must not see the last one's memory)."""
        self.stop_worker()
        self.start_worker()

    def stop_worker(self) -> None:
        if self.worker is not None:
            stop_process(self.worker)

    def stop(self) -> None:
        if self.api is not None:
            self.api.stop()
        self.stop_worker()
        self.servers.close()
        shutil.rmtree(self.root, ignore_errors=True)


class CpuMeter:
    """CPU seconds used by each of our components, and by the whole machine, over a phase."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.start, self.start_machine, self.start_wall = self._sample()

    def _sample(self) -> tuple[dict[str, dict[int, float]], float, float]:
        """CPU seconds per component and pid (a PostgreSQL backend may come or go meanwhile),
        the machine's busy CPU seconds, and the time."""
        out: dict[str, dict[int, float]] = {}
        for name, procs in self.stack.processes().items():
            out[name] = {}
            for p in procs:
                with contextlib.suppress(psutil.Error):
                    t = p.cpu_times()
                    out[name][p.pid] = t.user + t.system
        machine = psutil.cpu_times()
        busy = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
        return out, busy, time.perf_counter()

    def stop(self, runs: int) -> dict[str, Any]:
        end, end_machine, end_wall = self._sample()
        wall = end_wall - self.start_wall
        ours = {
            name: sum(cpu - self.start.get(name, {}).get(pid, 0.0) for pid, cpu in pids.items())
            for name, pids in end.items()
        }
        busy = end_machine - self.start_machine
        return {
            "cpu_ms_per_run": {k: round(v * 1000 / max(runs, 1), 2) for k, v in ours.items()},
            "cores_used": {k: round(v / wall, 2) for k, v in ours.items()},
            "machine_cores_busy": round(busy / wall, 2),
            "others_cores_busy": round(max(busy - sum(ours.values()), 0.0) / wall, 2),
        }


# --- the workload ------------------------------------------------------------------------------


@dataclass
class Workload:
    flows: CustomerFlows  # runs list no hook point
    hooked: CustomerFlows  # runs list `customersCreated` (the bench worker has a no-op handler)
    client: Client
    recorder: flows_timeline.StartRecorder  # the ids of the runs `client` starts, when asked
    group_id: str
    customers: list[str]  # seeded, for update (one per client) and link (a fresh one per run)
    ref_activities: dict[str, int] = field(default_factory=dict)  # workflow -> activities
    _fresh: Iterator[str] = field(default_factory=lambda: iter(()))
    _counter: int = 0
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    http: RawClient | None = None  # logged in as an admin, in the HTTP phase

    def next_n(self) -> int:
        self._counter += 1
        return self._counter

    async def create(self, client_no: int, hooked: bool = False) -> Any:
        n = self.next_n()
        return await (self.hooked if hooked else self.flows).create_customers(
            [
                {
                    "first_name": "Bench",
                    "last_name": f"Create{n}",
                    "email": f"bench.{self.tag}.{n}@example.com",
                    "phone": f"+1555{n:07d}",
                    "addresses": [
                        {
                            "address_name": "home",
                            "first_name": "Bench",
                            "last_name": f"Create{n}",
                            "address_1": f"{n} Main Street",
                            "city": "Springfield",
                            "country_code": "us",
                            "postal_code": "12345",
                            "is_default_shipping": True,
                        }
                    ],
                }
            ]
        )

    async def update(self, client_no: int) -> Any:
        n = self.next_n()
        customer_id = self.customers[client_no % 64]
        return await self.flows.update_customers(customer_id, {"first_name": f"Updated{n}"})

    async def link(self, client_no: int) -> Any:
        customer_id = next(self._fresh, None)
        if customer_id is None:  # every seeded customer is a member: use a new group
            self.group_id = await create_group(self.flows, f"bench group {uuid.uuid4().hex[:8]}")
            self._fresh = iter(self.customers[64:])
            customer_id = next(self._fresh)
        return await self.flows.link_customers_to_group(self.group_id, add=[customer_id])

    async def reference(
        self, activities: int, hold: bool = False, local: int = 0, tagged: bool = False
    ) -> WorkflowHandle[Any, Any]:
        # The client's own start path (same options: id policies, summary, ...); `tagged`: with
        # a create's search attributes (see ReferenceInput.customer_id).
        customer_id: str | None = None
        attributes: Sequence[Any] = ()
        if tagged:
            n = self.next_n()
            customer_id = f"cus_bench{self.tag}{n}"
            attributes = saga_attributes([f"bench.{self.tag}.{n}@example.com"])
        return await self.flows._start(
            ReferenceWorkflow.run,
            ReferenceInput(activities=activities, hold=hold, local=local, customer_id=customer_id),
            "bench-reference",
            f"Reference: {activities} no-op activities, {local} of them local",
            None,
            attributes,
        )

    def op(self, name: str) -> Callable[[int], Awaitable[Any]]:
        if name.startswith("reference"):
            activities, local, tagged = parse_reference(name)

            async def run(client_no: int) -> Any:
                handle = await self.reference(activities, local=local, tagged=tagged)
                return await handle.result(rpc_timeout=RESULT_POLL)  # as CustomerFlows waits

            return run
        if name == "create_hooked":
            return lambda client_no: self.create(client_no, hooked=True)
        if name == "create_plain":
            return lambda client_no: self.flows.create_customers(
                [flows_http.customer_body(self.tag, self.next_n())]
            )
        if name == "create_http":
            http = self.http
            assert http is not None, "the HTTP phase logs in first"
            return lambda client_no: flows_http.post_customer(
                http, flows_http.customer_body(self.tag, self.next_n())
            )
        return {"create": self.create, "update": self.update, "link": self.link}[name]


async def create_group(flows: CustomerFlows, name: str) -> str:
    groups = await flows.create_groups([{"name": name}])
    return groups[0].id


async def seed_customers(database_url: str, count: int, tag: str) -> list[str]:
    """Customers for update / link runs, created in bulk through the service (not measured)."""
    engine = create_engine(database_url, pool_size=1)
    try:
        service = CustomerModuleService(session_factory(engine))
        ids: list[str] = []
        for start in range(0, count, 10_000):
            batch = [
                {"first_name": "Seed", "last_name": f"S{i}", "email": f"seed.{tag}.{i}@example.com"}
                for i in range(start, min(start + 10_000, count))
            ]
            ids += [c.id for c in await service.create_customers(batch)]
        return ids
    finally:
        await engine.dispose()


def reference_name(activities: int, local: int) -> str:
    """ "reference:<activities>:<how many of them, from the first, are local>"; with TAGGED
    after it, the same run with a create's search attributes."""
    return f"reference:{activities}:{local}"


async def activity_counts(client: Client, handle: WorkflowHandle[Any, Any]) -> dict[str, Any]:
    """The run's activities ("name" or "name (local)"), workflow tasks and history events."""
    activities: list[str] = []
    local = workflow_tasks = events = 0
    async for event in handle.fetch_history_events():
        events += 1
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            activities.append(event.activity_task_scheduled_event_attributes.activity_type.name)
        elif event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            marker = event.marker_recorded_event_attributes
            if marker.marker_name == "core_local_activity":
                data = json.loads(marker.details["data"].payloads[0].data)
                activities.append(f"{data['activity_type']} (local)")
                local += 1
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            workflow_tasks += 1
    return {
        "activities": activities,
        "local": local,
        "workflow_tasks": workflow_tasks,
        "history_events": events,
    }


async def first_run(w: Workload, name: str) -> WorkflowHandle[Any, Any]:
    """One run of `name` started through the client's `start_*` method, finished; its handle."""
    if name.startswith("reference"):
        activities, local, tagged = parse_reference(name)
        handle = await w.reference(activities, local=local, tagged=tagged)
    elif name in ("create", "create_hooked"):
        n = w.next_n()
        flows = w.hooked if name == "create_hooked" else w.flows
        handle = await flows.start_create_customers(
            [
                {
                    "first_name": "Bench",
                    "email": f"bench.{w.tag}.first{n}@example.com",
                    "addresses": [{"address_1": "1 Main Street", "country_code": "us"}],
                }
            ]
        )
    elif name == "update":
        handle = await w.flows.start_update_customers(w.customers[0], {"first_name": "First"})
    else:
        handle = await w.flows.start_link_customers_to_group(w.group_id, add=[next(w._fresh)])
    await handle.result()
    return handle


# --- phases ------------------------------------------------------------------------------------


async def latency(
    w: Workload, names: Sequence[str], split: bool = False
) -> dict[str, dict[str, Any]]:
    """RUNS sequential runs of each of `names`, taking turns in blocks of LATENCY_BLOCK;
    `split`: each one's time split at its history's events too (`flows_timeline`)."""
    for name in names:
        for _ in range(WARMUP):
            await w.op(name)(0)
    samples: dict[str, list[float]] = {name: [] for name in names}
    runs: dict[str, list[flows_timeline.Timed]] = {name: [] for name in names}
    for done in range(0, RUNS, LATENCY_BLOCK):
        for name in names:
            op = w.op(name)
            for _ in range(min(LATENCY_BLOCK, RUNS - done)):
                t0 = time.perf_counter()
                if split:
                    runs[name].append(await flows_timeline.timed(w.recorder, op(0)))
                else:
                    await op(0)
                samples[name].append(time.perf_counter() - t0)
        if (done // LATENCY_BLOCK + 1) % 5 == 0:
            so_far = "  ".join(f"{n} {percentile(samples[n], 50) * 1000:.1f}" for n in names)
            log(f"  {len(samples[names[0]]):>4}/{RUNS}  p50 so far (ms): {so_far}")
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        s = out[name] = summary(samples[name])
        s["samples_ms"] = [round(x * 1000, 3) for x in samples[name]]  # for the latency CDF
        parts = ""
        if split:
            s["parts_ms"] = await flows_timeline.parts(w.client, runs[name])
            parts = "  parts (ms): " + " ".join(
                f"{k} {s['parts_ms'][k]:.2f}" for k in flows_timeline.PARTS
            )
        log(
            f"  {name:<14} p50 {s['p50_ms']:6.1f} ms  p95 {s['p95_ms']:6.1f} ms  "
            f"mean {s['mean_ms']:6.1f} ms{parts}"
        )
    return out


def activities_of(w: Workload, name: str) -> int:
    return parse_reference(name)[0] if name.startswith("reference") else w.ref_activities[name]


def by_shape(w: Workload, names: Sequence[str]) -> list[list[str]]:
    """`names` grouped by how many activities a run has, fewest first, each in its order."""
    groups: dict[int, list[str]] = {}
    for name in names:
        groups.setdefault(activities_of(w, name), []).append(name)
    return [groups[n] for n in sorted(groups)]


async def interleaved_throughput(
    w: Workload, names: Sequence[str], clients: int, stack: Stack
) -> dict[str, dict[str, Any]]:
    """Each of `names` for SECONDS at `clients`, in THROUGHPUT_ROUNDS blocks that take turns,
    every other round in reverse order (ABBA): a steady drift of the machine's speed falls on
    every workflow alike. The blocks of one workflow are merged."""
    blocks: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    seconds = SECONDS / THROUGHPUT_ROUNDS
    for round_no in range(THROUGHPUT_ROUNDS):
        for name in names if round_no % 2 == 0 else reversed(names):
            block = await throughput(name, w.op(name), clients, stack, seconds, BLOCK_WARMUP_S)
            blocks[name].append(block)
    out = {name: merge_blocks(parts) for name, parts in blocks.items()}
    for name, merged in out.items():
        log(
            f"  {name:<14} x{clients:<3} {merged['runs_per_s']:7.1f} runs/s over "
            f"{len(blocks[name])} blocks"
        )
    return out


def merge_blocks(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One workflow's throughput blocks as one phase: runs and seconds summed, latency over
    every sample, CPU per run as total CPU over total runs, cores as the blocks' mean."""
    runs = sum(p["runs"] for p in parts)
    seconds = sum(p["seconds"] for p in parts)
    samples = [x for p in parts for x in p.pop("_samples")]
    errors = [p["first_error"] for p in parts if p["first_error"]]
    cpu = [p["cpu"] for p in parts]
    per_run = {
        k: round(sum(p["cpu"]["cpu_ms_per_run"][k] * p["runs"] for p in parts) / max(runs, 1), 2)
        for k in cpu[0]["cpu_ms_per_run"]
    }

    def mean(values: list[float]) -> float:
        return round(sum(values) / len(values), 2)

    return {
        "clients": parts[0]["clients"],
        "seconds": seconds,
        "warmup_s": parts[0]["warmup_s"],
        "blocks": len(parts),
        "runs": runs,
        "runs_per_s": round(runs / seconds, 1),
        "drain_s": max(p["drain_s"] for p in parts),
        "latency": summary(samples) if samples else {},
        "max_ms": round(max(samples) * 1000, 1) if samples else None,
        "errors": sum(p["errors"] for p in parts),
        "first_error": errors[0] if errors else None,
        "cpu": {
            "cpu_ms_per_run": per_run,
            "cores_used": {
                k: mean([c["cores_used"][k] for c in cpu]) for k in cpu[0]["cores_used"]
            },
            "machine_cores_busy": mean([c["machine_cores_busy"] for c in cpu]),
            "others_cores_busy": mean([c["others_cores_busy"] for c in cpu]),
        },
    }


async def throughput(
    name: str,
    op: Callable[[int], Awaitable[Any]],
    clients: int,
    stack: Stack,
    seconds: float = SECONDS,
    warmup: float = 0.0,
) -> dict[str, Any]:
    """`clients` closed-loop clients running `op` for `warmup` + `seconds`: the runs completed in
    the last `seconds` (`_samples`: their latencies, for `merge_blocks`)."""
    samples: list[float] = []
    errors: list[str] = []
    start = time.perf_counter()
    counted_from = start + warmup
    deadline = counted_from + seconds
    before_window = 0  # runs completed in the warm-up

    async def client(no: int) -> None:
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            try:
                await op(no)
            except Exception as err:  # counted and reported: a run must not fail here
                errors.append(f"{type(err).__name__}: {err}")
                continue
            samples.append(time.perf_counter() - t0)

    async def progress() -> None:
        last, last_t = 0, start
        while True:
            await asyncio.sleep(5)
            now = time.perf_counter()
            done = len(samples)
            log(
                f"  {name:<14} x{clients:<3} {now - start:5.1f}s  {done:>6} runs  "
                f"{(done - last) / (now - last_t):6.1f} runs/s now"
            )
            last, last_t = done, now

    async def at_deadline() -> tuple[int, dict[str, Any]]:
        # Runs completed in the window, and the CPU spent in it; runs in flight at the deadline
        # finish afterwards (the drain) and are not counted.
        nonlocal before_window
        await asyncio.sleep(max(counted_from - time.perf_counter(), 0))
        before_window = len(samples)
        meter = CpuMeter(stack)
        await asyncio.sleep(max(deadline - time.perf_counter(), 0))
        done = len(samples) - before_window
        return done, meter.stop(done)

    ticker = asyncio.create_task(progress())
    window = asyncio.create_task(at_deadline())
    try:
        await asyncio.gather(*(client(i) for i in range(clients)))
    finally:
        ticker.cancel()
    in_window, cpu = await window
    drain = time.perf_counter() - deadline
    samples = samples[before_window:]
    out: dict[str, Any] = {
        "clients": clients,
        "seconds": seconds,
        "warmup_s": warmup,
        "runs": in_window,
        "runs_per_s": round(in_window / seconds, 1),
        "drain_s": round(drain, 2),
        "latency": summary(samples) if samples else {},
        "max_ms": round(max(samples) * 1000, 1) if samples else None,
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "cpu": cpu,
        "_samples": samples,
    }
    log(
        f"  {name:<14} x{clients:<3} {out['runs_per_s']:7.1f} runs/s  "
        f"(p50 {out['latency'].get('p50_ms', 0):.0f} ms, max {out['max_ms']} ms, "
        f"errors {len(errors)}; machine {cpu['machine_cores_busy']} cores busy, "
        f"others {cpu['others_cores_busy']})"
    )
    if errors:
        log(f"    first error: {errors[0]}")
    return out


async def gather_limited(coros: list[Awaitable[Any]], limit: int = 50) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(c: Awaitable[Any]) -> Any:
        async with gate:
            return await c

    return await asyncio.gather(*(one(c) for c in coros))


async def open_reference_runs(w: Workload, stack: Stack) -> dict[str, Any]:
    """OPEN_RUNS reference runs waiting for a signal; the worker's RSS; then the signal (they
    then finish at once: no activities after it)."""
    before = stack.worker_rss_mb()
    log(f"  starting {OPEN_RUNS} reference runs that wait for a signal ...")
    t0 = time.perf_counter()
    handles = await gather_limited([w.reference(0, hold=True) for _ in range(OPEN_RUNS)])
    # A query is answered by the worker from its cached run: all answered = all open there.
    held = await gather_limited([h.query(ReferenceWorkflow.held) for h in handles])
    assert all(held), "a reference run was released early"
    open_s = time.perf_counter() - t0
    await asyncio.sleep(1)
    open_rss = stack.worker_rss_mb()
    log(f"  {OPEN_RUNS} runs open: worker RSS {open_rss:.0f} MB (before {before:.0f} MB)")
    await gather_limited([h.signal(ReferenceWorkflow.release) for h in handles])
    results = await gather_limited([h.result() for h in handles], limit=200)
    assert all(r == 0 for r in results)
    after = stack.worker_rss_mb()
    log(f"  released: all completed; worker RSS {after:.0f} MB")
    return rss_phase(before, open_rss, after, open_s, len(results))


def rss_phase(
    before: float, open_rss: float, after: float, open_s: float, completed: int
) -> dict[str, Any]:
    """One RSS phase's figures, as the report reads them."""
    return {
        "open_runs": OPEN_RUNS,
        "rss_before_mb": round(before, 1),
        "rss_open_mb": round(open_rss, 1),
        "rss_after_mb": round(after, 1),
        "open_s": round(open_s, 1),
        "completed": completed,
    }


async def open_real_runs(w: Workload, stack: Stack, database_url: str) -> dict[str, Any]:
    """OPEN_RUNS UpdateCustomersWorkflow runs blocked in their first step (the benchmark holds
    row locks on their customers); the worker's RSS; then the locks go, and the backlog drains:
    the time until every run completed. Runs still open after DRAIN_WAIT_S are terminated (and
    counted: the target is that none is)."""
    targets = w.customers[-OPEN_RUNS:]
    before = stack.worker_rss_mb()
    engine = create_engine(database_url, pool_size=1)
    conn = await engine.connect()
    try:
        transaction = await conn.begin()
        await conn.execute(
            text("SELECT id FROM customer WHERE id = ANY(:ids) FOR UPDATE"), {"ids": targets}
        )
        log(f"  {OPEN_RUNS} customers locked; starting {OPEN_RUNS} update runs on them ...")
        t0 = time.perf_counter()
        handles = await gather_limited(
            [w.flows.start_update_customers(c, {"first_name": "Held"}) for c in targets]
        )

        async def in_first_step(h: WorkflowHandle[Any, Any]) -> bool:
            # A query waits for the run's open workflow task, and the first step is a local
            # activity inside it, blocked on the lock until its hand-over: with 1,000 of them
            # queued for the worker's slots, a query can outlast its RPC deadline. Ask again.
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                with contextlib.suppress(RPCError):
                    progress = await h.query("progress", rpc_timeout=datetime.timedelta(seconds=30))
                    if progress["steps"]:
                        return True
                await asyncio.sleep(0.1)
            return False

        blocked = await gather_limited([in_first_step(h) for h in handles])
        assert all(blocked), "an update run did not reach its first step"
        open_s = time.perf_counter() - t0
        await asyncio.sleep(1)
        open_rss = stack.worker_rss_mb()
        log(
            f"  {OPEN_RUNS} runs open, blocked in update_customers: worker RSS {open_rss:.0f} MB "
            f"(before {before:.0f} MB; all open after {open_s:.1f}s)"
        )
        await transaction.rollback()
    finally:
        await conn.close()
        await engine.dispose()
    t1 = time.perf_counter()
    done = asyncio.gather(*(h.result() for h in handles))
    try:
        await asyncio.wait_for(asyncio.shield(done), DRAIN_WAIT_S)
        completed = OPEN_RUNS
    except TimeoutError:
        completed = sum(await gather_limited([_closed(h) for h in handles]))
        await gather_limited([_terminate(h) for h in handles])
        done.cancel()
        with contextlib.suppress(BaseException):
            await done
    drain_s = time.perf_counter() - t1
    after = stack.worker_rss_mb()
    log(
        f"  released: {completed} completed in {drain_s:.1f}s"
        f"{'' if completed == OPEN_RUNS else f', {OPEN_RUNS - completed} terminated'}; "
        f"worker RSS {after:.0f} MB"
    )
    out = rss_phase(before, open_rss, after, open_s, completed)
    out["drain_s"] = round(drain_s, 1)
    out["drain_runs_per_s"] = round(completed / drain_s, 1) if drain_s else 0.0
    return out


async def _closed(handle: WorkflowHandle[Any, Any]) -> bool:
    description = await handle.describe()
    return description.status is not None and description.status != WorkflowExecutionStatus.RUNNING


async def _terminate(handle: WorkflowHandle[Any, Any]) -> None:
    with contextlib.suppress(Exception):  # already finished
        await handle.terminate("bench_flows: RSS phase over")


# --- the benchmark -----------------------------------------------------------------------------


async def run_benchmarks(stack: Stack) -> dict[str, Any]:
    settings = Settings(
        database_url=stack.database_url,
        temporal_address=stack.temporal_address,
        task_queue=stack.task_queue,
    )
    client, recorder = flows_timeline.recording_client(
        await ephemeral.connect_when_ready(stack.temporal_address, settings)
    )
    if not IN_PROCESS:
        results = await run_phases(stack, settings, client, recorder)
        if HTTP:
            results["http"] = await http_phase(stack, results["_workload"])
        if EAGER:
            results["eager"] = await eager_phase(stack, settings, client, results)
        return results
    # The worker shares this process and its client: eager workflow start applies.
    worker, engine = await bench_worker.build(settings, client)
    try:
        async with worker:
            log(f"in-process worker ready on task queue {stack.task_queue}")
            return await run_phases(stack, settings, client, recorder)
    finally:
        await engine.dispose()


def workload(
    settings: Settings, client: Client, tag: str, recorder: flows_timeline.StartRecorder
) -> Workload:
    flows = CustomerFlows(client, settings, hooks=[])
    hooked = CustomerFlows(client, settings, hooks=["customersCreated"])
    return Workload(flows, hooked, client, recorder, "", [], tag=tag)


async def run_phases(
    stack: Stack, settings: Settings, client: Client, recorder: flows_timeline.StartRecorder
) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:6]
    w = workload(settings, client, tag, recorder)
    log(f"seeding {SEED_CUSTOMERS:,} customers and a group ...")
    w.customers = await seed_customers(stack.database_url, SEED_CUSTOMERS, tag)
    w.group_id = await create_group(w.flows, f"bench group {tag}")
    # Link runs use customers after the first 64 (the update clients') and before the last
    # OPEN_RUNS (the RSS phase's).
    w._fresh = iter(w.customers[64 : len(w.customers) - OPEN_RUNS])

    log("counting the activities of each workflow (from a run's history) ...")
    histories: dict[str, Any] = {}
    same_shape: dict[str, str] = {}  # workflow → the reference with its activities, as many local
    for name in WORKFLOWS:
        h = histories[name] = await activity_counts(client, await first_run(w, name))
        w.ref_activities[name] = len(h["activities"])
        same_shape[name] = reference_name(len(h["activities"]), h["local"])
        log(f"  {LABELS[name]}: {histories[name]}")
    bare = {*same_shape.values(), HOOKED_REFERENCE}
    ref_names = sorted({*bare, *(ref + TAGGED for ref in bare)})
    for ref in ref_names:
        histories[ref] = await activity_counts(client, await first_run(w, ref))
        log(f"  {ref}: {histories[ref]}")

    # The references first, then the real workflows right after them, in every phase.
    names = [*ref_names, *WORKFLOWS]
    log(f"latency: {WARMUP} warm-up + {RUNS} sequential runs each, {LATENCY_BLOCK} at a time")
    lat = await latency(w, names, split=True)

    thr: dict[str, dict[str, Any]] = {name: {} for name in names}
    for clients in CLIENTS:
        log(
            f"throughput: {clients} concurrent clients, {SECONDS:g}s per workflow in "
            f"{THROUGHPUT_ROUNDS} blocks taking turns"
        )
        for group in by_shape(w, names):  # one shape's workflows take turns among themselves
            for name, phase in (await interleaved_throughput(w, group, clients, stack)).items():
                thr[name][str(clients)] = phase
            if activities_of(w, group[0]) > 1:
                log(f"  {AFTER_ORDINARY_S:g}s idle: what these blocks left to the server")
                await asyncio.sleep(AFTER_ORDINARY_S)
    log(f"worker RSS with {OPEN_RUNS} runs open: real runs, on the worker as the phases left it")
    if IN_PROCESS:  # no fresh process to be had: the reference first, on the same one
        rss_reference = await open_reference_runs(w, stack)
    rss_real = await open_real_runs(w, stack, stack.database_url)
    # After the RSS phase: the profiler's own memory (tens of MB: its statistics per function
    # and thread) stays in the worker's RSS once it has run.
    profile: dict[str, Any] = {}
    profiled = [("create", same_shape["create"]), ("create_hooked", HOOKED_REFERENCE)]
    if stack.worker is not None:
        for name in (n for pair in profiled for n in reversed(pair)):
            log(f"profile: {name} at x{CLIENTS[-1]}, the worker profiled (not counted above)")
            recording = asyncio.create_task(flows_profile.record(stack.worker.pid, SECONDS / 2))
            await throughput(name, w.op(name), CLIENTS[-1], stack)
            profile[name] = await recording
    if not IN_PROCESS:
        log("  a fresh worker process for the reference runs (RSS is not given back to the OS)")
        await asyncio.to_thread(stack.restart_worker)
        for _ in range(WARMUP):
            await w.op(ref_names[0])(0)
        rss_reference = await open_reference_runs(w, stack)
    return {
        "histories": histories,
        "reference_for": same_shape,
        "latency": lat,
        "throughput": thr,
        "rss": {"update_blocked": rss_real, "reference_held": rss_reference},
        "profile": profile,
        "profiled": profiled,
        "_workload": w,
    }


async def http_phase(stack: Stack, w: Workload) -> dict[str, Any]:
    """POST /admin/customers through the API and the same create in-process, taking turns in
    the latency and throughput phases, as the workflows do above."""
    names = list(HTTP_LABELS)
    log("HTTP API: starting `python -m api` on the bench's servers and task queue ...")
    api = stack.api = flows_http.ApiProcess(
        stack.database_url, stack.temporal_address, stack.task_queue, stack.root / "api.log"
    )
    try:
        await api.wait_ready()
        w.http, _ = await flows_http.admin_client(api, stack.database_url, w.tag)
        log(f"  API ready ({api.workers} uvicorn processes), admin logged in")
        out: dict[str, Any] = {
            "api_workers": api.workers,
            "labels": HTTP_LABELS,
            "throughput": {n: {} for n in names},
        }
        out["latency"] = await latency(w, names)
        for clients in CLIENTS:
            for name, phase in (await interleaved_throughput(w, names, clients, stack)).items():
                out["throughput"][name][str(clients)] = phase
        return out
    finally:
        if w.http is not None:
            await w.http.aclose()
        api.stop()
        stack.api = None


async def eager_phase(
    stack: Stack, settings: Settings, client: Client, results: dict[str, Any]
) -> dict[str, Any]:
    """The same create and its same-shape reference, started by a process that hosts the worker
    (the worker process stopped): the start request returns the run's first workflow task, which
    runs without the task queue round trip (eager workflow start)."""
    w: Workload = results["_workload"]
    names = [results["reference_for"]["create"], "create"]
    log("eager start: the worker in the starting process (worker process stopped)")
    await asyncio.to_thread(stack.stop_worker)
    stack.worker = None
    stack.in_process = True
    worker, engine = await bench_worker.build(settings, client)
    out: dict[str, Any] = {"latency": {}, "throughput": {n: {} for n in names}}
    try:
        async with worker:
            handle = await w.reference(1, local=1)
            await handle.result()
            out["applied"] = bool(getattr(handle, "__temporal_eagerly_started", False))
            log(f"  eager start applied: {out['applied']}")
            out["latency"] = await latency(w, names)
            for clients in CLIENTS:
                phases = await interleaved_throughput(w, names, clients, stack)
                for name, phase in phases.items():
                    out["throughput"][name][str(clients)] = phase
    finally:
        await engine.dispose()
    return out


def _ratio(value: float, reference: float) -> float:
    return value / reference if reference else float("inf")


def _times(ratio: float, bound: float) -> str:
    """`ratio` as "1.23x"; with three decimals when two would round it onto the bound."""
    text = f"{ratio:.2f}"
    if float(text) == bound and ratio != bound:
        text = f"{ratio:.3f}"
    return f"{text}x"


def targets(results: dict[str, Any]) -> dict[str, Any]:
    """Each target of issue 12: its measured value, the bound, met or not."""
    out: dict[str, Any] = {}
    lat, thr = results["latency"], results["throughput"]
    last = str(CLIENTS[-1])

    def add(name: str, value: float, bound: float, at_most: bool, text: str) -> None:
        met = value <= bound if at_most else value >= bound
        out[name] = {"value": text, "ratio": round(value, 3), "bound": bound, "met": met}

    for name in WORKFLOWS:
        hooked = name not in MINIMAL
        ref = HOOKED_REFERENCE if hooked else results["reference_for"][name]
        p50_bound = TARGET_HOOKED_P50_VS_REF if hooked else TARGET_P50_VS_REF
        rps_bound = TARGET_HOOKED_RPS_VS_REF if hooked else TARGET_RPS_VS_REF
        p50 = _ratio(lat[name]["p50_ms"], lat[ref]["p50_ms"])
        add(f"{name} p50 <= {p50_bound:g}x {ref}", p50, p50_bound, True,
            f"{lat[name]['p50_ms']:.1f}/{lat[ref]['p50_ms']:.1f} ms = {_times(p50, p50_bound)}")  # fmt: skip
        for c in CLIENTS:
            ours, theirs = thr[name][str(c)]["runs_per_s"], thr[ref][str(c)]["runs_per_s"]
            r = _ratio(ours, theirs)
            add(f"{name} runs/s x{c} >= {rps_bound:g}x {ref}", r, rps_bound, False,
                f"{ours:.1f}/{theirs:.1f} = {_times(r, rps_bound)}")  # fmt: skip
        same = results["reference_for"][name]
        ours_cpu = thr[name][last]["cpu"]["cpu_ms_per_run"].get("worker", 0.0)
        ref_cpu = thr[same][last]["cpu"]["cpu_ms_per_run"].get("worker", 0.0)
        r = _ratio(ours_cpu, ref_cpu)
        add(f"{name} worker CPU/run <= {TARGET_CPU_VS_REF:g}x {same}", r, TARGET_CPU_VS_REF, True,
            f"{ours_cpu:.1f}/{ref_cpu:.1f} ms = {_times(r, TARGET_CPU_VS_REF)}")  # fmt: skip
    real = results["rss"]["update_blocked"]
    add(f"worker RSS <= {TARGET_RSS_MB:g} MB, {OPEN_RUNS} real runs open", real["rss_open_mb"],
        TARGET_RSS_MB, True, f"{real['rss_open_mb']:.0f} MB")  # fmt: skip
    add(f"{OPEN_RUNS} blocked runs released: all complete", real["completed"], OPEN_RUNS, False,
        f"{real['completed']}/{OPEN_RUNS}")  # fmt: skip
    normal = thr["update"][last]["runs_per_s"]
    drain = real.get("drain_runs_per_s", 0.0)
    r = _ratio(drain, normal)
    add(f"backlog drains >= {TARGET_DRAIN_VS_NORMAL:g}x update runs/s x{last}", r,
        TARGET_DRAIN_VS_NORMAL, False, f"{drain:.1f}/{normal:.1f} = {_times(r, TARGET_DRAIN_VS_NORMAL)}")  # fmt: skip
    return out


def levers() -> list[str]:
    """The non-default settings of this run (environment), for the report."""
    names = (
        "BENCH_WORKER",
        "BENCH_PYC",
        "BENCH_TEMPORAL_DB",
        "BENCH_DYNAMIC_CONFIG",
        "BENCH_SQLITE_PRAGMAS",
        "BENCH_WORKER_OPTIONS",
        "BENCH_SANDBOX_PASSTHROUGH",
        "DB_POOL_SIZE",
    )
    return [f"{n}={os.environ[n]}" for n in names if os.environ.get(n)]


def report(results: dict[str, Any]) -> str:
    width = 116
    lines = ["=" * width]
    lines.append(
        f"Customer workflows on Temporal — {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, temporalio {results['temporalio']}, Temporal dev server "
        f"({results['temporal_db']}), worker {'in process' if IN_PROCESS else 'in its own process'}"
    )
    lines.append(
        f"bench wall time {results['wall_s']}s; settings: {' '.join(results['levers']) or 'defaults'}"
    )
    lines.append("-" * width)
    head = f"{'workflow':<38}{'acts':>5}{'p50':>9}{'p95':>9}{'mean':>9}"
    for c in CLIENTS:
        head += f"{f'x{c} runs/s':>12}{f'x{c} p50':>10}"
    head += f"{'CPU ms/run w/T/pg':>20}"
    lines.append(head)
    for name, lat in results["latency"].items():
        if name in LABELS:
            label = LABELS[name]
        else:
            activities, local, tagged = parse_reference(name)
            label = f"reference ({activities} no-op, {local} local{', tagged' if tagged else ''})"
        acts = len(results["histories"][name]["activities"])
        row = f"{label:<38}{acts:>5}{lat['p50_ms']:>7.1f}ms{lat['p95_ms']:>7.1f}ms{lat['mean_ms']:>7.1f}ms"
        for c in CLIENTS:
            t = results["throughput"][name][str(c)]
            row += f"{t['runs_per_s']:>12.1f}{t['latency'].get('p50_ms', 0):>8.0f}ms"
        cpu = results["throughput"][name][str(CLIENTS[-1])]["cpu"]["cpu_ms_per_run"]
        cpu_text = (
            f"{cpu.get('worker', 0):.1f}/{cpu.get('temporal', 0):.1f}/{cpu.get('postgres', 0):.1f}"
        )
        lines.append(row + f"{cpu_text:>20}")
    lines.append(
        "  latency: trigger (CustomerFlows) to result, sequential; throughput: runs completed per"
        " second with N concurrent clients"
    )
    lines.append(
        f"  CPU ms/run: worker / Temporal / PostgreSQL CPU time per run at x{CLIENTS[-1]}"
        + (" (worker: the whole bench process)" if IN_PROCESS else "")
    )
    for name in WORKFLOWS:
        h = results["histories"][name]
        lines.append(
            f"  {LABELS[name]}: activities {', '.join(h['activities'])}; "
            f"{h['workflow_tasks']} workflow tasks, {h['history_events']} history events"
        )
    lines += http_lines(results.get("http"))
    busy = [
        t["cpu"]["others_cores_busy"]
        for per in results["throughput"].values()
        for t in per.values()
    ]
    lines.append(
        f"  other processes on the machine during throughput phases: {min(busy):.2f}-"
        f"{max(busy):.2f} cores busy"
    )
    lines.append("-" * width)
    real, ref = results["rss"]["update_blocked"], results["rss"]["reference_held"]
    lines.append(
        f"worker RSS, {real['open_runs']} UpdateCustomersWorkflow runs open (blocked on row locks): "
        f"{real['rss_open_mb']:.0f} MB (before {real['rss_before_mb']:.0f} MB: "
        f"{(real['rss_open_mb'] - real['rss_before_mb']) * 1024 / real['open_runs']:+.0f} KB/run;"
        f" all open after {real['open_s']}s; {real['completed']} completed "
        f"{real.get('drain_s', 0)}s after the release: {real.get('drain_runs_per_s', 0)} runs/s)"
    )
    lines.append(
        f"worker RSS, {ref['open_runs']} reference runs open (waiting for a signal"
        f"{'; before the real ones' if IN_PROCESS else '; fresh worker'}): "
        f"{ref['rss_open_mb']:.0f} MB (before "
        f"{ref['rss_before_mb']:.0f} MB: "
        f"{(ref['rss_open_mb'] - ref['rss_before_mb']) * 1024 / ref['open_runs']:+.0f} KB/run)"
    )
    lines.append("-" * width)
    for name, t in results["targets"].items():
        lines.append(f"target {name:<56} {t['value']:>10}  {'MET' if t['met'] else 'MISSED'}")
    lines.append("=" * width)
    return "\n".join(lines)


def http_lines(http: dict[str, Any] | None) -> list[str]:
    """The HTTP phase's rows: p50, p95, runs/s per client count, CPU per run incl. the API's."""
    if not http:
        return []
    lines = [f"HTTP API phase ({http['api_workers']} uvicorn processes), taking turns:"]
    for name, label in HTTP_LABELS.items():
        lat, per = http["latency"][name], http["throughput"][name]
        cpu = per[str(CLIENTS[-1])]["cpu"]["cpu_ms_per_run"]
        lines.append(
            f"  {label:<72} p50 {lat['p50_ms']:6.1f} ms  p95 {lat['p95_ms']:6.1f} ms  "
            + "  ".join(f"x{c} {per[str(c)]['runs_per_s']:6.1f}/s" for c in CLIENTS)
            + f"  CPU ms/run w/T/pg/api {cpu.get('worker', 0):.1f}/{cpu.get('temporal', 0):.1f}"
            f"/{cpu.get('postgres', 0):.1f}/{cpu.get('api', 0):.1f}"
        )
    return lines


def main() -> None:
    import signal

    import temporalio

    # A SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so the servers below are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    wall = time.perf_counter()
    load_before = os.getloadavg()
    stack = Stack()
    os.environ.setdefault(flows_profile.OUT_ENV, str(stack.root / "profile.json"))
    try:
        stack.start_servers()
        log("migrating ...")
        upgrade_to_head(stack.database_url)
        if not IN_PROCESS:
            stack.start_worker()
        results: dict[str, Any] = asyncio.run(run_benchmarks(stack))
        if not IN_PROCESS:
            results["worker_log_tail"] = stack.worker_log.read_text(errors="replace")[-2000:]
    finally:
        stack.stop()
    results["wall_s"] = round(time.perf_counter() - wall, 1)
    results["temporalio"] = temporalio.__version__
    results["temporal_db"] = (
        "external" if os.environ.get("TEMPORAL_ADDRESS") else f"state {TEMPORAL_DB}"
    )
    results["levers"] = levers()
    results.pop("_workload", None)
    results["targets"] = targets(results)
    results["load_before"] = load_before
    results["load_after"] = os.getloadavg()
    results["finished_at"] = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    table = report(results)
    print("\n" + table, flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    results["table"] = table.splitlines()
    RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n")
    if os.environ.get("BENCH_DOCS", "1") == "1":
        written = flows_report.write(results, CLIENTS, LABELS)
        print(f"report written to {written.relative_to(ROOT)}")
    print(
        f"results written to {RESULTS.relative_to(ROOT) if RESULTS.is_relative_to(ROOT) else RESULTS}"
    )


if __name__ == "__main__":
    main()
