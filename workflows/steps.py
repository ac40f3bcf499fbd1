"""Steps shared by several workflows (Medusa runs these as nested workflows), and the helpers of
the workflows' own modules. Pure module of workflow code: it is passed through the sandbox and
only calls the saga. Each workflow class has a module of its own (the sandbox re-imports
it for every run: one class to process, not all of a family's)."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from activities import stubs
from activities.contracts import (
    ChangeMembershipsStep,
    CreateCustomersStep,
    DefaultFlag,
    HookName,
    SoftDeleteStep,
    UnsetDefaultsStep,
    UpdateStep,
)
from customer_service import ids
from customer_service.schemas import AddressDTO, CreateCustomerInput, CustomerDTO, MembershipInput
from workflows.contracts import AddressesResult, LinkResult
from workflows.saga import Activity, Saga, UndoActivity
from workflows.visibility import short

R = TypeVar("R")


def with_ids(saga: Saga, customers: list[CreateCustomerInput]) -> list[CreateCustomerInput]:
    """Mint customer and address ids in the workflow, so a retried create finds its own rows."""
    return [
        c.model_copy(
            update={
                "id": c.id or saga.new_id(ids.CUSTOMER),
                "addresses": [
                    a.model_copy(update={"id": a.id or saga.new_id(ids.ADDRESS)})
                    for a in c.addresses
                ],
            }
        )
        for c in customers
    ]


async def create_customers(
    saga: Saga,
    customers: list[CreateCustomerInput],
    additional_data: dict[str, Any] | None,
    pivot: bool = True,
) -> list[CustomerDTO]:
    """create-customers (SPEC §4.1) without its final event release; `pivot`: the create is the
    run's deciding write (nothing after it can fail for a business reason)."""
    customers = with_ids(saga, customers)
    customer_ids = [c.id for c in customers if c.id]
    saga.tag(emails=[c.email for c in customers])
    saga.tag(customer_ids=customer_ids, at_end=True)  # ids it mints: nobody knows them yet
    created = await saga.step(
        stubs.create_customers,
        CreateCustomersStep(customers=customers, **saga.new_write()),
        summary=f"Create {len(customers)} customer(s): "
        + short([c.email or c.id for c in customers]),
        undo=(stubs.undo_create_customers, f"compensate: delete customer(s) {short(customer_ids)}"),
        pivot=pivot,
    )
    await saga.hook(
        "customersCreated",
        {"customers": [c.model_dump(mode="json") for c in created]},
        additional_data,
    )
    return created


async def soft_delete_customers(saga: Saga, customer_ids: list[str], pivot: bool = True) -> None:
    """delete-customers (SPEC §4.6) without its final event release; `pivot`: the delete is the
    run's last write."""
    saga.tag(customer_ids=customer_ids)
    await saga.step(
        stubs.soft_delete_customers,
        SoftDeleteStep(ids=customer_ids, **saga.new_write()),
        summary=f"Delete customer(s) {short(customer_ids)}",
        undo=(
            stubs.undo_soft_delete_customers,
            f"compensate: restore customer(s) {short(customer_ids)}",
        ),
        pivot=pivot,
    )
    await saga.hook("customersDeleted", {"ids": customer_ids}, None)


async def update(
    saga: Saga,
    activity: Activity[UpdateStep, R],
    undo: UndoActivity,
    entity: str,
    selector: dict[str, Any],
    changes: dict[str, Any],
    summary: str,
) -> R:
    """One update step whose compensation compare-and-sets the replaced values back: the run's
    pivot (its last write).

    A selector that is only `{"id": ...}` addresses those ids: an unknown one is not_found
    (decision 5) rather than an update that silently matches nothing."""
    ids_only = set(selector) == {"id"} and isinstance(selector["id"], str | list)
    target: Any = selector["id"] if ids_only else selector
    return await saga.step(
        activity,
        UpdateStep(selector=target, update=changes, **saga.new_write()),
        summary=summary,
        undo=(undo, f"compensate: restore {entity} fields {', '.join(changes)}"),
        pivot=True,
    )


def described(target: object) -> str:
    """An update's target in words: its id(s), or "matching the selector"."""
    if isinstance(target, str):
        return target
    if isinstance(target, list):
        return short([str(t) for t in target])
    return "matching the selector"


async def change_memberships(
    saga: Saga, add: list[tuple[str, str]], remove: list[tuple[str, str]], summary: str
) -> LinkResult:
    """Add and remove (customer, group) pairs; compensation removes only the pairs this run
    added and re-adds only the pairs it removed (decision 2)."""
    change = await saga.step(
        stubs.change_memberships,
        ChangeMembershipsStep(
            add=[
                MembershipInput(customer_id=c, customer_group_id=g, id=saga.new_id(ids.MEMBERSHIP))
                for c, g in add
            ],
            remove=[MembershipInput(customer_id=c, customer_group_id=g) for c, g in remove],
            **saga.new_write(),
        ),
        summary=summary,
        undo=(stubs.undo_change_memberships, "compensate: revert membership changes"),
        pivot=True,
    )
    return LinkResult(added=change.added, removed=change.removed)


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


async def announced(
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
