"""The HTTP API in `make dev`: `python -m api` as a child process (development mode, so it keeps
the generated JWT secret under DATA_DIR) and a first admin login to try it with.

The admin is `admin@example.com` with a password generated once and kept in
`DATA_DIR/admin_password` (owner-only), next to the database it belongs to.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from auth.store import AuthStore, UnauthorizedError
from customer_service import create_engine, session_factory
from supervision import die_with_parent

ADMIN_EMAIL = "admin@example.com"
PASSWORD_FILE = "admin_password"


def start_api(env: dict[str, str], host: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    """`python -m api` on host:port with `env` (the stack's servers), logging to `log`."""
    return subprocess.Popen(
        [sys.executable, "-m", "api"],
        env={**env, "API_HOST": host, "API_PORT": str(port)},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=die_with_parent,
    )


def await_api(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> bool:
    """Wait until `url`/health answers; False if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return True
        except OSError:
            time.sleep(0.3)
    return False


def _password(data_dir: Path) -> str:
    path = data_dir / PASSWORD_FILE
    if not path.exists():
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(secrets.token_urlsafe(12))
    return path.read_text().strip()


async def _ensure_admin(database_url: str, password: str) -> str | None:
    engine = create_engine(database_url, pool_size=1)
    try:
        store = AuthStore(session_factory(engine))
        try:
            await store.create_user(ADMIN_EMAIL, password)
            await store.authenticate(ADMIN_EMAIL, password)
        except UnauthorizedError:
            return None  # the user was made with another password (e.g. by hand)
        return password
    finally:
        await engine.dispose()


def ensure_admin(database_url: str, data_dir: Path) -> str | None:
    """Create the first admin user if missing (idempotent); its password, or None when the
    user exists with a password other than the one kept under `data_dir`."""
    return asyncio.run(_ensure_admin(database_url, _password(data_dir)))
