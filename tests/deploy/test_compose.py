"""docker-compose.yml: validated by a real compose parser, and checked for the shape production
needs (health checks, start-up ordering, pinned versions, required secrets)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {
    "APP_DB_PASSWORD": "app", "APP_OWNER_DB_PASSWORD": "owner", "POSTGRES_PASSWORD": "pg", "TEMPORAL_DB_PASSWORD": "tp",
    "PII_KEYS": "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "PII_ACTIVE_KEY": "k1",
    "PII_TAG_KEY_ID": "k1", "CODEC_AUTH_TOKEN": "t" * 40, "JWT_SECRET": "j" * 40,
}  # fmt: skip
ONE_SHOT = {"temporal-schema", "temporal-setup", "migrate"}


def compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is missing: `make test` installs Debian's docker-compose"
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run(
        [binary, "-f", str(ROOT / "docker-compose.yml"), *args],
        env={**clean, **env}, capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    result = compose("config", env=SECRETS)
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = yaml.safe_load(result.stdout)
    return parsed


def test_config_is_valid() -> None:
    result = compose("config", "-q", env=SECRETS)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("secret", sorted(SECRETS))
def test_each_required_secret_is_enforced(secret: str) -> None:
    result = compose("config", "-q", env={k: v for k, v in SECRETS.items() if k != secret})
    assert result.returncode != 0
    assert f"set {secret}" in result.stderr


def test_services(config: dict[str, Any]) -> None:
    assert set(config["services"]) == {
        "postgres", "temporal-schema", "temporal", "temporal-setup", "migrate", "worker",
        "codec-server", "ui", "api",
    }  # fmt: skip


def test_versions_are_pinned_to_the_dev_server(config: dict[str, Any]) -> None:
    images = {name: svc["image"] for name, svc in config["services"].items()}
    assert images["temporal"] == "temporalio/server:1.32.0"
    assert images["temporal-schema"] == images["temporal-setup"] == "temporalio/admin-tools:1.32.0"
    assert images["ui"] == "temporalio/ui:2.54.1"
    assert images["postgres"].startswith("postgres:18.")
    assert "auto-setup" not in " ".join(images.values())


def test_long_running_services_have_health_checks(config: dict[str, Any]) -> None:
    for name, svc in config["services"].items():
        if name not in ONE_SHOT:
            assert "healthcheck" in svc, f"{name} has no health check"


def test_start_up_order_uses_conditions(config: dict[str, Any]) -> None:
    services = config["services"]
    for name, svc in services.items():
        for dep, spec in svc.get("depends_on", {}).items():
            expected = "service_completed_successfully" if dep in ONE_SHOT else "service_healthy"
            assert spec["condition"] == expected, f"{name} → {dep}"
    assert set(services["worker"]["depends_on"]) == {"migrate", "temporal-setup"}
    assert services["temporal"]["depends_on"] == {
        "temporal-schema": {"condition": "service_completed_successfully"}
    }


def test_ui_is_wired_to_the_codec_server_and_pii_is_encrypted(config: dict[str, Any]) -> None:
    services = config["services"]
    ui = services["ui"]["environment"]
    assert ui["TEMPORAL_CODEC_ENDPOINT"].endswith(":8234")
    # The configuration the browser test drives: credentials (the codec session cookie) sent,
    # no pass-access-token (it needs an OIDC login and https, neither of which compose has).
    assert ui["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"
    assert "TEMPORAL_CODEC_PASS_ACCESS_TOKEN" not in ui
    assert (
        services["codec-server"]["environment"]["CODEC_CORS_ORIGINS"] == ui["TEMPORAL_CORS_ORIGINS"]
    )
    assert "8080:8080" in str(services["ui"]["ports"]) or services["ui"]["ports"][0][
        "published"
    ] in (8080, "8080")
    for name in ("worker", "codec-server", "api"):
        env = services[name]["environment"]
        assert env["PII_KEYS"] and env["PII_ACTIVE_KEY"] and env["PII_TAG_KEY_ID"], name
    assert services["worker"]["command"] == ["python", "worker.py"]
    assert services["worker"]["deploy"]["replicas"] >= 2


def test_api_service(config: dict[str, Any]) -> None:
    api = config["services"]["api"]
    assert api["command"] == ["python", "-m", "api"]
    assert set(api["depends_on"]) == {"migrate", "temporal-setup"}
    assert api["environment"]["ENVIRONMENT"] == "production"
    assert "/health" in " ".join(api["healthcheck"]["test"])


def test_dockerfile_builds_the_worker() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["python", "worker.py"]' in dockerfile
    for package in ("customer_service", "activities", "workflows", "codec", "api", "auth"):
        assert f"COPY {package}" in dockerfile


def _published(config: dict[str, Any]) -> list[tuple[str, str]]:
    """(service, host address) per published port, in either of compose's output forms."""
    return [
        (name, port["host_ip"] if isinstance(port, dict) else str(port).split(":")[0])
        for name, svc in config["services"].items()
        for port in svc.get("ports", [])
    ]


def test_published_ports_listen_on_localhost_unless_opened(config: dict[str, Any]) -> None:
    published = _published(config)
    assert {name for name, _ in published} == {"temporal", "api", "codec-server", "ui"}
    for name, host in published:
        assert host == "127.0.0.1", name
    result = compose("config", env={**SECRETS, "BIND_ADDRESS": "0.0.0.0"})
    assert result.returncode == 0, result.stderr
    opened = yaml.safe_load(result.stdout)
    assert {host for _, host in _published(opened)} == {"0.0.0.0"}


def test_each_service_gets_only_its_secrets(config: dict[str, Any]) -> None:
    services = config["services"]
    env = {name: svc.get("environment", {}) for name, svc in services.items()}
    holders = {
        secret: {name for name, values in env.items() if secret in values}
        for secret in ("PII_KEYS", "PGPASSWORD", "JWT_SECRET", "CODEC_AUTH_TOKEN")
    }
    assert holders == {
        "PII_KEYS": {"worker", "api", "codec-server"},
        "PGPASSWORD": {"worker", "api", "migrate"},
        "JWT_SECRET": {"api"},
        "CODEC_AUTH_TOKEN": {"codec-server"},
    }
    assert env["migrate"]["PGPASSWORD"] == "owner"
    assert env["worker"]["PGPASSWORD"] == env["api"]["PGPASSWORD"] == "app"
    assert "customer_flows_owner@" in env["migrate"]["DATABASE_URL"]
    assert "customer_flows@" in env["worker"]["DATABASE_URL"]


def test_no_password_in_a_url_or_on_a_command_line(config: dict[str, Any]) -> None:
    passwords = {v for k, v in SECRETS.items() if "PASSWORD" in k}
    for name, svc in config["services"].items():
        command = " ".join(svc.get("command") or []) + " ".join(svc.get("entrypoint") or [])
        assert "--pw" not in command and "PASSWORD" not in command.upper(), name
        for key, value in (svc.get("environment") or {}).items():
            if key.endswith("_URL"):
                assert not any(f":{p}@" in str(value) for p in passwords), (name, key)
