"""Event delivery on Temporal: the relay and one delivery workflow per (subscriber, customer).

The saga's release step records each released event's deliveries and signals the relay
(`EventRelayWorkflow`, one per task queue, started by that signal if it is not running). The
relay starts or nudges the delivery workflow of every lane with pending deliveries; that workflow
sends its lane's deliveries one by one in release order, each as an activity retried with
exponential backoff until the policy's window (24 h) ends, when the delivery is marked failed
and the run tagged `DeliveryStatus=failed` in the Web UI.

Which deliveries exist comes from the activities' results (the rows recorded at release time),
so a replay never asks the worker's configuration (DESIGN rule 11).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    # by its full name: `from workflows import policies` would load a copy per run (see base)
    import workflows.policies as policies
    from activities import delivery_stubs as stubs
    from activities.delivery_contracts import (
        MORE_SIGNAL,
        NEXT_BATCH,
        WAKE_SIGNAL,
        DeliveryRef,
        Dispatch,
        FailedDelivery,
        LaneInput,
        LaneRef,
        RelayInput,
    )

A = TypeVar("A")
T = TypeVar("T")

DELIVERY_STATUS = SearchAttributeKey.for_keyword("DeliveryStatus")
# The dev server allows three keyword lists (the customer attributes have them): the latest one.
FAILED_DELIVERY_ID = SearchAttributeKey.for_keyword("FailedDeliveryId")
BOOKKEEPING = timedelta(seconds=30)
ATTEMPT_SLACK = timedelta(seconds=5)


async def bookkeeping(
    activity: Callable[[A], Awaitable[T]],
    arg: A,
    summary: str,
    *,
    local: bool = True,
    limit: timedelta = BOOKKEEPING,
    retry: RetryPolicy = policies.COMPENSATION_RETRY,
) -> T:
    """A short database step (of the relay, a lane, or maintenance with `local=False`): by
    default a local activity, retried until it works."""
    run = workflow.execute_local_activity if local else workflow.execute_activity
    return await run(
        activity, arg, start_to_close_timeout=limit, retry_policy=retry, summary=summary
    )


@workflow.defn
class EventRelayWorkflow:
    """Woken by every release (signal `wake`, with the lanes that have new deliveries) and every
    `sweep_every_seconds` (a sweep of every lane with pending deliveries, which picks up a lost
    nudge): starts or nudges those lanes' delivery workflows. Wake-ups that arrive meanwhile are
    merged into the next round. Continues as new every `rounds_per_run` rounds (or when Temporal
    suggests it), so its history stays short."""

    def __init__(self) -> None:
        self._lanes: dict[tuple[str, str], LaneRef] = {}
        self._sweep = True  # a new run sweeps at once: nothing is lost across continue-as-new

    @workflow.signal(name=WAKE_SIGNAL)
    def wake(self, lanes: list[LaneRef] | None) -> None:
        if lanes is None:
            self._sweep = True
        for lane in lanes or ():
            self._lanes[(lane.subscriber, lane.lane)] = lane

    @workflow.run
    async def run(self, relay: RelayInput) -> None:
        for _ in range(relay.rounds_per_run):
            try:
                await workflow.wait_condition(
                    lambda: self._sweep or bool(self._lanes),
                    timeout=timedelta(seconds=relay.sweep_every_seconds),
                )
            except TimeoutError:
                self._sweep = True
            lanes = None if self._sweep else list(self._lanes.values())
            self._sweep, self._lanes = False, {}
            await bookkeeping(
                stubs.dispatch_deliveries,
                Dispatch(relay=relay, lanes=lanes),
                "start deliveries" if lanes is None else f"nudge {len(lanes)} lanes",
            )
            if workflow.info().is_continue_as_new_suggested():
                break
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(relay)


@workflow.defn
class DeliverEventsWorkflow:
    """One subscriber's deliveries for one customer, in release order.

    Steps: find the lane's next pending deliveries → deliver each (retried with exponential
    backoff for up to the policy's window); one that never succeeded is marked failed, and the
    run tagged `DeliveryStatus=failed`. Ends when the lane is empty and no `more` signal (the
    relay's nudge) came since it looked.
    """

    def __init__(self) -> None:
        self._more = False

    @workflow.signal(name=MORE_SIGNAL)
    def more(self) -> None:
        self._more = True

    @workflow.run
    async def run(self, lane: LaneInput) -> int:
        sent = 0
        while True:
            self._more = False
            batch = await bookkeeping(
                stubs.next_deliveries, lane, f"next deliveries to {lane.subscriber}"
            )
            for delivery in batch:
                sent += await self._deliver(lane, delivery)
            if len(batch) < NEXT_BATCH and not self._more:
                return sent
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(lane)

    async def _deliver(self, lane: LaneInput, delivery: str) -> int:
        policy = lane.policy
        try:
            await workflow.execute_activity(
                stubs.deliver,
                DeliveryRef(delivery_id=delivery, timeout_seconds=policy.attempt_timeout_seconds),
                # A worker that dies mid-attempt is noticed by its missing heartbeats.
                start_to_close_timeout=policy.attempt_timeout() + ATTEMPT_SLACK,
                schedule_to_close_timeout=policy.give_up_after(),
                heartbeat_timeout=ATTEMPT_SLACK * 2,
                retry_policy=RetryPolicy(
                    initial_interval=policy.first_retry(),
                    backoff_coefficient=2.0,
                    maximum_interval=policy.max_interval(),
                    non_retryable_error_types=["webhook_removed", "not_found"],
                ),
                summary=f"deliver {delivery} to {lane.subscriber}",
            )
            return 1
        except ActivityError as err:
            cause = err.cause or err
            reason = f"given up: {getattr(cause, 'message', None) or cause}"
            await bookkeeping(
                stubs.fail_delivery,
                FailedDelivery(delivery_id=delivery, subscriber=lane.subscriber, error=reason),
                f"mark {delivery} failed",
            )
            workflow.upsert_search_attributes(
                [DELIVERY_STATUS.value_set("failed"), FAILED_DELIVERY_ID.value_set(delivery)]
            )
            return 0
