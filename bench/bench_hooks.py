"""The bench worker's hook handlers (HOOKS_MODULE=bench_hooks): one no-op `customersCreated`
handler, so runs started with that hook point listed have a hook step that does nothing."""

from __future__ import annotations

from typing import Any

from activities.hooks import hook


@hook("customersCreated")
async def noop(payload: dict[str, Any], additional_data: dict[str, Any] | None) -> None:
    return None
