# mypy: disable-error-code="empty-body"
"""Typed references to `DeliveryActivities` for workflows (see `activities.stubs`; the same
agreement test covers these). Pure module."""

from __future__ import annotations

from temporalio import activity

from activities.delivery_contracts import (
    DeliveryRef,
    Dispatch,
    EraseInput,
    ErasureResult,
    FailedDelivery,
    LaneInput,
    PruneBatch,
    RelayInput,
    Violations,
)


@activity.defn
async def dispatch_deliveries(dispatch: Dispatch) -> int: ...


@activity.defn
async def next_deliveries(lane: LaneInput) -> list[str]: ...


@activity.defn
async def deliver(ref: DeliveryRef) -> bool: ...


@activity.defn
async def fail_delivery(failed: FailedDelivery) -> bool: ...


@activity.defn
async def find_violations(relay: RelayInput) -> Violations: ...


@activity.defn
async def prune(batch: PruneBatch) -> int: ...


@activity.defn
async def erase_customer(erase: EraseInput) -> ErasureResult: ...
