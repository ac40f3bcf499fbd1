"""The one settings object, read once from the environment (and `.env` if present).

Where the servers are: `DATABASE_URL` and `TEMPORAL_ADDRESS`. A running `make dev` records the
addresses of the servers it started in `DATA_DIR/dev-stack.json` (and removes the file when it
stops); while that file names a live `make dev`, the settings take from it whichever of the two
the environment leaves unset — that is dev mode. Otherwise an unset address stays unset, and the
worker and the CLI stop with a `ConfigurationError` saying which variable to set.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent
DEV_STACK_FILE = "dev-stack.json"


class ConfigurationError(Exception):
    """A setting the process needs is missing; the message names it and how to set it."""


def normalise_database_url(url: str) -> str:
    """Point plain `postgresql://` / `postgres://` URLs at the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _process_is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_dev_stack(data_dir: Path) -> dict[str, Any] | None:
    """What a running `make dev` recorded in `data_dir` (its pid and the addresses of the servers
    it started), or None when no `make dev` is running there (no file, or a stale one)."""
    try:
        recorded = json.loads((data_dir / DEV_STACK_FILE).read_text())
        pid = int(recorded["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return recorded if isinstance(recorded, dict) and _process_is_alive(pid) else None


class Settings(BaseSettings):
    """Runtime configuration. Unset server addresses mean "the ones a running `make dev` started",
    or, without one, "not configured"."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Secrets are SecretStr: a settings object's repr, str and dump never show them.
    database_url: SecretStr | None = Field(default=None, description="PostgreSQL URL")
    temporal_address: str | None = Field(default=None, description="Temporal frontend host:port")
    temporal_namespace: str = "default"
    temporal_api_key: SecretStr | None = None
    # TLS: unset means "on when an API key is set" (an API key never travels in plaintext);
    # client certificates (mTLS) from PEM files; a private CA's certificate to trust.
    temporal_tls: bool | None = None
    temporal_tls_client_cert_path: Path | None = None
    temporal_tls_client_key_path: Path | None = None
    temporal_tls_server_ca_cert_path: Path | None = None
    temporal_tls_server_name: str | None = None
    # Or a `temporal.toml` profile (shared with the `temporal` CLI): see triggers.connection.
    temporal_profile: str | None = None
    temporal_config_file: Path | None = None
    task_queue: str = "customer-flows"
    temporal_ui_url: str = "http://127.0.0.1:8233"

    # The embedded servers of `make dev` (devstack) and where it keeps their state.
    data_dir: Path = PROJECT_ROOT / ".data"
    embedded_postgres_port: int = 5433
    temporal_port: int = 7233
    temporal_ui_port: int = 8233

    # PII protection (see codec/): "id:base64key,..." or a JSON key file; the active key encrypts.
    pii_keys: SecretStr | None = None
    pii_active_key: str | None = None
    pii_key_file: Path | None = None
    pii_tag_key_id: str | None = Field(
        default=None, description="Key whose derivative hashes CustomerEmail; keep it stable"
    )
    codec_host: str = "127.0.0.1"
    codec_server_port: int = 8234
    codec_auth_token: SecretStr | None = None
    codec_cors_origins: str = "http://127.0.0.1:8233,http://localhost:8233"
    metrics_port: int | None = None

    # HTTP API (api/): Medusa's port and CORS variables; JWT_SECRET is required outside development
    # (in development the API keeps a generated one under DATA_DIR).
    environment: str = Field(default="development", description="development or production")
    api_host: str = "127.0.0.1"
    api_port: int = 9000
    api_workers: int = Field(
        default=0, ge=0, description="uvicorn worker processes; 0: one per CPU core, up to 4"
    )
    jwt_secret: SecretStr | None = None
    jwt_expires_in_seconds: int = 24 * 3600
    admin_cors: str = "http://localhost:5173,http://localhost:9000"
    store_cors: str = "http://localhost:8000"
    auth_cors: str = "http://localhost:5173,http://localhost:9000,http://localhost:8000"
    login_max_failures: int = Field(default=5, description="failed logins per email per window")
    login_failure_window_seconds: int = 300

    hooks_module: str | None = Field(default=None, description="Module registering hook handlers")
    subscribers_module: str | None = Field(
        default=None, description="Module registering event subscribers"
    )
    # Event delivery (docs/events.md): backoff from the first retry up to the maximum interval,
    # each attempt cut at the timeout, given up (failed) after the window.
    delivery_first_retry_seconds: float = 1.0
    delivery_max_interval_seconds: float = 3600.0
    delivery_give_up_after_seconds: float = 86400.0
    webhook_timeout_seconds: float = 10.0
    retention_days: float = 30.0
    retention_batch: int = 1000
    # Activity slots are sized from the database pool (pool_size + as many overflow
    # connections): more slots than connections would only wait for one, eating the activities'
    # timeouts. Unset, MAX_CONCURRENT_ACTIVITIES is 2 × DB_POOL_SIZE; set higher, it is refused.
    max_concurrent_activities: int = 0
    max_concurrent_workflow_tasks: int = 64
    # Runs a worker keeps in memory between their workflow tasks (the SDK's default is 1,000). A
    # run of one task leaves the cache when it completes, so this only bounds the memory of runs
    # that stay open (waiting on a lock, a hook, a paused import); an evicted run replays its
    # short history at its next task. 1,000 open runs: 260 MB at 1,000, 189 MB at 250, and the
    # backlog still drained faster than normal throughput (docs/performance.md).
    max_cached_workflows: int = 250
    db_pool_size: int = 10
    # Recovery from a dead worker (docs/reliability.md has the measurements behind these): how
    # long a run's next workflow task waits on the sticky queue of the worker that has the run
    # cached before any worker may take it, and how long a workflow task may take (a task lost
    # with its worker is retried after this). Seconds.
    sticky_schedule_to_start_timeout: float = 1.0
    workflow_task_timeout: float = 3.0

    @model_validator(mode="after")
    def _slots_fit_the_pool(self) -> Settings:
        connections = 2 * self.db_pool_size
        if self.max_concurrent_activities <= 0:
            self.max_concurrent_activities = connections
        elif self.max_concurrent_activities > connections:
            raise ValueError(
                f"MAX_CONCURRENT_ACTIVITIES ({self.max_concurrent_activities}) exceeds the "
                f"database connections (2 × DB_POOL_SIZE = {connections}): raise DB_POOL_SIZE"
            )
        return self

    @field_validator("database_url")
    @classmethod
    def _normalise(cls, value: SecretStr | None) -> SecretStr | None:
        url = value.get_secret_value() if value else None
        return SecretStr(normalise_database_url(url)) if url else None

    @model_validator(mode="after")
    def _dev_stack(self) -> Settings:
        """Fill what the environment left unset from a running `make dev` (dev mode)."""
        if self.database_url and self.temporal_address:
            return self
        recorded = read_dev_stack(self.data_dir)
        if recorded is None:
            return self
        if not self.database_url and recorded.get("database_url"):
            self.database_url = SecretStr(normalise_database_url(str(recorded["database_url"])))
        if not self.temporal_address and recorded.get("temporal_address"):
            self.temporal_address = str(recorded["temporal_address"])
            if "temporal_ui_url" not in self.model_fields_set and recorded.get("temporal_ui_url"):
                self.temporal_ui_url = str(recorded["temporal_ui_url"])
        return self

    def require_database_url(self) -> str:
        """`DATABASE_URL` (or dev mode's), or a `ConfigurationError` saying how to set it."""
        url = self.database_url.get_secret_value() if self.database_url else None
        return _required(url, "DATABASE_URL", "your PostgreSQL")

    def require_temporal_address(self) -> str:
        """`TEMPORAL_ADDRESS` (or dev mode's), or a `ConfigurationError` saying how to set it."""
        return _required(self.temporal_address, "TEMPORAL_ADDRESS", "your Temporal frontend")


def redact_url(url: str) -> str:
    """`url` with its password masked, for banners and logs."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL sqlalchemy can parse: show none of it
        return "<unparseable database URL>"


def _required(value: str | None, variable: str, what: str) -> str:
    if not value:
        raise ConfigurationError(
            f"{variable} is not set: point it at {what}, "
            "or start the development stack with `make dev`"
        )
    return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
