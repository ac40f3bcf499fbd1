"""Determinism: the recorded histories replay without a non-determinism error on today's workflow
code. tests/histories/*.json are made by tests/histories/record.py. Nothing is released yet, so
there is one set; from the first tagged release on, each release's histories are kept in a
folder of their own and replayed here too, and a change to a workflow that alters its commands is
guarded with `workflow.patched(...)` (docs/versioning.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from activities.hooks import HookRegistry
from tests.workflows.conftest import Env
from workflows import ALL_WORKFLOWS, CreateCustomersWorkflow
from workflows.contracts import CreateCustomersInput

HISTORIES = Path(__file__).resolve().parents[1] / "histories"
FILES = sorted(HISTORIES.rglob("*.json"))
# Maintenance runs: each step is an ordinary activity (long batches, no saga's local first step).
# Not sagas: their steps are ordinary activities from the start.
NO_LOCAL_STEP = {
    "InvariantCheckWorkflow",
    "RetentionWorkflow",
    "EraseCustomerWorkflow",
    "ImportCustomersWorkflow",
    "ExportCustomersWorkflow",
}


@workflow.defn(name="CreateCustomerGroupsWorkflow", sandboxed=False)
class ChangedGroups:
    """Stands in for an edited CreateCustomerGroupsWorkflow that waits instead of its steps."""

    @workflow.run
    async def run(self, input: dict[str, Any]) -> None:
        await workflow.sleep(1)


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(f"history-{path.stem}", path.read_text())


def workflow_type(history: WorkflowHistory) -> str:
    started = history.events[0].workflow_execution_started_event_attributes
    return started.workflow_type.name


def test_every_workflow_has_a_recorded_history() -> None:
    recorded = {workflow_type(load(p)) for p in FILES}
    assert recorded == {w.__name__ for w in ALL_WORKFLOWS}


def test_histories_hold_the_local_first_step_and_no_patch_marker() -> None:
    """The histories were recorded by today's code: the first step as a local-activity marker,
    and no `workflow.patched` marker (none is needed before the first release)."""
    for path in FILES:
        if workflow_type(load(path)) in NO_LOCAL_STEP:
            continue
        events = load(path).events
        markers = [
            e.marker_recorded_event_attributes.marker_name
            for e in events
            if e.HasField("marker_recorded_event_attributes")
        ]
        assert "core_local_activity" in markers and "core_patch" not in markers, (path, markers)


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(HISTORIES)) for p in FILES])
async def test_history_replays(path: Path) -> None:
    history = load(path)
    assert history.events, path
    replayer = Replayer(workflows=ALL_WORKFLOWS, data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure!r}"


async def test_replay_detects_a_changed_workflow() -> None:
    """The replayer really compares commands: a history replayed against another workflow's
    code (same type name, different steps) is a non-determinism error."""
    history = load(HISTORIES / "create_customer_groups.json")
    replayer = Replayer(workflows=[ChangedGroups], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is not None


async def test_a_run_with_a_hook_replays_on_a_worker_without_its_handler(
    env: Env, hooks: HookRegistry
) -> None:
    """Which hook points a run calls is in its input, not in the replaying worker's registry: a
    run recorded with a `customersCreated` handler replays where no handler is registered."""
    calls: list[str] = []

    async def welcome(payload: dict[str, Any], additional_data: dict[str, Any] | None) -> None:
        calls.append(payload["customers"][0]["email"])

    hooks.register("customersCreated", welcome)
    async with env.worker():
        handle = await env.start(
            CreateCustomersWorkflow.run,
            CreateCustomersInput.model_validate(
                {"customers_data": [{"email": "hook@example.com"}]}
            ),
        )
        await handle.result()
    assert calls == ["hook@example.com"]
    history = await handle.fetch_history()
    assert any(
        e.activity_task_scheduled_event_attributes.activity_type.name == "run_hook"
        for e in history.events
    )

    hooks._handlers.clear()
    replayer = Replayer(workflows=ALL_WORKFLOWS, data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, repr(result.replay_failure)
