"""`supervision.serve_restarting`, with real processes: a toy `serve` in a child interpreter (the
supervisor forks, and pytest's own process must not), driven by signals as the worker would be."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil

from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parents[1]

# Each serving process appends its pid to PIDS, then serves (reports ready, appends "ready")
# unless FAIL_AT_START says it should die first, or it is one of the first CRASH_WHEN_READY ones,
# which die right after reporting ready; on SIGTERM it appends "drained" and exits 0.
TOY = textwrap.dedent(
    """
    import logging, os, signal, sys, time
    from pathlib import Path
    from supervision import serve_restarting

    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
    pids = Path(os.environ["PIDS"])

    def serve(ready):
        with pids.open("a") as f:
            f.write(f"{os.getpid()}\\n")
        if os.environ.get("FAIL_AT_START"):
            return 3
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        ready()
        if len(pids.read_text().split()) <= int(os.environ.get("CRASH_WHEN_READY", "0")):
            os._exit(5)
        with pids.open("a") as f:
            f.write("ready\\n")
        while not stop:
            time.sleep(0.01)
        with pids.open("a") as f:
            f.write("drained\\n")
        return 0

    sys.exit(serve_restarting(serve, restart_delay=0.2))
    """
)


def start(tmp_path: Path, **env: str) -> tuple[subprocess.Popen[str], Path]:
    pids = tmp_path / "pids"
    process = subprocess.Popen(
        [sys.executable, "-c", TOY],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PIDS": str(pids), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, pids


def lines(pids: Path) -> list[str]:
    return pids.read_text().split() if pids.exists() else []


def serving(process: subprocess.Popen[str]) -> list[int]:
    return [c.pid for c in psutil.Process(process.pid).children()]


def test_a_killed_serving_process_is_forked_again_and_sigterm_drains_the_new_one(
    tmp_path: Path,
) -> None:
    process, pids = start(tmp_path)
    try:
        wait_until(lambda: lines(pids).count("ready") == 1, "no first serve")
        [first] = serving(process)
        os.kill(first, signal.SIGKILL)
        wait_until(
            lambda: lines(pids).count("ready") == 2, "the killed serving process was not replaced"
        )
        [second] = serving(process)
        assert second != first and lines(pids)[2:] == [str(second), "ready"]

        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 0, out
    assert lines(pids)[-1] == "drained"  # the parent passed SIGTERM on and waited for the drain
    assert f"the serving process {first} exited (killed by SIGKILL); starting another" in out


def test_a_process_that_dies_before_serving_is_not_restarted(tmp_path: Path) -> None:
    process, pids = start(tmp_path, FAIL_AT_START="1")
    out, _ = process.communicate(timeout=20)
    assert process.returncode == 3, out  # its own status, for make dev / compose to act on
    assert len(lines(pids)) == 1
    assert "failed at start-up (exit status 3); not restarting it" in out


def test_serving_processes_that_crash_at_once_are_restarted_ever_more_slowly(
    tmp_path: Path,
) -> None:
    process, pids = start(tmp_path, CRASH_WHEN_READY="3")
    try:
        wait_until(
            lambda: "ready" in lines(pids), "the crashed serving processes were not replaced"
        )
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 0, out
    delays = [line.rsplit(" ", 1)[-1] for line in out.splitlines() if "starting another" in line]
    assert delays == ["0.2s", "0.4s", "0.8s"], out  # doubled from restart_delay=0.2
    assert "exited (exit status 5)" in out
    assert lines(pids)[-2:] == ["ready", "drained"]  # the fourth served and was drained


def test_kill_9_of_the_supervisor_takes_the_serving_process_with_it(tmp_path: Path) -> None:
    process, pids = start(tmp_path)
    try:
        wait_until(lambda: "ready" in lines(pids), "no first serve")
        [child] = serving(process)
        process.kill()
        process.wait(10)
        wait_until(lambda: not psutil.pid_exists(child) or _zombie(child), "an orphan kept serving")
    finally:
        process.kill()
    assert "drained" not in lines(pids)  # killed outright, as the supervisor was


def _zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
