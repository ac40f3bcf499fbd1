"""CreateCustomersWorkflow: create-customers. Its module holds this one workflow class: the sandbox
re-imports it for every run."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    # by its full name: `from workflows import steps` would load a copy per run (see base)
    import workflows.steps as steps
    from workflows.base import SagaWorkflow
    from workflows.contracts import (
        CreateCustomersInput,
        CustomersResult,
    )


@workflow.defn
class CreateCustomersWorkflow(SagaWorkflow):
    """create-customers.

    Steps: create customers with nested addresses (compensation: hard-delete what was created) →
    hook `customersCreated` → release the staged `customer.created` events (one per customer).
    """

    @workflow.run
    async def run(self, input: CreateCustomersInput) -> CustomersResult:
        async with self.saga.run(input.hooks):
            created = await steps.create_customers(
                self.saga, input.customers_data, input.additional_data
            )
            return CustomersResult(customers=created)
