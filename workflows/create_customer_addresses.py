"""CreateCustomerAddressesWorkflow: create-customer-addresses. Its module holds this one workflow
class: the sandbox re-imports it for every run."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    # by its full name: `from workflows import steps` would load a copy per run (see base)
    import workflows.steps as steps
    from activities import stubs
    from activities.contracts import (
        CreateAddressesStep,
    )
    from customer_service import ids
    from workflows.base import SagaWorkflow
    from workflows.contracts import (
        AddressesResult,
        CreateCustomerAddressesInput,
    )


@workflow.defn
class CreateCustomerAddressesWorkflow(SagaWorkflow):
    """create-customer-addresses.

    Steps: in parallel, unset the previous default shipping / billing address of customers whose
    new address is default (compensation: set it back) → create the addresses (compensation:
    delete them) → hook `addressesCreated`.
    """

    @workflow.run
    async def run(self, input: CreateCustomerAddressesInput) -> AddressesResult:
        async with self.saga.run(input.hooks):
            addresses = [
                a.model_copy(update={"id": a.id or self.saga.new_id(ids.ADDRESS)})
                for a in input.addresses
            ]
            self.saga.tag(customer_ids=sorted({a.customer_id for a in addresses}))
            await steps.unset_defaults(
                self.saga,
                {f: [a.customer_id for a in addresses if getattr(a, f)] for f in steps.FLAGS},
            )
            created = await self.saga.step(
                stubs.create_customer_addresses,
                CreateAddressesStep(addresses=addresses, **self.saga.new_write()),
                summary=f"Create {len(addresses)} address(es)",
                undo=(
                    stubs.undo_create_customer_addresses,
                    "compensate: delete created address(es)",
                ),
                pivot=True,
            )
            return await steps.announced(
                self.saga, "addressesCreated", created, input.additional_data
            )
