"""Heartbeats for activities that can run longer than a moment (a row lock to wait for, a hook).

While the wrapped activity runs, a side task heartbeats every third of the activity's heartbeat
timeout (the workflow sets it: `workflows.policies.HEARTBEAT_TIMEOUT`). If the worker dies, the
heartbeats stop and the server retries the attempt on another worker after that timeout, instead
of waiting out the whole start-to-close timeout. Without a heartbeat timeout (local activities,
direct calls in tests) the activity runs as is. Pure module."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from temporalio import activity

P = ParamSpec("P")
R = TypeVar("R")


def _heartbeat_interval() -> float | None:
    """Seconds between heartbeats for the running activity, or None when it needs none."""
    if not activity.in_activity():
        return None
    info = activity.info()
    timeout = info.heartbeat_timeout
    if info.is_local or not timeout:
        return None
    return timeout.total_seconds() / 3


async def _beat(interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        activity.heartbeat()


def heartbeats(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Heartbeat while `fn` runs (see the module docstring)."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        interval = _heartbeat_interval()
        if interval is None:
            return await fn(*args, **kwargs)
        beating = asyncio.create_task(_beat(interval))
        try:
            return await fn(*args, **kwargs)
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating

    return wrapper
