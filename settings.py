"""The one settings object, read once from the environment (and `.env` if present)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent


def normalise_database_url(url: str) -> str:
    """Point plain `postgresql://` / `postgres://` URLs at the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Settings(BaseSettings):
    """Runtime configuration. Unset server addresses mean "start the embedded one"."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str | None = Field(default=None, description="External PostgreSQL URL")
    temporal_address: str | None = Field(default=None, description="External Temporal host:port")
    temporal_namespace: str = "default"
    temporal_api_key: str | None = None
    temporal_tls: bool = False
    task_queue: str = "customer-flows"
    temporal_ui_url: str = "http://127.0.0.1:8233"

    data_dir: Path = PROJECT_ROOT / ".data"
    embedded_postgres_port: int = 5433
    temporal_port: int = 7233
    temporal_ui_port: int = 8233

    # PII protection (see codec/): "id:base64key,..." or a JSON key file; the active key encrypts.
    pii_keys: str | None = None
    pii_active_key: str | None = None
    pii_key_file: Path | None = None
    pii_tag_key_id: str | None = Field(
        default=None, description="Key whose derivative hashes CustomerEmail; keep it stable"
    )
    codec_server_port: int = 8234
    codec_auth_token: str | None = None
    codec_cors_origins: str = "http://127.0.0.1:8233,http://localhost:8233"
    metrics_port: int | None = None

    # HTTP API (api/): Medusa's port and CORS variables; JWT_SECRET is required outside development
    # (in development the API keeps a generated one under DATA_DIR).
    environment: str = Field(default="development", description="development or production")
    api_host: str = "127.0.0.1"
    api_port: int = 9000
    jwt_secret: SecretStr | None = None
    jwt_expires_in_seconds: int = 24 * 3600
    admin_cors: str = "http://localhost:5173,http://localhost:9000"
    store_cors: str = "http://localhost:8000"
    auth_cors: str = "http://localhost:5173,http://localhost:9000,http://localhost:8000"
    login_max_failures: int = Field(default=5, description="failed logins per email per window")
    login_failure_window_seconds: int = 300

    hooks_module: str | None = Field(default=None, description="Module registering hook handlers")
    max_concurrent_activities: int = 64
    max_concurrent_workflow_tasks: int = 64
    db_pool_size: int = 10

    @field_validator("database_url")
    @classmethod
    def _normalise(cls, value: str | None) -> str | None:
        return normalise_database_url(value) if value else None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
