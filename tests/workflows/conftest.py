"""Workflow test kit: a worker per test on a fresh task queue, over the real servers, with
activities replaceable by fault-injecting wrappers registered under the same activity names."""

from __future__ import annotations

import typing
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import ApplicationError

from activities import hooks as hook_points
from activities.customer_activities import CustomerActivities
from activities.hooks import HookRegistry
from customer_service import CustomerModuleService
from settings import Settings
from tests.helpers import Snapshot, scalar, snapshot
from worker import build_worker
from workflows.contracts import HookedInput


class InjectedFault(Exception):
    """Raised by a wrapper after the real activity committed (an infrastructure-like failure)."""


def wrap(activity_fn: Callable[..., Awaitable[Any]], before: Any = None, after: Any = None) -> Any:
    """An activity registered under `activity_fn`'s name that calls it, with `before(arg)` /
    `after(arg, result)` run around it (they may raise to inject a fault)."""
    hints = typing.get_type_hints(activity_fn)
    name = activity_fn.__name__

    async def wrapper(arg: Any) -> Any:
        if before:
            await before(arg)
        result = await activity_fn(arg)
        if after:
            await after(arg, result)
        return result

    param = next(k for k in hints if k != "return")
    wrapper.__annotations__ = {"arg": hints[param], "return": hints["return"]}
    wrapper.__name__ = name
    return activity.defn(name=name)(wrapper)


def fail_first_attempt_after_commit(activity_fn: Callable[..., Awaitable[Any]]) -> Any:
    async def after(arg: Any, result: Any) -> None:
        if activity.info().attempt == 1:
            raise InjectedFault(f"{activity_fn.__name__}: injected fault after commit")

    return wrap(activity_fn, after=after)


def fail_for_good(activity_fn: Callable[..., Awaitable[Any]], *, after_commit: bool = True) -> Any:
    async def fault(*_: Any) -> None:
        raise ApplicationError(
            f"{activity_fn.__name__}: injected failure", type="injected_failure", non_retryable=True
        )

    return wrap(activity_fn, after=fault) if after_commit else wrap(activity_fn, before=fault)


class Env:
    """One test's worker and helpers."""

    def __init__(self, client: Client, activities: CustomerActivities, engine: AsyncEngine) -> None:
        self.client = client
        self.activities = activities
        self.engine = engine
        self.task_queue = f"test-{uuid.uuid4().hex[:12]}"

    @asynccontextmanager
    async def worker(self, **replace: Any) -> AsyncIterator[None]:
        """Run a worker; `replace` maps activity names to replacement activity functions."""
        acts = {a.__name__: a for a in self.activities.all()}
        unknown = set(replace) - set(acts)
        assert not unknown, f"unknown activities: {unknown}"
        acts.update(replace)
        async with build_worker(self.client, list(acts.values()), Settings(), self.task_queue):
            yield

    async def start(self, workflow: Any, arg: Any, **kwargs: Any) -> WorkflowHandle[Any, Any]:
        if isinstance(arg, HookedInput) and not arg.hooks:
            # As `CustomerFlows` does: the run calls the hook points that have handlers here.
            arg = arg.model_copy(update={"hooks": hook_points.registry.registered()})
        return await self.client.start_workflow(
            workflow,
            arg,
            id=kwargs.pop("id", f"wf-{uuid.uuid4().hex}"),
            task_queue=self.task_queue,
            **kwargs,
        )

    async def execute(self, workflow: Any, arg: Any, **kwargs: Any) -> Any:
        handle = await self.start(workflow, arg, **kwargs)
        return await handle.result()

    async def snapshot(self) -> Snapshot:
        """Every row of the entity tables and the outbox (see `assert_restored`)."""
        return await snapshot(self.engine)

    async def count(self, sql: str, **params: Any) -> int:
        return int(await scalar(self.engine, sql, **params))


@pytest.fixture
def hooks() -> Iterator[HookRegistry]:
    """The process-wide hook registry, emptied after the test: the activities call its handlers,
    and `Env.start` (like `CustomerFlows`) lists its hook points in the run's input."""
    registry = hook_points.registry
    assert not registry.registered(), f"hooks left over: {registry.registered()}"
    try:
        yield registry
    finally:
        registry._handlers.clear()


@pytest.fixture
async def env(
    temporal_client: Client,
    service: CustomerModuleService,
    engine: AsyncEngine,
    hooks: HookRegistry,
) -> Env:
    return Env(temporal_client, CustomerActivities(service, hooks), engine)
