"""Determinism guards that need no recorded history (the replay tests are in test_replay.py):

- the Worker builds with every workflow, so a sandbox violation fails here, not in production;
- `workflows/*.py` import nothing that does I/O (parsed with `ast`), and use no clock, randomness
  or environment of their own;
- importing `workflows` loads no database code at all.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from activities.customer_activities import CustomerActivities
from customer_service import CustomerModuleService
from settings import Settings
from tests.workflows.support import COMPENSATIONS
from worker import build_worker
from workflows import ALL_WORKFLOWS

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW_FILES = sorted((ROOT / "workflows").glob("*.py"))

# Modules a workflow module may import. Our own pure modules are passed through the sandbox.
ALLOWED_MODULES = {
    "__future__",
    "asyncio",
    "typing",
    "types",
    "dataclasses",
    "collections.abc",
    "pydantic",
    "temporalio",
    "activities.contracts",
    "activities.stubs",
    "activities.bulk_contracts",
    "activities.bulk_stubs",
    "activities.failures",
    "activities.delivery_contracts",
    "activities.delivery_stubs",
    "customer_service.schemas",
    "customer_service.ids",
    "customer_service.errors",
    "customer_service.validation",
    # The CustomerEmail tag (lower-cased email, or its HMAC when a PII key is configured): pure.
    "codec.tags",
}
ALLOWED_FROM_DATETIME = {"timedelta"}
# Calls a workflow must not make itself (Temporal gives deterministic versions: workflow.now(),
# workflow.uuid4(), workflow.random(), workflow.sleep(), workflow.wait()).
FORBIDDEN_ATTRIBUTES = {
    "now",
    "utcnow",
    "today",
    "uuid1",
    "uuid4",
    "environ",
    "getenv",
    "wait",
    "as_completed",
    "sandbox_unrestricted",
}
FORBIDDEN_BUILTINS = {"open", "print", "input", "exec", "eval", "__import__"}


def _allowed(module: str) -> bool:
    if module.startswith("workflows.") or module == "workflows":
        return True
    return any(module == a or module.startswith(a + ".") for a in ALLOWED_MODULES)


def violations(source: str, filename: str = "<workflow>") -> list[str]:
    """What in a workflow module's source could do I/O or break determinism."""
    found: list[str] = []
    tree = ast.parse(source, filename)
    for node in ast.walk(tree):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            found += [f"{where}: import {a.name}" for a in node.names if not _allowed(a.name)]
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            for alias in node.names:
                full = f"{module}.{alias.name}"
                if node.level:
                    found.append(f"{where}: relative import {full}")
                elif module == "datetime":
                    if alias.name not in ALLOWED_FROM_DATETIME:
                        found.append(f"{where}: from datetime import {alias.name}")
                elif not (_allowed(module) or _allowed(full)):
                    found.append(f"{where}: from {module} import {alias.name}")
        elif isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRIBUTES:
            owner = node.value.id if isinstance(node.value, ast.Name) else None
            if not (owner == "workflow" and node.attr in {"now", "uuid4", "wait"}):
                found.append(f"{where}: {owner or '…'}.{node.attr}")
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_BUILTINS:
                found.append(f"{where}: {node.func.id}()")
            for keyword in node.keywords:
                if keyword.arg == "sandboxed":
                    found.append(f"{where}: sandboxed=...")
    return found


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=[p.name for p in WORKFLOW_FILES])
def test_workflow_module_does_no_io(path: Path) -> None:
    assert violations(path.read_text(), path.name) == []


@pytest.mark.parametrize(
    "source",
    [
        "import sqlalchemy",
        "from sqlalchemy.ext.asyncio import AsyncSession",
        "import psycopg",
        "import os",
        "from os import environ",
        "import pathlib",
        "import socket",
        "import subprocess",
        "import requests",
        "import httpx",
        "import time",
        "import random",
        "import uuid",
        "from datetime import datetime",
        "import datetime",
        "from customer_service.service import CustomerModuleService",
        "from customer_service import db",
        "from activities.customer_activities import CustomerActivities",
        "from worker import build_worker",
        "from settings import get_settings",
        "from . import steps",
        "from activities import hooks",
        "from activities.hooks import registry",
        "x = datetime.now()",
        "x = uuid.uuid4()",
        "x = asyncio.wait(tasks)",
        "x = os.environ['A']",
        "open('f')",
        "print('hello')",
        "@workflow.defn(sandboxed=False)\nclass W: pass",
    ],
)
def test_the_import_check_catches(source: str) -> None:
    assert violations(source), source


def test_the_import_check_allows_what_workflows_need() -> None:
    source = textwrap.dedent(
        """
        from __future__ import annotations
        import asyncio
        from collections.abc import Callable
        from dataclasses import dataclass
        from datetime import timedelta
        from typing import Any
        from pydantic import BaseModel
        from temporalio import workflow
        from temporalio.common import RetryPolicy
        from workflows.saga import Saga
        from workflows import steps
        with workflow.unsafe.imports_passed_through():
            from activities.contracts import Undo
            from activities import stubs
            from customer_service import ids
            from customer_service.schemas import CustomerDTO
            from customer_service.errors import BUSINESS_ERROR_TYPES
        now = workflow.now()
        key = workflow.uuid4()
        """
    )
    assert violations(source) == []


def test_importing_workflows_loads_no_database_or_io_code() -> None:
    forbidden = [
        "sqlalchemy",
        "psycopg",
        "alembic",
        "customer_service.service",
        "customer_service.db",
        "customer_service.models",
        "activities.customer_activities",
        "activities.hooks",
        "worker",
        "settings",
        "devstack",
    ]
    code = (
        "import sys, workflows\n"
        f"bad = [m for m in sys.modules if any(m == f or m.startswith(f + '.') for f in {forbidden!r})]\n"
        "print(','.join(sorted(bad)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"importing workflows loaded: {result.stdout.strip()}"


async def test_worker_builds_with_every_workflow(
    temporal_client: Client, service: CustomerModuleService
) -> None:
    """Building the Worker validates each workflow in the sandbox (module imports, __init__)."""
    activities = CustomerActivities(service)
    worker = build_worker(temporal_client, activities, Settings(), f"build-{uuid.uuid4().hex}")
    assert isinstance(worker, Worker)
    assert len(ALL_WORKFLOWS) == 20  # 13 sagas, event relay and delivery, 3 maintenance, 2 bulk
    names = {a.__name__ for a in activities.all()}
    assert names >= COMPENSATIONS
    assert {"release_events", "run_hook", "list_customers", "list_customer_addresses"} <= names


async def test_worker_build_catches_a_sandbox_violation(
    temporal_client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check above can fail: a workflow module that reads the clock when imported is
    refused when the Worker is built."""
    module = f"clock_reading_workflow_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(
        textwrap.dedent(
            """
            import datetime
            from temporalio import workflow

            STARTED = datetime.date.today()

            @workflow.defn
            class ClockReadingWorkflow:
                @workflow.run
                async def run(self) -> str:
                    return str(STARTED)
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    bad: Any = importlib.import_module(module).ClockReadingWorkflow
    try:
        with pytest.raises(RuntimeError, match="Failed validating workflow") as info:
            Worker(temporal_client, task_queue=f"bad-{uuid.uuid4().hex}", workflows=[bad])
    finally:
        sys.modules.pop(module, None)
    assert "date.today" in repr(info.value.__cause__)


def passed_through(source: str) -> set[str]:
    """The modules a workflow module imports inside `workflow.unsafe.imports_passed_through()`."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.With) and "imports_passed_through" in ast.unparse(node.items[0]):
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and inner.module:
                    modules |= {inner.module, *(f"{inner.module}.{a.name}" for a in inner.names)}
                elif isinstance(inner, ast.Import):
                    modules |= {a.name for a in inner.names}
    return modules


def defines_workflows(module: str) -> bool:
    path = ROOT.joinpath(*module.split(".")).with_suffix(".py")
    return path.exists() and "@workflow.defn" in path.read_text()


def sandboxed_modules_passed_through(source: str) -> list[str]:
    return sorted(m for m in passed_through(source) if defines_workflows(m))


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=[p.name for p in WORKFLOW_FILES])
def test_no_module_defining_workflows_is_passed_through(path: Path) -> None:
    """Pure helpers (saga, steps, contracts) are passed through the sandbox and loaded once;
    a module with `@workflow.defn` classes must stay sandboxed, re-imported per run."""
    assert sandboxed_modules_passed_through(path.read_text()) == []


def test_the_pass_through_check_catches_a_workflow_module() -> None:
    source = textwrap.dedent(
        """
        from temporalio import workflow
        with workflow.unsafe.imports_passed_through():
            from workflows import steps
            from workflows.create_customers import CreateCustomersWorkflow
        """
    )
    assert sandboxed_modules_passed_through(source) == ["workflows.create_customers"]


def workflow_modules_imported_from_the_package(source: str) -> list[str]:
    """`from workflows import x` inside a pass-through block: the sandbox's own `workflows`
    package (re-imported per run) has no `x` yet, so `x` would be loaded afresh for every run."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.With) and "imports_passed_through" in ast.unparse(node.items[0]):
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and inner.module == "workflows":
                    found += [f"workflows.{a.name}" for a in inner.names]
    return found


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=[p.name for p in WORKFLOW_FILES])
def test_passed_through_workflow_helpers_are_imported_by_full_name(path: Path) -> None:
    assert workflow_modules_imported_from_the_package(path.read_text()) == []


def test_the_full_name_check_catches_an_import_from_the_package() -> None:
    source = textwrap.dedent(
        """
        from temporalio import workflow
        with workflow.unsafe.imports_passed_through():
            from workflows import steps
            import workflows.policies as policies
            from workflows.saga import Saga
        """
    )
    assert workflow_modules_imported_from_the_package(source) == ["workflows.steps"]
