"""Where the worker's CPU goes: a profile of the bench worker process.

The worker (`bench_worker.py`) starts yappi (CPU clock, every thread: the workflow tasks run in
a thread pool, the activities on the event loop) when sent SIGUSR1; SIGUSR2 stops it and writes
each function's own CPU time, summed by component (the workflow sandbox, the rest of the Temporal
SDK, SQLAlchemy, psycopg, pydantic, our modules, asyncio, ...), as JSON. The profiler slows the
worker down; the shares are what the report uses. The SDK's Rust core is not seen.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections import Counter
from pathlib import Path
from typing import Any

OUT_ENV = "BENCH_PROFILE_OUT"

COMPONENTS = (  # (path fragment, component): the first that matches a function's file
    ("temporalio/worker/workflow_sandbox", "workflow sandbox (imports, restrictions)"),
    ("temporalio/worker/_workflow_instance", "Temporal SDK: workflow instance"),
    ("temporalio/converter", "Temporal SDK: payload conversion"),
    ("temporalio/", "Temporal SDK: other"),
    ("google/protobuf", "protobuf"),
    ("sqlalchemy/", "SQLAlchemy"),
    ("psycopg", "psycopg"),
    ("pydantic", "pydantic"),
    ("/customer_service/", "customer_service"),
    ("/activities/", "activities"),
    ("/workflows/", "workflows"),
    ("/codec/", "codec"),
    ("asyncio/", "asyncio"),
    ("importlib", "imports"),
    ("<frozen", "imports"),
)


def component(path: str) -> str:
    path = path.replace("\\", "/")
    for fragment, name in COMPONENTS:
        if fragment in path:
            return name
    return "other"


def install() -> None:
    """In the worker process: SIGUSR1 starts profiling, SIGUSR2 writes BENCH_PROFILE_OUT."""
    out = os.environ.get(OUT_ENV)
    if not out:
        return
    try:
        import yappi
    except ImportError:  # no profile, the rest of the bench still runs
        return

    def start(*_: Any) -> None:
        yappi.clear_stats()
        yappi.set_clock_type("cpu")
        yappi.start(builtins=True, profile_threads=True)

    def stop(*_: Any) -> None:
        yappi.stop()
        seconds: Counter[str] = Counter()
        builtins: Counter[str] = Counter()  # C functions: counted for the component calling them
        for stat in yappi.get_func_stats():
            if stat.builtin:
                builtins[stat.name] += stat.tsub
                continue
            where = component(stat.module)
            seconds[where] += stat.tsub
            for child in stat.children:
                if child.builtin:
                    seconds[where] += child.ttot
                    builtins[child.name] -= child.ttot
        seconds["C functions called from elsewhere"] += max(sum(builtins.values()), 0.0)
        Path(out).write_text(json.dumps({"cpu_s": dict(seconds)}))

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)


async def record(pid: int, seconds: float) -> dict[str, Any]:
    """From the bench: profile worker `pid` for `seconds`; its busy samples by component."""
    out = Path(os.environ[OUT_ENV])
    await asyncio.to_thread(out.unlink, missing_ok=True)
    os.kill(pid, signal.SIGUSR1)
    await asyncio.sleep(seconds)
    os.kill(pid, signal.SIGUSR2)
    for _ in range(100):
        data = await asyncio.to_thread(_read, out)
        if data is not None:
            total = sum(data["cpu_s"].values()) or 1.0
            data["share"] = {
                k: round(v / total, 3)
                for k, v in sorted(data["cpu_s"].items(), key=lambda kv: -kv[1])
            }
            return data
        await asyncio.sleep(0.1)
    return {"cpu_s": {}, "share": {}}


def _read(path: Path) -> dict[str, Any] | None:
    if not path.exists() or not path.stat().st_size:
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data
