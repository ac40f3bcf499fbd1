"""Processes that outlive a crash of the process doing the work.

`serve_restarting(serve)` is how the worker runs: the calling process has already imported
everything, then forks the process that serves. A serving process that dies (a bug, an OOM kill,
`kill -9`) is forked again after `RESTART_DELAY` from the already-imported parent (longer while
each one dies at once), so it polls within a fraction of a second instead of the ~1.3 s a cold
start takes (imports alone are ~0.9 s); docs/reliability.md has the figures. A process that dies *before* it serves is a
start-up failure (a bad setting, a server that refuses): the parent exits with its status and
leaves retrying to whatever started it (`make dev`, compose's restart policy), which can tell a
crash loop from a crash.

The parent never connects to anything and starts no thread, so forking it is safe: each serving
process makes its own event loop, Temporal runtime and database pool.

`stop_process(child)` stops a child process: SIGTERM, then SIGKILL after a timeout."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

RESTART_DELAY = 1.0  # seconds between a serving process's death and the next one's fork
QUICK_CRASH = 1.5  # seconds from fork: a serving process dying sooner backs the restarts off
MAX_RESTART_DELAY = 8.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

log = logging.getLogger("customer_flows.supervision")


def die_with_parent(sig: signal.Signals = signal.SIGTERM) -> None:
    """In a child process: get `sig` when the parent dies, even by SIGKILL (Linux)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, sig)


def stop_process(process: subprocess.Popen[Any], timeout: float = 20) -> None:
    """SIGTERM a child still running, then SIGKILL it if it has not exited after `timeout`."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def describe_exit(returncode: int) -> str:
    """'exit status 1', or 'killed by SIGKILL' for a signal."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


Serve = Callable[[Callable[[], None]], int]
"""Runs in the forked process: serves until asked to stop, calling its argument once it serves;
returns the exit status."""


def shell_status(returncode: int) -> int:
    """A process's exit status as a shell reports it: 128 + N for death by signal N."""
    return 128 - returncode if returncode < 0 else returncode


class _Parent:
    def __init__(self) -> None:
        self.child: int | None = None
        self.stopping = False

    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        # SIGINT or SIGTERM: the serving process drains its in-flight tasks, then the parent ends.
        self.stopping = True
        if self.child is not None:  # alive or not yet reaped (see `wait`): the pid is its own
            os.kill(self.child, signal.SIGTERM)

    def fork(self, serve: Serve) -> tuple[int, int]:
        """The serving process's pid and the read end of the pipe it reports readiness on."""
        ready_read, ready_write = os.pipe()
        parent = os.getpid()
        # Held back across the fork: a stop signal reaches the parent once it knows the child's
        # pid, and the child only once its own handling is in place.
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        pid = os.fork()
        if pid == 0:
            self._become_serving_process(serve, parent, ready_read, ready_write)
        os.close(ready_write)
        self.child = pid
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        return pid, ready_read

    @staticmethod
    def _become_serving_process(
        serve: Serve, parent: int, ready_read: int, ready_write: int
    ) -> None:
        """Runs `serve` in the forked process and exits; never returns into the parent's loop."""
        code = 1
        try:
            os.close(ready_read)
            for sig in STOP_SIGNALS:
                signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
            # kill -9 of the parent is kill -9 of the worker: no orphan keeps serving.
            die_with_parent(signal.SIGKILL)
            if os.getppid() == parent:

                def ready() -> None:
                    os.write(ready_write, b"r")
                    os.close(ready_write)

                code = serve(ready)
        except BaseException:
            log.exception("the serving process failed")
        finally:
            try:
                logging.shutdown()
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)

    def wait(self, pid: int, ready_read: int) -> tuple[int, bool]:
        """The serving process's exit status (negative: killed by that signal), and whether it
        had reported ready."""
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # ended, left unreaped for now
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        _, status = os.waitpid(pid, 0)
        self.child = None
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        served = os.read(ready_read, 1) == b"r"
        os.close(ready_read)
        return os.waitstatus_to_exitcode(status), served


def serve_restarting(serve: Serve, restart_delay: float = RESTART_DELAY) -> int:
    """Fork `serve` and fork it again whenever it dies after serving; return the exit status.

    Restarts wait `restart_delay`, doubled for each serving process in a row that died within
    QUICK_CRASH of its fork (a crash on its first tasks), up to MAX_RESTART_DELAY."""
    parent = _Parent()
    for sig in STOP_SIGNALS:
        signal.signal(sig, parent.on_signal)
    quick_crashes = 0
    while True:
        forked = time.monotonic()
        pid, ready_read = parent.fork(serve)
        code, served = parent.wait(pid, ready_read)
        if parent.stopping:
            return 0 if code in (0, -signal.SIGTERM, -signal.SIGINT) else shell_status(code)
        if not served:
            log.error("the worker failed at start-up (%s); not restarting it", describe_exit(code))
            return shell_status(code) or 1
        quick_crashes = quick_crashes + 1 if time.monotonic() - forked < QUICK_CRASH else 0
        delay = min(restart_delay * 2 ** max(quick_crashes - 1, 0), MAX_RESTART_DELAY)
        log.warning(
            "the serving process %d exited (%s); starting another in %gs",
            pid,
            describe_exit(code),
            delay,
        )
        time.sleep(delay)
        if parent.stopping:
            return 0
