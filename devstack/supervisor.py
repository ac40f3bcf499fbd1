"""`make dev`'s worker, supervised: a worker that exits is logged with its exit status and started
again after a backoff, while the servers keep running. A worker that keeps crashing before it is
ready (a syntax error, a bad setting) is not restarted forever: after `MAX_START_CRASHES` in a
row, `poll()` raises `CrashLoop` and the stack stops with a message saying where to look."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from settings import PROJECT_ROOT
from supervision import describe_exit, die_with_parent, stop_process

READY_LINE = "worker serving"  # what worker.py logs once it polls its task queue
MAX_START_CRASHES = 4
FIRST_BACKOFF = 0.5  # seconds; doubles with each crash in a row, up to MAX_BACKOFF
MAX_BACKOFF = 8.0
STABLE_AFTER = 60.0  # a worker up this long has its crash count forgotten


class CrashLoop(Exception):
    """The worker crashed at start-up MAX_START_CRASHES times in a row."""


class WorkerSupervisor:
    """Starts `worker.py` with `env`, appending its output to `log_path`; `poll()` restarts it."""

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        say: Callable[[str], None] = print,
        command: list[str] | None = None,
    ) -> None:
        self.env = env
        self.log_path = log_path
        self.say = say
        self.command = command or [sys.executable, str(PROJECT_ROOT / "worker.py")]
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.log_offset = 0
        self.crashes = 0  # in a row, reset once a worker stays up STABLE_AFTER
        self.start_crashes = 0  # in a row, before becoming ready
        self.restart_at: float | None = None
        self.restarts = 0

    def start(self) -> None:
        self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        self.started_at = time.monotonic()
        self.restart_at = None

    def _output_since_start(self) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(self.log_offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def poll(self) -> None:
        """Check the worker; restart it when its backoff is over. Raises `CrashLoop`."""
        now = time.monotonic()
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.restarts += 1
                self.start()
            return
        if self.process is None or self.process.poll() is None:
            if self.process is not None and now - self.started_at > STABLE_AFTER:
                self.crashes = 0
            return
        status = describe_exit(self.process.returncode)
        output = self._output_since_start()
        if READY_LINE in output:
            self.start_crashes = 0
        else:
            self.start_crashes += 1
        if self.start_crashes >= MAX_START_CRASHES:
            tail = "\n".join("    " + line for line in output.strip().splitlines()[-8:])
            raise CrashLoop(
                f"the worker crashed at start-up {self.start_crashes} times in a row "
                f"(last: {status}); stopping the stack. Fix the cause and run `make dev` again. "
                f"The end of {self.log_path}:\n{tail}"
            )
        self.crashes += 1
        backoff = min(FIRST_BACKOFF * 2 ** (self.crashes - 1), MAX_BACKOFF)
        self.say(
            f"the worker exited ({status}); restarting it in {backoff:g}s "
            f"(see {self.log_path}); Temporal and PostgreSQL keep running"
        )
        self.restart_at = now + backoff

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM (the worker finishes its in-flight tasks), then SIGKILL after `timeout`."""
        process, self.process = self.process, None
        self.restart_at = None
        if process is not None:
            stop_process(process, timeout)
