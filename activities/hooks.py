"""Hook points (Medusa's `customersCreated`, ...): handlers a deployment registers.

`HOOKS_MODULE` names a module; importing it registers handlers with `@hook("customersCreated")`.
A handler receives the hook payload and the run's `additional_data`; raising fails the run, which
then compensates its earlier steps.
"""

from __future__ import annotations

import importlib
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from activities.contracts import HOOK_NAMES, HookName

Handler = Callable[[dict[str, Any], dict[str, Any] | None], Awaitable[None] | None]


class HookRegistry:
    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    def register(self, name: str, handler: Handler) -> None:
        if name not in HOOK_NAMES:
            raise ValueError(f"unknown hook {name!r}; known: {', '.join(HOOK_NAMES)}")
        self._handlers[name].append(handler)

    def handlers(self, name: str) -> list[Handler]:
        return list(self._handlers.get(name, ()))

    def registered(self) -> list[HookName]:
        """Hook points with at least one handler: the ones a run started here calls."""
        return [name for name in HOOK_NAMES if self._handlers.get(name)]


registry = HookRegistry()


def hook(name: str) -> Callable[[Handler], Handler]:
    """Decorator registering a handler on the default registry."""

    def decorate(handler: Handler) -> Handler:
        registry.register(name, handler)
        return handler

    return decorate


def load_hooks_module(module: str | None) -> HookRegistry:
    if module:
        importlib.import_module(module)
    return registry
