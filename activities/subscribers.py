"""Subscribers (Medusa's `src/subscribers`): Python handlers a deployment registers for events.

`SUBSCRIBERS_MODULE` names a module; importing it registers handlers::

    from activities.subscribers import SubscriberEvent, subscriber

    @subscriber("customer.created")
    async def send_welcome_email(event: SubscriberEvent) -> None:
        customer_id = event.data["id"]
        ...  # dedupe on event.metadata["delivery_id"]: a crash may deliver it again

A handler receives the event's name, payload (`{id}`) and metadata (delivery id, event id, the
run that released it, when). Returning is success; raising is retried with backoff (see
docs/events.md). Which subscribers an event has is fixed when the event is released: it is
recorded with the event (`event_plan`), so a worker with another module never changes it.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

LOCAL_PREFIX = "local:"


@dataclass(frozen=True)
class SubscriberEvent:
    name: str
    data: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[SubscriberEvent], Awaitable[None] | None]


class SubscriberRegistry:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._events: dict[str, frozenset[str]] = {}

    def register(self, events: Iterable[str], handler: Handler, name: str | None = None) -> str:
        """Register `handler` for `events`; returns its subscriber id (`local:<module>.<name>`)."""
        names = frozenset(events)
        if not names or not all(isinstance(e, str) and e for e in names):
            raise ValueError("a subscriber needs at least one event name")
        key = LOCAL_PREFIX + (name or f"{handler.__module__}.{handler.__qualname__}")
        self._handlers[key] = handler
        self._events[key] = names
        return key

    def unregister(self, key: str) -> None:
        self._handlers.pop(key, None)
        self._events.pop(key, None)

    def subscribed(self) -> dict[str, list[str]]:
        """Subscriber id → the events it wants."""
        return {key: sorted(events) for key, events in self._events.items()}

    def handler(self, key: str) -> Handler | None:
        return self._handlers.get(key)


registry = SubscriberRegistry()


def subscriber(*events: str, name: str | None = None) -> Callable[[Handler], Handler]:
    """Decorator registering a handler on the default registry for one or more events."""

    def decorate(handler: Handler) -> Handler:
        registry.register(events, handler, name)
        return handler

    return decorate


def load_subscribers_module(module: str | None) -> SubscriberRegistry:
    if module:
        importlib.import_module(module)
    return registry
