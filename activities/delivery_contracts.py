"""Inputs and outputs of the delivery, maintenance and erasure activities and workflows.

Pure module (pydantic only): workflows import it through the sandbox's pass-through.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from activities.contracts import Contract

RELAY_WORKFLOW = "EventRelayWorkflow"
LANE_WORKFLOW = "DeliverEventsWorkflow"
WAKE_SIGNAL = "wake"
MORE_SIGNAL = "more"


def relay_id(task_queue: str) -> str:
    """One relay per task queue: the id every release signals."""
    return f"event-relay:{task_queue}"


def lane_workflow_id(task_queue: str, subscriber: str, lane: str) -> str:
    return f"event-delivery:{task_queue}:{subscriber}:{lane}"


class DeliveryPolicy(Contract):
    """How long and how often a delivery is tried: exponential backoff from `first_retry` to
    `max_interval`, each attempt cut at `attempt_timeout`, given up (failed) after
    `give_up_after` (24 h by default)."""

    first_retry_seconds: float = 1.0
    max_interval_seconds: float = 3600.0
    give_up_after_seconds: float = 86400.0
    attempt_timeout_seconds: float = 10.0

    def first_retry(self) -> timedelta:
        return timedelta(seconds=self.first_retry_seconds)

    def max_interval(self) -> timedelta:
        return timedelta(seconds=self.max_interval_seconds)

    def give_up_after(self) -> timedelta:
        return timedelta(seconds=self.give_up_after_seconds)

    def attempt_timeout(self) -> timedelta:
        return timedelta(seconds=self.attempt_timeout_seconds)


class RelayInput(Contract):
    task_queue: str
    policy: DeliveryPolicy = DeliveryPolicy()
    sweep_every_seconds: float = 300.0
    rounds_per_run: int = 500


class LaneRef(Contract):
    subscriber: str
    lane: str


class Dispatch(Contract):
    """Start or nudge these lanes' delivery workflows; `lanes` None: every lane with pending
    deliveries (a sweep)."""

    relay: RelayInput
    lanes: list[LaneRef] | None = None


class LaneInput(Contract):
    """The deliveries of one subscriber for one customer (lane), sent in release order."""

    subscriber: str
    lane: str
    policy: DeliveryPolicy = DeliveryPolicy()


NEXT_BATCH = 20


class DeliveryRef(Contract):
    delivery_id: str
    timeout_seconds: float = 10.0


class FailedDelivery(Contract):
    delivery_id: str
    subscriber: str
    error: str


class Violations(Contract):
    violations: list[dict[str, Any]]


class PruneBatch(Contract):
    table: Literal["operation_log", "event_outbox"]
    older_than_days: float = 30.0
    batch: int = 1000


class RetentionResult(Contract):
    operation_log: int = 0
    event_outbox: int = 0


class RetentionInput(Contract):
    """`pruned`: what earlier runs of this chain pruned (carried over continue-as-new)."""

    older_than_days: float = 30.0
    batch: int = 1000
    pruned: RetentionResult = RetentionResult()


class EraseInput(Contract):
    customer_id: str


class ErasureResult(Contract):
    customer_id: str
    removed: dict[str, int]
