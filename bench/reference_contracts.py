"""The bare reference workflow's input, its no-op activity and the search-attribute keys a
tagged run upserts (the product's own). Pure and deterministic: `reference_workflow` passes this
module through the sandbox, as the product's workflow modules pass through their contracts
(Temporal's guidance), so a reference run re-imports only its workflow's own small module, as
the product's runs do."""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import activity

from workflows.visibility import CUSTOMER_ID, SAGA_STATUS

__all__ = ["CUSTOMER_ID", "SAGA_STATUS", "ReferenceInput", "bench_noop"]


class ReferenceInput(BaseModel):
    activities: int = 2
    hold: bool = False  # wait for the `release` signal before the activities (runs kept open)
    local: int = 0  # how many of the activities, from the first, run as local activities
    # Tagged as a create is (the client gives SagaStatus and CustomerEmail at start): the run
    # upserts this CustomerId and SagaStatus=completed at its end, as the saga does.
    customer_id: str | None = None


@activity.defn(name="bench_noop")
async def bench_noop(step: int) -> int:
    return step
