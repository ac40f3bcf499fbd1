"""The bare reference workflow of `bench/bench_flows.py`: `activities` no-op activities, the first
`local` of them local. Its module holds this one workflow class: the sandbox re-imports it for
every run, as it does each of the product's workflow modules."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from reference_contracts import CUSTOMER_ID, SAGA_STATUS, ReferenceInput, bench_noop


@workflow.defn(name="BenchReferenceWorkflow")
class ReferenceWorkflow:
    """`activities` sequential no-op activities, with the saga's forward timeouts and retry; the
    first `local` of them local activities with the saga's local-attempt options (as a run's
    first step runs)."""

    def __init__(self) -> None:
        self._released = False

    @workflow.signal
    def release(self) -> None:
        self._released = True

    @workflow.query
    def held(self) -> bool:
        return not self._released

    @workflow.run
    async def run(self, input: ReferenceInput) -> int:
        if input.hold:
            await workflow.wait_condition(lambda: self._released)
        for step in range(input.activities):
            if step < input.local:
                await workflow.execute_local_activity(
                    bench_noop,
                    step,
                    start_to_close_timeout=timedelta(seconds=5),
                    retry_policy=RetryPolicy(maximum_attempts=1),
                    cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                )
                continue
            await workflow.execute_activity(
                bench_noop,
                step,
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=timedelta(hours=6),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(milliseconds=200),
                    maximum_interval=timedelta(seconds=30),
                ),
            )
        if input.customer_id:
            workflow.upsert_search_attributes(
                [CUSTOMER_ID.value_set([input.customer_id]), SAGA_STATUS.value_set("completed")]
            )
        return input.activities
