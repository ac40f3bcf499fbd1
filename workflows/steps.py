"""Steps shared by several workflows (Medusa runs these as nested workflows)."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

from workflows.saga import Saga

with workflow.unsafe.imports_passed_through():
    from activities.models import CreateCustomersStep, SoftDeleteStep, Undo, UpdateStep
    from customer_service import ids
    from customer_service.schemas import CreateCustomerInput, CustomerDTO, UpdateOutcome


def _short(values: list[str], limit: int = 3) -> str:
    head = ", ".join(values[:limit])
    return head + (f" and {len(values) - limit} more" if len(values) > limit else "")


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
    saga: Saga, customers: list[CreateCustomerInput], additional_data: dict[str, Any] | None
) -> list[CustomerDTO]:
    """create-customers (SPEC §4.1) without its final event release."""
    customers = with_ids(saga, customers)
    customer_ids = [c.id for c in customers if c.id]
    saga.tag(customer_ids=customer_ids, emails=[c.email for c in customers])
    op = saga.operation_id()
    labels = [c.email or c.id or "" for c in customers]
    created = await saga.step(
        "create_customers",
        CreateCustomersStep(customers=customers, operation_id=op,
                            event_group_id=saga.event_group_id),
        result_type=list[CustomerDTO],
        summary=f"Create {len(customers)} customer(s): {_short(labels)}",
        compensation=("delete_created_customers", Undo(operation_id=op),
                      f"compensate: delete customer(s) {_short(customer_ids)}"),
    )  # fmt: skip
    await saga.hook(
        "customersCreated",
        {"customers": [c.model_dump(mode="json") for c in created]},
        additional_data,
    )
    return created


async def soft_delete_customers(saga: Saga, customer_ids: list[str]) -> None:
    """delete-customers (SPEC §4.6) without its final event release."""
    saga.tag(customer_ids=customer_ids)
    op = saga.operation_id()
    await saga.step(
        "soft_delete_customers",
        SoftDeleteStep(ids=customer_ids, operation_id=op, event_group_id=saga.event_group_id),
        result_type=dict[str, list[str]],
        summary=f"Delete customer(s) {_short(customer_ids)}",
        compensation=("restore_deleted_customers", Undo(operation_id=op),
                      f"compensate: restore customer(s) {_short(customer_ids)}"),
    )  # fmt: skip
    await saga.hook("customersDeleted", {"ids": customer_ids}, None)


async def update(
    saga: Saga,
    entity: str,
    selector: dict[str, Any],
    changes: dict[str, Any],
    summary: str,
) -> UpdateOutcome:
    """One update step whose compensation compare-and-sets the replaced values back.

    A selector that is only `{"id": ...}` addresses those ids: an unknown one is not_found
    (decision 5) rather than an update that silently matches nothing."""
    op = saga.operation_id()
    ids_only = set(selector) == {"id"} and isinstance(selector["id"], str | list)
    target: Any = selector["id"] if ids_only else selector
    return await saga.step(
        "update_entities",
        UpdateStep(entity=entity, selector=target, update=changes, operation_id=op,
                   event_group_id=saga.event_group_id),
        result_type=UpdateOutcome,
        summary=summary,
        compensation=("restore_updated_fields", Undo(operation_id=op, entity=entity),
                      f"compensate: restore {entity} fields {', '.join(changes)}"),
    )  # fmt: skip
