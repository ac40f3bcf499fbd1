"""`customers users create`, `customers api-keys create` and `customers serve`, run as a user
would, against the session's database and Temporal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from devstack.ports import free_port
from tests.api.conftest import JWT_SECRET, PASSWORD, Api, basic, unique_email

CLI = [str(Path(sys.executable).with_name("customers"))]


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=60)


def cli_env(database_url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url, **extra}


async def test_users_create_is_idempotent_and_can_log_in(api: Api, database_url: str) -> None:
    env, email = cli_env(database_url), unique_email("cli")
    first = run(env, "users", "create", "--email", email, "--password", PASSWORD, "--json")
    assert first.returncode == 0, first.stderr
    again = run(env, "users", "create", "--email", email, "--password", "other", "--json")
    assert json.loads(again.stdout) == {**json.loads(first.stdout), "created": False}
    assert json.loads(first.stdout)["created"] is True
    assert PASSWORD not in first.stdout + first.stderr
    async with api.client() as http:
        r = await http.post("/auth/user/emailpass", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200
    bad = run(env, "users", "create", "--email", "not-an-email", "--password", PASSWORD)
    assert bad.returncode == 1 and "invalid_data" in bad.stderr and "Traceback" not in bad.stderr


async def test_api_keys_create_prints_a_working_key(api: Api, database_url: str) -> None:
    result = run(cli_env(database_url), "api-keys", "create", "--type", "secret", "--title", "ops")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().rsplit(" ", 1)[-1]
    assert token.startswith("sk_")
    async with api.client(authorization=basic(token)) as http:
        assert (await http.get("/admin/customers", params={"limit": 1})).status_code == 200
    result = run(cli_env(database_url), "api-keys", "create", "--type", "nope", "--title", "x")
    assert result.returncode == 2


def test_serve_starts_the_api_from_settings(
    api: Api, database_url: str, temporal_address: str
) -> None:
    port = free_port()
    env = cli_env(
        database_url,
        TEMPORAL_ADDRESS=temporal_address,
        API_PORT=str(port),
        JWT_SECRET=JWT_SECRET,
        ENVIRONMENT="production",
    )
    process = subprocess.Popen(
        [*CLI, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    r = http.get("/health")
                    break
                except httpx.TransportError:
                    assert process.poll() is None, "customers serve exited"
                    assert time.monotonic() < deadline
                    time.sleep(0.2)
            assert r.text == "OK"
            auth = {"authorization": f"Bearer {api.admin_token}"}
            assert http.get("/admin/customers", headers=auth).status_code == 200
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert "Traceback" not in output


def test_serve_refuses_to_start_without_jwt_secret_outside_development(database_url: str) -> None:
    env = cli_env(database_url, ENVIRONMENT="production", API_PORT=str(free_port()))
    env.pop("JWT_SECRET", None)
    result = subprocess.run([*CLI, "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "JWT_SECRET is required" in result.stderr and "Traceback" not in result.stderr
