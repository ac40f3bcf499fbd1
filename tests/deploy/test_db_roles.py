"""deploy/postgres-init.sh on a real PostgreSQL: an owner role for migrations, a data-only role for
the worker and the API (no DDL, its own statement_timeout), passwords set verbatim however hostile
(psql variables, never SQL text) — docs/security.md."""

from __future__ import annotations

import base64
import hashlib
import hmac
import subprocess
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from customer_service import CustomerModuleService, create_engine, session_factory
from customer_service.migrate import upgrade_to_head
from devstack import ephemeral
from devstack.postgres import POSTGRES_BIN_PATH

ROOT = Path(__file__).resolve().parents[2]
PASSWORDS = {
    "APP_OWNER_DB_PASSWORD": "own'er; DROP ROLE postgres; --",
    "APP_DB_PASSWORD": "p@ss:w/rd%'\\\" $HOME",
    "TEMPORAL_DB_PASSWORD": "t'$(id)`x`",
}


def scram_matches(stored: str, password: str) -> bool:
    """Whether PostgreSQL's SCRAM-SHA-256 verifier `stored` was made from `password`."""
    method, rest = stored.split("$", 1)
    iterations_salt, keys = rest.split("$")
    iterations, salt = iterations_salt.split(":")
    stored_key = keys.split(":")[0]
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(salt), int(iterations)
    )
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    expected = base64.b64encode(hashlib.sha256(client_key).digest()).decode()
    return method == "SCRAM-SHA-256" and hmac.compare_digest(expected, stored_key)


def run_init_script(port: int) -> None:
    env = {
        "PATH": f"{POSTGRES_BIN_PATH}:/usr/bin:/bin",
        "PGHOST": "127.0.0.1",
        "PGPORT": str(port),
        **PASSWORDS,
    }
    result = subprocess.run(
        ["sh", str(ROOT / "deploy/postgres-init.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


async def test_init_script_makes_an_owner_and_a_data_only_role() -> None:
    with ephemeral.postgres() as server:
        admin = f"host=127.0.0.1 port={server.port} user=postgres dbname=postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("DROP DATABASE customer_flows")  # the script creates it
        run_init_script(server.port)
        with psycopg.connect(admin) as conn:
            verifiers = dict(conn.execute("SELECT rolname, rolpassword FROM pg_authid").fetchall())
            settings = dict(
                conn.execute(
                    "SELECT r.rolname, s.setconfig FROM pg_db_role_setting s "
                    "JOIN pg_roles r ON r.oid = s.setrole"
                ).fetchall()
            )
        for role, variable in (
            ("customer_flows_owner", "APP_OWNER_DB_PASSWORD"),
            ("customer_flows", "APP_DB_PASSWORD"),
            ("temporal", "TEMPORAL_DB_PASSWORD"),
        ):
            assert scram_matches(verifiers[role], PASSWORDS[variable]), role
        assert "postgres" in verifiers  # the injection attempt dropped nothing
        assert "statement_timeout=20s" in settings["customer_flows"]

        base = f"127.0.0.1:{server.port}/customer_flows"
        upgrade_to_head(f"postgresql+psycopg://customer_flows_owner@{base}")
        password = quote(PASSWORDS["APP_DB_PASSWORD"], safe="")
        app_url = f"postgresql+psycopg://customer_flows:{password}@{base}"
        engine = create_engine(app_url, pool_size=1)
        try:
            service = CustomerModuleService(session_factory(engine))
            [created] = await service.create_customers([{"email": "role@example.com"}])
            assert (await service.retrieve_customer(created.id)).email == "role@example.com"
        finally:
            await engine.dispose()
        app = f"host=127.0.0.1 port={server.port} user=customer_flows dbname=customer_flows"
        with psycopg.connect(app) as conn:
            assert conn.execute("SHOW statement_timeout").fetchone() == ("20s",)
            for ddl in ("CREATE TABLE intruder (x int)", "DROP TABLE customer"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(ddl)
                conn.rollback()
