"""Customer address workflows (SPEC §4.3, 4.4, 4.5). No events, as in Medusa."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    # by its full name: `from workflows import steps` would load a copy per run (see base)
    import workflows.steps as steps
    from activities import stubs
    from activities.contracts import (
        CreateAddressesStep,
        DefaultFlag,
        DeleteAddressesStep,
        HookName,
        ListQuery,
        UnsetDefaultsStep,
    )
    from customer_service import ids
    from customer_service.schemas import AddressDTO, UpdateAddressInput
    from workflows.base import SagaWorkflow, validated
    from workflows.contracts import (
        AddressesResult,
        CreateCustomerAddressesInput,
        DeleteCustomerAddressesInput,
        IdsResult,
        UpdateCustomerAddressesInput,
    )
    from workflows.saga import Saga
    from workflows.visibility import short

FLAGS: tuple[DefaultFlag, DefaultFlag] = ("is_default_shipping", "is_default_billing")


async def unset_defaults(saga: Saga, customers_by_flag: dict[DefaultFlag, list[str]]) -> None:
    """maybe-unset-default-shipping / -billing, in parallel: take the flag off the customers'
    current default addresses (compensation: give it back to exactly those addresses)."""

    async def unset(flag: DefaultFlag, customer_ids: list[str]) -> None:
        label = flag.removeprefix("is_").replace("_", " ")
        await saga.step(
            stubs.unset_default_addresses,
            UnsetDefaultsStep(customer_ids=customer_ids, flag=flag, **saga.new_write()),
            summary=f"Unset previous {label} address of {short(customer_ids)}",
            undo=(
                stubs.undo_unset_default_addresses,
                f"compensate: restore previous {label} address",
            ),
        )

    # Both settle before a failure propagates, so compensation never starts beside a step
    # still in flight.
    outcomes = await asyncio.gather(
        *(unset(flag, sorted(set(c))) for flag, c in customers_by_flag.items() if c),
        return_exceptions=True,
    )
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


async def _announced(
    saga: Saga,
    hook: HookName,
    addresses: list[AddressDTO],
    additional_data: dict[str, Any] | None,
) -> AddressesResult:
    """Call the hook point with the written addresses; they are the run's result."""
    await saga.hook(
        hook, {"addresses": [a.model_dump(mode="json") for a in addresses]}, additional_data
    )
    return AddressesResult(addresses=addresses)


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
            await unset_defaults(
                self.saga,
                {f: [a.customer_id for a in addresses if getattr(a, f)] for f in FLAGS},
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
            return await _announced(self.saga, "addressesCreated", created, input.additional_data)


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
            flags = [f for f in FLAGS if fields.get(f)]
            if flags:
                matched = await self.saga.step(
                    stubs.list_customer_addresses,
                    ListQuery(filters=input.selector, config={"select": ["id", "customer_id"]}),
                    summary="Read the addresses to update",
                )
                customers = sorted({fields.get("customer_id") or r["customer_id"] for r in matched})
                await unset_defaults(self.saga, {f: customers for f in flags})
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
            return await _announced(self.saga, "addressesUpdated", updated, input.additional_data)


@workflow.defn
class DeleteCustomerAddressesWorkflow(SagaWorkflow):
    """delete-customer-addresses.

    Steps: hard-delete the addresses, recording the rows (compensation: put the same rows back,
    same ids) → hook `addressesDeleted`. An unknown id is not_found (decision 5).
    """

    @workflow.run
    async def run(self, input: DeleteCustomerAddressesInput) -> IdsResult:
        async with self.saga.run(input.hooks):
            deleted = await self.saga.step(
                stubs.delete_customer_addresses,
                DeleteAddressesStep(ids=input.ids, **self.saga.new_write()),
                summary=f"Delete address(es) {short(input.ids)}",
                undo=(
                    stubs.undo_delete_customer_addresses,
                    "compensate: re-create deleted address(es)",
                ),
                pivot=True,
            )
            self.saga.tag(customer_ids=sorted({a.customer_id for a in deleted if a.customer_id}))
            await self.saga.hook("addressesDeleted", {"ids": input.ids}, None)
            return IdsResult(ids=input.ids)
