"""DeleteCustomersWorkflow: delete-customers. Its module holds this one workflow class: the sandbox
re-imports it for every run."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    # by its full name: `from workflows import steps` would load a copy per run (see base)
    import workflows.steps as steps
    from workflows.base import SagaWorkflow
    from workflows.contracts import (
        DeleteCustomersInput,
        IdsResult,
    )


@workflow.defn
class DeleteCustomersWorkflow(SagaWorkflow):
    """delete-customers.

    Steps: soft-delete the customers and their addresses (compensation: restore exactly those) →
    hook `customersDeleted` → release `customer.deleted` per id.
    """

    @workflow.run
    async def run(self, input: DeleteCustomersInput) -> IdsResult:
        async with self.saga.run(input.hooks):
            await steps.soft_delete_customers(self.saga, input.ids)
            return IdsResult(ids=input.ids)
