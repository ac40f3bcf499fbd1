"""`make dev`: start what is missing — embedded PostgreSQL (migrated), the Temporal dev server
with its Web UI, the worker, the HTTP API (with a first admin login) — print where to look and
what to try, stop everything on Ctrl-C.
The worker is supervised (`devstack.supervisor`): if it dies, it is started again and the
servers keep running.

State lives under `.data/` (database files, Temporal's SQLite file), so a second `make dev`
finds the customers and the workflow runs of the first. While it runs, `.data/dev-stack.json`
holds its pid and the addresses of its servers: the CLI and the client (through `settings`) use
them when `DATABASE_URL` / `TEMPORAL_ADDRESS` are unset. The worker it starts gets them explicitly.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from codec.keys import load_key_ring
from customer_service.migrate import upgrade_to_head
from devstack.api import ADMIN_EMAIL, await_api, ensure_admin, start_api
from devstack.database import embedded_postgres
from devstack.ports import PortInUseError
from devstack.supervisor import CrashLoop, WorkerSupervisor
from devstack.temporal import TemporalDevServer
from settings import DEV_STACK_FILE, get_settings, read_dev_stack, redact_url
from supervision import die_with_parent, stop_process

BANNER = """
  customer-flows is running
  ─────────────────────────
  Temporal Web UI   {ui}
  Temporal address  {temporal}
  PostgreSQL        {database}
  Worker log        {worker_log}
  PII encryption    {pii}
  HTTP API          {api} (log {api_log})
  Admin login       {admin}

  Try, in another terminal:
    .venv/bin/customers create --email peter.hayes@example.com --first-name Peter \\
        --address 'city=Berlin,country_code=DE'
    .venv/bin/customers list
    curl -s {api}/auth/user/emailpass -H 'content-type: application/json' \\
        -d '{{"email": "admin@example.com", "password": "{password}"}}'

  Ctrl-C stops everything (data is kept in .data/).
"""


def await_ui(url: str, timeout: float = 30) -> None:
    """The dev server opens its gRPC port before the Web UI: wait until the UI answers too."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)


def record_stack(path: Path, database_url: str, temporal_address: str, ui: str) -> None:
    """Tell the CLI and the client of this checkout where the servers are (see `settings`)."""
    recorded = {
        "pid": os.getpid(),
        "database_url": database_url,
        "temporal_address": temporal_address,
        "temporal_ui_url": ui,
    }
    partial = path.with_suffix(".tmp")
    # Owner-only: an external DATABASE_URL given to `make dev` may carry a password.
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
        out.write(json.dumps(recorded, indent=2) + "\n")
    partial.replace(path)


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def main() -> int:
    settings = get_settings()
    running = read_dev_stack(settings.data_dir)
    if running is not None:  # its servers would be taken for external ones
        print(f"error: `make dev` is already running here (pid {running['pid']})", file=sys.stderr)
        return 1
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    stack_file = settings.data_dir / DEV_STACK_FILE
    stopping = False

    def request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    postgres = None
    temporal = None
    worker: WorkerSupervisor | None = None
    api = None
    codec: subprocess.Popen[bytes] | None = None
    try:
        if settings.database_url:
            database_url = settings.require_database_url()
        else:
            postgres = embedded_postgres(settings)
            print(f"starting PostgreSQL on 127.0.0.1:{postgres.port} (data in {postgres.data_dir})")
            postgres.start()
            database_url = postgres.url
        upgrade_to_head(database_url)

        codec_endpoint = None
        if load_key_ring(settings) is not None:
            # PII encryption is on: the Web UI decrypts through the codec server.
            codec_endpoint = f"http://127.0.0.1:{settings.codec_server_port}"
            codec = subprocess.Popen(
                [sys.executable, "-m", "codec.server"],
                stdout=(settings.data_dir / "codec.log").open("ab"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
            print(f"starting the codec server on {codec_endpoint}")

        temporal_address = settings.temporal_address
        ui = settings.temporal_ui_url
        if not temporal_address:
            temporal = TemporalDevServer(
                port=settings.temporal_port,
                ui_port=settings.temporal_ui_port,
                db_file=settings.data_dir / "temporal.db",
                log_file=settings.data_dir / "temporal.log",
                namespace=settings.temporal_namespace,
                codec_endpoint=codec_endpoint,
            )
            print(f"starting the Temporal dev server on {temporal.address}")
            temporal.start()
            temporal_address = temporal.address
            ui = temporal.ui_url or ui
        await_ui(ui)

        env = {**os.environ, "DATABASE_URL": database_url, "TEMPORAL_ADDRESS": temporal_address}
        worker_log = settings.data_dir / "worker.log"
        worker = WorkerSupervisor(env, worker_log, say=say)
        worker.start()
        api_url = f"http://{settings.api_host}:{settings.api_port}"
        api_log = settings.data_dir / "api.log"
        api = start_api(env, settings.api_host, settings.api_port, api_log)
        password = ensure_admin(database_url, settings.data_dir)
        admin = f"{ADMIN_EMAIL} / {password}" if password else f"{ADMIN_EMAIL} (password changed)"
        if not await_api(api_url, api):
            print(f"the HTTP API did not start; see {api_log}")
            return 1
        record_stack(stack_file, database_url, temporal_address, ui)
        pii = f"on (codec server {codec_endpoint})" if codec_endpoint else "off"
        database = redact_url(database_url).replace("+psycopg", "")
        banner = BANNER.format(
            ui=ui,
            temporal=temporal_address,
            database=database,
            worker_log=worker_log,
            pii=pii,
            api=api_url,
            api_log=api_log,
            admin=admin,
            password=password or "…",
        )
        print(banner)
        sys.stdout.flush()
        while not stopping:
            worker.poll()  # a crashed worker is restarted; CrashLoop ends the stack
            if api.poll() is not None:
                print(f"the HTTP API exited ({api.returncode}); see {api_log}")
                return 1
            if temporal is not None and not temporal.is_running():
                print(f"the Temporal dev server exited; see {settings.data_dir / 'temporal.log'}")
                return 1
            time.sleep(0.5)
        print("\nstopping …")
        return 0
    except PortInUseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except CrashLoop as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        stack_file.unlink(missing_ok=True)
        if codec is not None:
            stop_process(codec, 5)
        if api is not None:
            stop_process(api, 15)
        if worker is not None:
            worker.stop()
        if temporal is not None:
            temporal.stop()
        if postgres is not None:
            postgres.stop()
        codec_server = "codec server, " if codec is not None else ""
        print(f"stopped: {codec_server}HTTP API, worker, Temporal dev server, PostgreSQL")


if __name__ == "__main__":
    sys.exit(main())
