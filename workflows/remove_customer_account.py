"""RemoveCustomerAccountWorkflow: remove-customer-account. Its module holds this one workflow
class: the sandbox re-imports it for every run."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    # by its full name: `from workflows import steps` would load a copy per run (see base)
    import workflows.steps as steps
    from activities import stubs
    from activities.contracts import (
        ListQuery,
        RemoveAuthIdentityStep,
    )
    from workflows.base import SagaWorkflow
    from workflows.contracts import (
        IdsResult,
        RemoveCustomerAccountInput,
    )


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
