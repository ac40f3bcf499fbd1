"""Determinism: the recorded histories replay without a non-determinism error on today's workflow
code. tests/histories/*.json are today's (made by tests/histories/record.py); each subfolder keeps
the histories of an earlier version whose runs may still be open (v1: every step an ordinary
activity, before `local-first-steps`). A change to a workflow that alters its commands must be
guarded with `workflow.patched(...)`, or this test fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from activities.hooks import HookRegistry
from workflows import ALL_WORKFLOWS

HISTORIES = Path(__file__).resolve().parents[1] / "histories"
FILES = sorted(HISTORIES.rglob("*.json"))
VERSIONS = sorted({p.parent for p in FILES})


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


@pytest.mark.parametrize("version", VERSIONS, ids=[v.name for v in VERSIONS])
def test_every_workflow_has_a_recorded_history(version: Path) -> None:
    recorded = {workflow_type(load(p)) for p in version.glob("*.json")}
    assert recorded == {w.__name__ for w in ALL_WORKFLOWS}


def test_todays_histories_run_their_steps_as_local_activities() -> None:
    """Today's histories were recorded by today's code: with the patch marker and the forward
    steps as local-activity markers, not (only) the v1 shape."""
    for path in HISTORIES.glob("*.json"):
        events = load(path).events
        markers = [e.marker_recorded_event_attributes.marker_name for e in events
                   if e.HasField("marker_recorded_event_attributes")]  # fmt: skip
        assert "core_patch" in markers and "core_local_activity" in markers, (path.name, markers)


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(HISTORIES)) for p in FILES])
async def test_history_replays(path: Path, hooks: HookRegistry) -> None:
    # `hooks` guarantees no handler is registered: the histories were recorded without any.
    history = load(path)
    assert history.events, path
    replayer = Replayer(workflows=ALL_WORKFLOWS, data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure!r}"


async def test_replay_detects_a_changed_workflow(hooks: HookRegistry) -> None:
    """The replayer really compares commands: a history replayed against another workflow's
    code (same type name, different steps) is a non-determinism error."""
    history = load(HISTORIES / "create_customer_groups.json")
    replayer = Replayer(workflows=[ChangedGroups], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is not None
