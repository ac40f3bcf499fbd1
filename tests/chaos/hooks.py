"""The chaos suite's hook handler: a run's `additional_data` says whether its hook step should take
a while (`chaos_delay`, seconds) and whether it should then fail for good (`chaos_fail`).

A slow hook widens the window in which a worker can die mid-saga; a failing one makes the run
compensate the steps before it. Pure module: importing it registers nothing."""

from __future__ import annotations

import asyncio
from typing import Any

# The hook points that receive the run's additional_data.
HOOK_POINTS = ("customersCreated", "customersUpdated", "addressesCreated", "addressesUpdated")


class ChaosHookFailure(Exception):
    """What a hook raises when its run asked for it (becomes a `hook_failed` error)."""


async def chaos_hook(payload: dict[str, Any], additional_data: dict[str, Any] | None) -> None:
    data = additional_data or {}
    delay = float(data.get("chaos_delay") or 0)
    if delay > 0:
        await asyncio.sleep(delay)
    if data.get("chaos_fail"):
        raise ChaosHookFailure("chaos: the run asked its hook to fail")
