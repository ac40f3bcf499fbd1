"""Steps shared by several workflows (Medusa runs these as nested workflows). Pure module of
workflow code: it is passed through the sandbox and only calls the saga."""

from __future__ import annotations

from typing import Any, TypeVar

from activities import stubs
from activities.contracts import (
    CreateCustomersStep,
    SoftDeleteStep,
    UpdateStep,
)
from customer_service import ids
from customer_service.schemas import CreateCustomerInput, CustomerDTO
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
    saga.tag(customer_ids=customer_ids, emails=[c.email for c in customers])
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
