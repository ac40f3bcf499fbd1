"""`make dev` supervises its worker, tried for real: the dev stack (`python -m devstack`) in a temp
DATA_DIR on free ports, its worker killed with SIGKILL (the whole worker, which the stack starts
again; or only its serving process, which the worker's own supervising process forks again), then
the next CLI call; and a worker that cannot start, which must end the stack with a message rather
than restart forever."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.e2e.test_dev_stack import Stack
from tests.helpers import wait_until


def worker_pids(stack: Stack) -> list[int]:
    """The stack's worker processes: `worker.py`'s supervising process (its serving process, a
    fork, is its child)."""
    assert stack.process is not None
    children = psutil.Process(stack.process.pid).children()
    return [p.pid for p in children if any(part.endswith("worker.py") for part in p.cmdline())]


def serving_pids(stack: Stack) -> list[int]:
    return [c.pid for pid in worker_pids(stack) for c in psutil.Process(pid).children()]


@pytest.fixture
def root() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="customer-flows-e2e-worker-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_a_killed_worker_is_restarted_and_the_next_cli_call_succeeds(root: Path) -> None:
    stack = Stack(root)
    stack.start()
    try:
        wait_until(lambda: len(worker_pids(stack)) == 1, "the worker did not start", within=60)
        [first] = worker_pids(stack)
        assert (
            stack.cli("create", "--email", f"a.{uuid.uuid4().hex[:6]}@example.com").returncode == 0
        )

        os.kill(first, signal.SIGKILL)
        wait_until(
            lambda: "the worker exited (killed by SIGKILL); restarting it" in stack.output(),
            f"no restart logged:\n{stack.output()[-2000:]}",
            within=60,
        )
        email = f"b.{uuid.uuid4().hex[:6]}@example.com"
        created = stack.cli("create", "--email", email, "--first-name", "Bea")
        assert created.returncode == 0, created.stderr
        assert email in created.stdout
        assert stack.process is not None and stack.process.poll() is None  # the stack stayed up
        [second] = worker_pids(stack)
        assert second != first
    finally:
        code = stack.stop()
    assert code == 0  # Ctrl-C still stops everything cleanly after a restart
    stopped = "stopped: codec server, HTTP API, worker, Temporal dev server, PostgreSQL"
    assert stopped in stack.output()
    assert psutil.pid_exists(second) is False or psutil.Process(second).status() == "zombie"


def test_a_killed_serving_process_is_replaced_by_the_worker_itself(root: Path) -> None:
    stack = Stack(root)
    stack.start()
    try:
        log_path = root / "data" / "worker.log"
        wait_until(
            lambda: len(serving_pids(stack)) == 1 and "worker serving" in log_path.read_text(),
            "the worker did not start serving",
            within=60,
        )
        [supervising] = worker_pids(stack)
        [first] = serving_pids(stack)
        os.kill(first, signal.SIGKILL)
        email = f"c.{uuid.uuid4().hex[:6]}@example.com"
        created = stack.cli("create", "--email", email)
        assert created.returncode == 0, created.stderr
        assert email in created.stdout
        [second] = serving_pids(stack)
        assert second != first
        assert worker_pids(stack) == [supervising]  # the stack had nothing to restart
        log = log_path.read_text()
        assert f"the serving process {first} exited (killed by SIGKILL)" in log
        assert "the worker exited" not in stack.output()
    finally:
        assert stack.stop() == 0


def test_a_worker_crashing_at_start_up_ends_the_stack_with_a_message(root: Path) -> None:
    stack = Stack(root)
    stack.env["SUBSCRIBERS_MODULE"] = "tests.e2e.no_such_module"  # only the worker loads it
    stack.start()
    assert stack.process is not None
    code = stack.process.wait(120)
    out = stack.output()
    assert code == 1, out[-3000:]
    assert "the worker crashed at start-up 4 times in a row (last: exit status 1)" in out
    assert "No module named 'tests.e2e.no_such_module'" in out  # the log's tail is shown
    assert out.count("the worker exited (exit status 1); restarting it") == 3
    assert "stopped: codec server, HTTP API, worker, Temporal dev server, PostgreSQL" in out
    assert not (root / "data" / "dev-stack.json").exists()
