"""UpdateCustomersWorkflow: update-customers. Its module holds this one workflow class: the sandbox
re-imports it for every run."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    # by its full name: `from workflows import steps` would load a copy per run (see base)
    import workflows.steps as steps
    from activities import stubs
    from customer_service.schemas import UpdateCustomerInput
    from workflows.base import SagaWorkflow, validated
    from workflows.contracts import (
        CustomersResult,
        UpdateCustomersInput,
    )


@workflow.defn
class UpdateCustomersWorkflow(SagaWorkflow):
    """update-customers.

    Steps: update the selected customers, recording the values replaced (compensation:
    compare-and-set them back, every field — company_name included) → hook `customersUpdated` →
    release `customer.updated` per customer.
    """

    @workflow.run
    async def run(self, input: UpdateCustomersInput) -> CustomersResult:
        async with self.saga.run(input.hooks):
            changes = validated(UpdateCustomerInput, input.update, "update")
            fields = changes.model_dump(exclude_unset=True, mode="json")
            target = input.selector.get("id")
            updated = await steps.update(
                self.saga,
                stubs.update_customers,
                stubs.undo_update_customers,
                "customer",
                input.selector,
                fields,
                f"Update customer(s) {steps.described(target)}: {', '.join(fields) or 'no fields'}",
            )
            self.saga.tag(
                customer_ids=[c.id for c in updated.customers if c.id],
                emails=[*(c.email for c in updated.customers), *updated.previous_emails],
            )
            await self.saga.hook(
                "customersUpdated",
                {"customers": [c.model_dump(mode="json") for c in updated.customers]},
                input.additional_data,
            )
            return CustomersResult(customers=updated.customers)
