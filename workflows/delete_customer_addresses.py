"""DeleteCustomerAddressesWorkflow: delete-customer-addresses. Its module holds this one workflow
class: the sandbox re-imports it for every run."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import stubs
    from activities.contracts import (
        DeleteAddressesStep,
    )
    from workflows.base import SagaWorkflow
    from workflows.contracts import (
        DeleteCustomerAddressesInput,
        IdsResult,
    )
    from workflows.visibility import short


@workflow.defn
class DeleteCustomerAddressesWorkflow(SagaWorkflow):
    """delete-customer-addresses.

    Steps: hard-delete the addresses, recording the rows (compensation: put the same rows back,
    same ids) → hook `addressesDeleted`. An unknown id is not_found (decision 5).
    """

    @workflow.run
    async def run(self, input: DeleteCustomerAddressesInput) -> IdsResult:
        async with self.saga.run(input.hooks):
            deleted = await self.saga.step(
                stubs.delete_customer_addresses,
                DeleteAddressesStep(ids=input.ids, **self.saga.new_write()),
                summary=f"Delete address(es) {short(input.ids)}",
                undo=(
                    stubs.undo_delete_customer_addresses,
                    "compensate: re-create deleted address(es)",
                ),
                pivot=True,
            )
            self.saga.tag(customer_ids=sorted({a.customer_id for a in deleted if a.customer_id}))
            await self.saga.hook("addressesDeleted", {"ids": input.ids}, None)
            return IdsResult(ids=input.ids)
