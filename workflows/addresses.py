"""Customer address workflows (SPEC §4.3, 4.4, 4.5). No events, as in Medusa."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow

from workflows import steps
from workflows.base import SagaWorkflow, validated
from workflows.saga import Saga

with workflow.unsafe.imports_passed_through():
    from activities.models import (
        CreateAddressesStep,
        DefaultFlag,
        DeleteAddressesStep,
        ListQuery,
        Undo,
        UnsetDefaultsStep,
    )
    from customer_service import ids
    from customer_service.schemas import AddressDTO, UpdateAddressInput
    from workflows.models import (
        AddressesResult,
        CreateCustomerAddressesInput,
        DeleteCustomerAddressesInput,
        IdsResult,
        UpdateCustomerAddressesInput,
    )

FLAGS: tuple[DefaultFlag, DefaultFlag] = ("is_default_shipping", "is_default_billing")


async def unset_defaults(saga: Saga, customers_by_flag: dict[DefaultFlag, list[str]]) -> None:
    """maybe-unset-default-shipping / -billing, in parallel: take the flag off the customers'
    current default addresses (compensation: give it back to exactly those addresses)."""

    async def unset(flag: DefaultFlag, customer_ids: list[str]) -> None:
        op = saga.operation_id()
        label = flag.removeprefix("is_").replace("_", " ")
        await saga.step(
            "unset_default_addresses",
            UnsetDefaultsStep(customer_ids=customer_ids, flag=flag, operation_id=op,
                              event_group_id=saga.event_group_id),
            result_type=list[str],
            summary=f"Unset previous {label} address of {', '.join(customer_ids[:3])}",
            compensation=("reset_default_addresses", Undo(operation_id=op, flag=flag),
                          f"compensate: restore previous {label} address"),
        )  # fmt: skip

    # Both settle before a failure propagates, so compensation never starts beside a step
    # still in flight (runs from before `local-first-steps` replay as they ran).
    outcomes = await asyncio.gather(
        *(unset(flag, sorted(set(c))) for flag, c in customers_by_flag.items() if c),
        return_exceptions=saga.local_first,
    )
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


@workflow.defn
class CreateCustomerAddressesWorkflow(SagaWorkflow):
    """create-customer-addresses.

    Steps: in parallel, unset the previous default shipping / billing address of customers whose
    new address is default (compensation: set it back) → create the addresses (compensation:
    delete them) → hook `addressesCreated`.
    """

    @workflow.run
    async def run(self, input: CreateCustomerAddressesInput) -> AddressesResult:
        async def body() -> AddressesResult:
            addresses = [
                a.model_copy(update={"id": a.id or self.saga.new_id(ids.ADDRESS)})
                for a in input.addresses
            ]
            self.saga.tag(customer_ids=sorted({a.customer_id for a in addresses}))
            await unset_defaults(
                self.saga,
                {f: [a.customer_id for a in addresses if getattr(a, f)] for f in FLAGS},
            )
            op = self.saga.operation_id()
            created = await self.saga.step(
                "create_customer_addresses",
                CreateAddressesStep(addresses=addresses, operation_id=op, event_group_id=self.saga.event_group_id),
                result_type=list[AddressDTO],
                summary=f"Create {len(addresses)} address(es)",
                compensation=("delete_created_addresses", Undo(operation_id=op),
                              "compensate: delete created address(es)"),
            )  # fmt: skip
            await self.saga.hook(
                "addressesCreated",
                {"addresses": [a.model_dump(mode="json") for a in created]},
                input.additional_data,
            )
            return AddressesResult(addresses=created)

        return await self.saga.run(body)


@workflow.defn
class UpdateCustomerAddressesWorkflow(SagaWorkflow):
    """update-customer-addresses.

    Steps: when the update sets a default flag, read the matched addresses' customers and, in
    parallel, unset their current defaults (compensation: set back) → update the addresses,
    recording what was replaced (compensation: compare-and-set back) → hook `addressesUpdated`.
    """

    @workflow.run
    async def run(self, input: UpdateCustomerAddressesInput) -> AddressesResult:
        async def body() -> AddressesResult:
            changes = validated(UpdateAddressInput, input.update, "update")
            fields = changes.model_dump(exclude_unset=True, mode="json")
            flags = [f for f in FLAGS if fields.get(f)]
            if flags:
                matched = await self.saga.step(
                    "list_entities",
                    ListQuery(entity="address", filters=input.selector,
                              config={"select": ["id", "customer_id"]}),
                    result_type=list[dict[str, Any]],
                    summary="Read the addresses to update",
                )  # fmt: skip
                customers = sorted({fields.get("customer_id") or r["customer_id"] for r in matched})
                await unset_defaults(self.saga, {f: customers for f in flags})
            outcome = await steps.update(
                self.saga, "address", input.selector, fields,
                f"Update address(es): {', '.join(fields) or 'no fields'}",
            )  # fmt: skip
            self.saga.tag(customer_ids=sorted({r["customer_id"] for r in outcome.rows}))
            await self.saga.hook(
                "addressesUpdated", {"addresses": outcome.rows}, input.additional_data
            )
            return AddressesResult(addresses=[AddressDTO.model_validate(r) for r in outcome.rows])

        return await self.saga.run(body)


@workflow.defn
class DeleteCustomerAddressesWorkflow(SagaWorkflow):
    """delete-customer-addresses.

    Steps: hard-delete the addresses, recording the rows (compensation: put the same rows back,
    same ids) → hook `addressesDeleted`. An unknown id is not_found (decision 5).
    """

    @workflow.run
    async def run(self, input: DeleteCustomerAddressesInput) -> IdsResult:
        async def body() -> IdsResult:
            op = self.saga.operation_id()
            rows = await self.saga.step(
                "delete_customer_addresses",
                DeleteAddressesStep(ids=input.ids, operation_id=op, event_group_id=self.saga.event_group_id),
                result_type=list[dict[str, Any]],
                summary=f"Delete address(es) {', '.join(input.ids[:3])}",
                compensation=("reinsert_deleted_addresses", Undo(operation_id=op),
                              "compensate: re-create deleted address(es)"),
            )  # fmt: skip
            self.saga.tag(customer_ids=sorted({r["customer_id"] for r in rows}))
            await self.saga.hook("addressesDeleted", {"ids": input.ids}, None)
            return IdsResult(ids=input.ids)

        return await self.saga.run(body)
