"""Customer workflows (SPEC §4.1, 4.2, 4.6, 4.7, 4.8)."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

from workflows import steps
from workflows.base import SagaWorkflow, not_found, validated

with workflow.unsafe.imports_passed_through():
    from activities.models import ListQuery, SetAuthIdentityStep, Undo, ValidateAccountStep
    from customer_service.schemas import CustomerDTO, UpdateCustomerInput
    from workflows.models import (
        CreateCustomerAccountInput,
        CreateCustomersInput,
        CustomerResult,
        CustomersResult,
        DeleteCustomersInput,
        IdsResult,
        RemoveCustomerAccountInput,
        UpdateCustomersInput,
    )


@workflow.defn
class CreateCustomersWorkflow(SagaWorkflow):
    """create-customers.

    Steps: create customers with nested addresses (compensation: hard-delete what was created) →
    hook `customersCreated` → release the staged `customer.created` events (one per customer).
    """

    @workflow.run
    async def run(self, input: CreateCustomersInput) -> CustomersResult:
        async def body() -> CustomersResult:
            created = await steps.create_customers(
                self.saga, input.customers_data, input.additional_data
            )
            return CustomersResult(customers=created)

        return await self.saga.run(body)


@workflow.defn
class UpdateCustomersWorkflow(SagaWorkflow):
    """update-customers.

    Steps: update the selected customers, recording the values replaced (compensation:
    compare-and-set them back, every field — company_name included) → hook `customersUpdated` →
    release `customer.updated` per customer.
    """

    @workflow.run
    async def run(self, input: UpdateCustomersInput) -> CustomersResult:
        async def body() -> CustomersResult:
            changes = validated(UpdateCustomerInput, input.update, "update")
            fields = changes.model_dump(exclude_unset=True, mode="json")
            outcome = await steps.update(
                self.saga, "customer", input.selector, fields,
                f"Update customer(s) {self._target(input)}: {', '.join(fields) or 'no fields'}",
            )  # fmt: skip
            customers = [CustomerDTO.model_validate(r) for r in outcome.rows]
            self.saga.tag(
                customer_ids=outcome.ids,
                emails=[c.email for c in customers] + [p.get("email") for p in outcome.previous],
            )
            await self.saga.hook(
                "customersUpdated", {"customers": outcome.rows}, input.additional_data
            )
            return CustomersResult(customers=customers)

        return await self.saga.run(body)

    @staticmethod
    def _target(input: UpdateCustomersInput) -> str:
        target = input.selector.get("id")
        if isinstance(target, str):
            return target
        if isinstance(target, list):
            return ", ".join(str(t) for t in target[:3]) + ("…" if len(target) > 3 else "")
        return "matching the selector"


@workflow.defn
class DeleteCustomersWorkflow(SagaWorkflow):
    """delete-customers.

    Steps: soft-delete the customers and their addresses (compensation: restore exactly those) →
    hook `customersDeleted` → release `customer.deleted` per id.
    """

    @workflow.run
    async def run(self, input: DeleteCustomersInput) -> IdsResult:
        async def body() -> IdsResult:
            await steps.soft_delete_customers(self.saga, input.ids)
            return IdsResult(ids=input.ids)

        return await self.saga.run(body)


@workflow.defn
class CreateCustomerAccountWorkflow(SagaWorkflow):
    """create-customer-account (storefront registration).

    Steps: validate (email required; an existing account for the email is a duplicate_error) →
    create the customer with `has_account = true` and the auth identity linked in the same row
    (decision 8; compensation: delete it) → hook `customersCreated` → release `customer.created`.
    """

    @workflow.run
    async def run(self, input: CreateCustomerAccountInput) -> CustomerResult:
        async def body() -> CustomerResult:
            data = input.customer_data
            self.saga.tag(emails=[data.email])
            await self.saga.step(
                "validate_customer_account_creation",
                ValidateAccountStep(email=data.email, auth_identity_id=input.auth_identity_id),
                result_type=type(None),
                summary=f"Validate account creation for {data.email}",
            )
            customer = data.model_copy(
                update={"has_account": True, "auth_identity_id": input.auth_identity_id}
            )
            created = await steps.create_customers(self.saga, [customer], None)
            return CustomerResult(customer=created[0])

        return await self.saga.run(body)


@workflow.defn
class RemoveCustomerAccountWorkflow(SagaWorkflow):
    """remove-customer-account.

    Steps: read the customer → soft-delete it (nested delete-customers; compensation: restore) →
    for a registered customer, unlink its auth identity (compensation: link it again; no identity
    is a not_found error, which restores the customer) → release `customer.deleted`.
    """

    @workflow.run
    async def run(self, input: RemoveCustomerAccountInput) -> IdsResult:
        async def body() -> IdsResult:
            customer_id = input.customer_id
            self.saga.tag(customer_ids=[customer_id])
            rows = await self.saga.step(
                "list_entities",
                ListQuery(entity="customer", filters={"id": customer_id},
                          config={"select": ["id", "email", "has_account", "auth_identity_id"]}),
                result_type=list[dict[str, Any]],
                summary=f"Read customer {customer_id}",
            )  # fmt: skip
            if not rows:
                raise not_found(f"Customer with id: {customer_id} was not found", "customer_id")
            customer = rows[0]
            self.saga.tag(emails=[customer.get("email")])
            await steps.soft_delete_customers(self.saga, [customer_id])
            if customer["has_account"]:
                auth_identity_id = customer.get("auth_identity_id")
                if not auth_identity_id:
                    raise not_found("Auth identity not found", "auth_identity_id")
                op = self.saga.operation_id()
                await self.saga.step(
                    "set_auth_identity",
                    SetAuthIdentityStep(customer_id=customer_id, auth_identity_id=None,
                                        expected=auth_identity_id, operation_id=op, event_group_id=self.saga.event_group_id),
                    result_type=type(None),
                    summary=f"Unlink auth identity {auth_identity_id}",
                    compensation=("restore_auth_identity", Undo(operation_id=op),
                                  f"compensate: link auth identity {auth_identity_id} again"),
                )  # fmt: skip
            return IdsResult(ids=[customer_id])

        return await self.saga.run(body)
