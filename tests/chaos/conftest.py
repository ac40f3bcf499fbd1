"""Chaos suite fixtures, and its one-line-per-test figures at the end of the session (so they show
in plain `make test` output): runs started, kills, restarts, cancellations, violations and
duplicate effects found, and each test's wall time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _pytest.terminal import TerminalReporter
from sqlalchemy.ext.asyncio import AsyncEngine

from activities import hooks as hook_points
from activities.hooks import HookRegistry
from customer_service import CustomerModuleService, session_factory
from tests.chaos.hooks import HOOK_POINTS, chaos_hook
from tests.chaos.support import FIGURES

_WALL: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "/chaos/" in report.nodeid.replace("\\", "/") or report.nodeid.startswith("chaos/"):
        name = report.nodeid.rpartition("::")[2]
        _WALL[name] = _WALL.get(name, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    if not _WALL:
        return
    terminalreporter.section("chaos figures")
    for name, seconds in _WALL.items():
        figures = FIGURES.get(name, {})
        shown = " ".join(f"{k}={v}" for k, v in figures.items())
        terminalreporter.write_line(f"{name}: {shown} wall={seconds:.1f}s")
    totals: dict[str, int] = {}
    for figures in FIGURES.values():
        for key in ("runs", "kills", "restarts", "cancellations", "violations", "duplicates"):
            if isinstance(figures.get(key), int):
                totals[key] = totals.get(key, 0) + figures[key]
    shown = " ".join(f"{k}={v}" for k, v in totals.items())
    terminalreporter.write_line(f"chaos suite: {shown} wall={sum(_WALL.values()):.1f}s")


@pytest.fixture
async def chaos_service(engine: AsyncEngine, clean_db: None) -> CustomerModuleService:
    """The session database, emptied, behind a Customer Module service."""
    return CustomerModuleService(session_factory(engine))


@pytest.fixture
def chaos_hooks() -> Iterator[HookRegistry]:
    """The chaos hook on the process-wide registry (in-process workers read that one), taken off
    again after the test."""
    registry = hook_points.registry
    assert not registry.registered(), f"hooks left over: {registry.registered()}"
    for name in HOOK_POINTS:
        registry.register(name, chaos_hook)
    try:
        yield registry
    finally:
        registry._handlers.clear()
