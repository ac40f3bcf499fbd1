"""CreateCustomerAccountWorkflow: create-customer-account (storefront registration). Its module
holds this one workflow class: the sandbox re-imports it for every run."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    # by its full name: `from workflows import steps` would load a copy per run (see base)
    import workflows.steps as steps
    from activities import stubs
    from activities.contracts import (
        LinkAuthIdentityStep,
        ValidateAccountStep,
    )
    from workflows.base import SagaWorkflow
    from workflows.contracts import (
        CreateCustomerAccountInput,
        CustomerResult,
    )


@workflow.defn
class CreateCustomerAccountWorkflow(SagaWorkflow):
    """create-customer-account (storefront registration).

    Steps: validate (email required; an existing account for the email is a duplicate_error) →
    create the customer with `has_account = true`, its `auth_identity_id` recording the identity
    it registered with (compensation: delete it) → hook `customersCreated` → link the auth
    identity to it, `app_metadata.customer_id` (Medusa's set-auth-app-metadata; a link to
    another customer is invalid_data; compensation: unlink) → release `customer.created`.
    """

    @workflow.run
    async def run(self, input: CreateCustomerAccountInput) -> CustomerResult:
        async with self.saga.run(input.hooks):
            data = input.customer_data
            self.saga.tag(emails=[data.email])
            await self.saga.step(
                stubs.validate_customer_account_creation,
                ValidateAccountStep(email=data.email, auth_identity_id=input.auth_identity_id),
                summary=f"Validate account creation for {data.email}",
            )
            identity = input.auth_identity_id
            customer = data.model_copy(update={"has_account": True, "auth_identity_id": identity})
            # The link decides (it fails if the identity belongs to another customer): the pivot.
            created = await steps.create_customers(self.saga, [customer], None, pivot=False)
            customer_id = created[0].id
            await self.saga.step(
                stubs.link_auth_identity,
                LinkAuthIdentityStep(
                    auth_identity_id=identity, customer_id=customer_id, **self.saga.new_write()
                ),
                summary=f"Link auth identity {identity} to customer {customer_id}",
                undo=(
                    stubs.undo_link_auth_identity,
                    f"compensate: unlink auth identity {identity}",
                ),
                pivot=True,
            )
            return CustomerResult(customer=created[0])
