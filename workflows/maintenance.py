"""Maintenance workflows: the scheduled invariant check and retention, and erasure.

`customers schedules apply` runs the first two nightly (Temporal Schedules); `customers erase`
starts the third.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import SearchAttributeKey

from workflows.events import bookkeeping

with workflow.unsafe.imports_passed_through():
    # by its full name: `from workflows import policies` would load a copy per run (see base)
    import workflows.policies as policies
    from activities import delivery_stubs as stubs
    from activities.delivery_contracts import (
        EraseInput,
        ErasureResult,
        PruneBatch,
        RelayInput,
        RetentionInput,
        RetentionResult,
        Violations,
    )
    from workflows.visibility import CUSTOMER_ID

A = TypeVar("A")
T = TypeVar("T")

INVARIANT_VIOLATIONS = SearchAttributeKey.for_int("InvariantViolations")
BATCH_TIMEOUT = timedelta(minutes=5)
BATCHES_PER_RUN = 200


async def batch_step(activity: Callable[[A], Awaitable[T]], arg: A, summary: str) -> T:
    """One maintenance step: an activity retried on infrastructure errors for hours."""
    retry = policies.FORWARD_RETRY
    return await bookkeeping(activity, arg, summary, local=False, limit=BATCH_TIMEOUT, retry=retry)


@workflow.defn
class InvariantCheckWorkflow:
    """The invariant checker (`customers check`) as a run: its result lists the violations;
    when there are any, the run is tagged `InvariantViolations=<n>` and counted in the
    `customer_flows_invariant_violations` metric."""

    @workflow.run
    async def run(self, relay: RelayInput) -> Violations:
        found = await batch_step(stubs.find_violations, relay, "check invariants")
        count = len(found.violations)
        workflow.upsert_search_attributes([INVARIANT_VIOLATIONS.value_set(count)])
        if count:
            workflow.metric_meter().create_counter(
                "customer_flows_invariant_violations", "Violations found by the invariant check"
            ).add(count)
        return found


@workflow.defn
class RetentionWorkflow:
    """Prunes operation-log entries and delivered outbox rows older than `older_than_days`,
    `batch` rows per activity (short transactions), until none is left; continues as new
    when its history grows long."""

    @workflow.run
    async def run(self, retention: RetentionInput) -> RetentionResult:
        done = retention.pruned.model_copy()
        for table in ("operation_log", "event_outbox"):
            for _ in range(BATCHES_PER_RUN):
                batch = PruneBatch(
                    table=table, older_than_days=retention.older_than_days, batch=retention.batch
                )
                pruned = await batch_step(stubs.prune, batch, f"prune {table}")
                setattr(done, table, getattr(done, table) + pruned)
                if pruned < retention.batch:
                    break
            else:
                workflow.continue_as_new(retention.model_copy(update={"pruned": done}))
        return done


@workflow.defn
class EraseCustomerWorkflow:
    """Erasure of one customer's personal data (GDPR art. 17).

    Steps: erase the customer, its addresses and memberships, the operation-log entries and
    events about it (with their deliveries) in one transaction, leaving a tombstone. No
    compensation: erasure is final. Repeat-safe: a repeat returns the first erasure's counts.
    """

    @workflow.run
    async def run(self, erase: EraseInput) -> ErasureResult:
        workflow.upsert_search_attributes([CUSTOMER_ID.value_set([erase.customer_id])])
        return await batch_step(stubs.erase_customer, erase, f"erase customer {erase.customer_id}")
