"""Customer workflows (SPEC §4.1, 4.2, 4.6, 4.7, 4.8)."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    # by its full name: `from workflows import steps` would load a copy per run (see base)
    import workflows.steps as steps
    from activities import stubs
    from activities.contracts import (
        LinkAuthIdentityStep,
        ListQuery,
        RemoveAuthIdentityStep,
        ValidateAccountStep,
    )
    from customer_service.schemas import UpdateCustomerInput
    from workflows.base import SagaWorkflow, validated
    from workflows.contracts import (
        CreateCustomerAccountInput,
        CreateCustomersInput,
        CustomerResult,
        CustomersResult,
        DeleteCustomersInput,
        IdsResult,
        RemoveCustomerAccountInput,
        UpdateCustomersInput,
    )
    from workflows.visibility import short


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
                f"Update customer(s) {_described(target)}: {', '.join(fields) or 'no fields'}",
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


def _described(target: object) -> str:
    if isinstance(target, str):
        return target
    if isinstance(target, list):
        return short([str(t) for t in target])
    return "matching the selector"


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


@workflow.defn
class RemoveCustomerAccountWorkflow(SagaWorkflow):
    """remove-customer-account.

    Steps: read the customer (unknown or deleted already: done, decision 10) → soft-delete it
    (nested delete-customers; compensation: restore) → for a registered customer, delete the
    auth identity whose `app_metadata.customer_id` it is, or only unlink it when it also belongs
    to an admin user (compensation: re-create it with the same id and password hash, or link it
    again; no identity is a not_found error, which restores the customer) → release
    `customer.deleted`. The customer's `auth_identity_id` stays on the soft-deleted row.
    """

    @workflow.run
    async def run(self, input: RemoveCustomerAccountInput) -> IdsResult:
        async with self.saga.run(input.hooks):
            customer_id = input.customer_id
            self.saga.tag(customer_ids=[customer_id])
            rows = await self.saga.step(
                stubs.list_customers,
                ListQuery(
                    filters={"id": customer_id},
                    config={"select": ["id", "email", "has_account", "auth_identity_id"]},
                ),
                summary=f"Read customer {customer_id}",
            )
            if not rows:  # unknown or deleted already: done (decision 10)
                return IdsResult(ids=[customer_id])
            customer = rows[0]
            self.saga.tag(emails=[customer.get("email")])
            await steps.soft_delete_customers(self.saga, [customer_id], pivot=False)
            if customer["has_account"]:
                await self.saga.step(
                    stubs.remove_auth_identity,
                    RemoveAuthIdentityStep(
                        customer_id=customer_id,
                        auth_identity_id=customer.get("auth_identity_id"),
                        **self.saga.new_write(),
                    ),
                    summary=f"Delete the auth identity of customer {customer_id}",
                    undo=(
                        stubs.undo_remove_auth_identity,
                        f"compensate: re-create the auth identity of customer {customer_id}",
                    ),
                )
            return IdsResult(ids=[customer_id])
