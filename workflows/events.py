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

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities import delivery_stubs as stubs
    from activities.delivery_contracts import (
        MORE_SIGNAL,
        WAKE_SIGNAL,
        DeliveryRef,
        FailedDelivery,
        LaneInput,
        RelayInput,
    )
    from workflows import policies

DELIVERY_STATUS = SearchAttributeKey.for_keyword("DeliveryStatus")
# The dev server allows three keyword lists (the customer attributes have them): the latest one.
FAILED_DELIVERY_ID = SearchAttributeKey.for_keyword("FailedDeliveryId")
BOOKKEEPING = timedelta(seconds=30)
ATTEMPT_SLACK = timedelta(seconds=5)


@workflow.defn
class EventRelayWorkflow:
    """Woken by every release (signal `wake`) and every `sweep_every_seconds`: starts the
    delivery workflow of each lane with pending deliveries. Continues as new every
    `rounds_per_run` rounds (or when Temporal suggests it), so its history stays short."""

    def __init__(self) -> None:
        self._wakes = 0
        self._handled = 0
        self.sweeps = 0

    @workflow.signal(name=WAKE_SIGNAL)
    def wake(self) -> None:
        self._wakes += 1

    @workflow.run
    async def run(self, relay: RelayInput) -> None:
        self._handled = -1  # a new run dispatches at once: a wake-up may have come with its start
        for _ in range(relay.rounds_per_run):
            try:
                await workflow.wait_condition(
                    lambda: self._wakes > self._handled,
                    timeout=timedelta(seconds=relay.sweep_every_seconds),
                )
            except TimeoutError:
                self.sweeps += 1  # lanes left by a lost nudge or a redelivery are picked up
            self._handled = self._wakes
            await workflow.execute_activity(
                stubs.dispatch_deliveries,
                relay,
                start_to_close_timeout=BOOKKEEPING,
                heartbeat_timeout=BOOKKEEPING,
                retry_policy=policies.COMPENSATION_RETRY,
                summary="start deliveries",
            )
            if workflow.info().is_continue_as_new_suggested():
                break
        workflow.continue_as_new(relay)


@workflow.defn
class DeliverEventsWorkflow:
    """One subscriber's deliveries for one customer, in release order.

    Steps, per delivery: find the lane's next pending delivery → deliver it (retried with
    exponential backoff for up to the policy's window) → if it never succeeded, mark it failed.
    Ends when the lane is empty; a `more` signal (the relay's nudge) keeps it going.
    """

    def __init__(self) -> None:
        self._more = False

    @workflow.signal(name=MORE_SIGNAL)
    def more(self) -> None:
        self._more = True

    @workflow.run
    async def run(self, lane: LaneInput) -> int:
        policy = lane.policy
        sent = 0
        while True:
            self._more = False
            delivery = await workflow.execute_activity(
                stubs.next_delivery,
                lane,
                start_to_close_timeout=BOOKKEEPING,
                retry_policy=policies.COMPENSATION_RETRY,
                summary=f"next delivery to {lane.subscriber}",
            )
            if delivery is None:
                if self._more:
                    continue
                return sent
            try:
                await workflow.execute_activity(
                    stubs.deliver,
                    DeliveryRef(
                        delivery_id=delivery, timeout_seconds=policy.attempt_timeout_seconds
                    ),
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
                sent += 1
            except ActivityError as err:
                await self._give_up(lane, delivery, err)
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(lane)

    async def _give_up(self, lane: LaneInput, delivery: str, err: ActivityError) -> None:
        cause = err.cause or err
        reason = f"given up: {getattr(cause, 'message', None) or cause}"
        await workflow.execute_activity(
            stubs.fail_delivery,
            FailedDelivery(delivery_id=delivery, subscriber=lane.subscriber, error=reason),
            start_to_close_timeout=BOOKKEEPING,
            retry_policy=policies.COMPENSATION_RETRY,
            summary=f"mark {delivery} failed",
        )
        workflow.upsert_search_attributes(
            [DELIVERY_STATUS.value_set("failed"), FAILED_DELIVERY_ID.value_set(delivery)]
        )
