"""UpdateCustomerAddressesWorkflow: update-customer-addresses. Its module holds this one workflow
class: the sandbox re-imports it for every run."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    # by its full name: `from workflows import steps` would load a copy per run (see base)
    import workflows.steps as steps
    from activities import stubs
    from activities.contracts import (
        ListQuery,
    )
    from customer_service.schemas import UpdateAddressInput
    from workflows.base import SagaWorkflow, validated
    from workflows.contracts import (
        AddressesResult,
        UpdateCustomerAddressesInput,
    )


@workflow.defn
class UpdateCustomerAddressesWorkflow(SagaWorkflow):
    """update-customer-addresses.

    Steps: when the update sets a default flag, read the matched addresses' customers and, in
    parallel, unset their current defaults (compensation: set back) → update the addresses,
    recording what was replaced (compensation: compare-and-set back) → hook `addressesUpdated`.
    """

    @workflow.run
    async def run(self, input: UpdateCustomerAddressesInput) -> AddressesResult:
        async with self.saga.run(input.hooks):
            changes = validated(UpdateAddressInput, input.update, "update")
            fields = changes.model_dump(exclude_unset=True, mode="json")
            flags = [f for f in steps.FLAGS if fields.get(f)]
            if flags:
                matched = await self.saga.step(
                    stubs.list_customer_addresses,
                    ListQuery(filters=input.selector, config={"select": ["id", "customer_id"]}),
                    summary="Read the addresses to update",
                )
                customers = sorted({fields.get("customer_id") or r["customer_id"] for r in matched})
                await steps.unset_defaults(self.saga, {f: customers for f in flags})
            updated = await steps.update(
                self.saga,
                stubs.update_customer_addresses,
                stubs.undo_update_customer_addresses,
                "address",
                input.selector,
                fields,
                f"Update address(es): {', '.join(fields) or 'no fields'}",
            )
            self.saga.tag(customer_ids=sorted({a.customer_id for a in updated if a.customer_id}))
            return await steps.announced(
                self.saga, "addressesUpdated", updated, input.additional_data
            )
