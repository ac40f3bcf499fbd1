"""Admin customers (SPEC §5.1): reads from the Customer Module, writes as workflows."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends

from api.deps import Admin, AdminWrite, ServicesDep, query_of
from api.responses import JSONRoute
from api.schemas import (
    AdminCustomerBody,
    AdminCustomersQuery,
    CustomerResponse,
    CustomersResponse,
    DeleteResponse,
    FieldsQuery,
    LinkBody,
)
from api.shapes import ADMIN_CUSTOMER, read_one, read_page

router = APIRouter(route_class=JSONRoute, prefix="/admin/customers", tags=["admin: customers"])

Fields = Annotated[dict[str, Any], Depends(query_of(FieldsQuery))]
RESPONSE: dict[str, Any] = {"response_model_exclude_unset": True}


async def customer_response(services: ServicesDep, customer_id: str, query: Fields) -> Any:
    customer = await read_one(
        services.customers.retrieve_customer, customer_id, query, ADMIN_CUSTOMER
    )
    return {"customer": customer}


async def ensure_customer(services: ServicesDep, customer_id: str) -> None:
    """404 as Medusa's update routes word it, before a run is started for nothing."""
    await read_one(
        services.customers.retrieve_customer,
        customer_id,
        {"fields": "id"},
        ADMIN_CUSTOMER,
        f'Customer with id "{customer_id}" not found',
    )


@router.get("", response_model=CustomersResponse, **RESPONSE)
async def list_customers(
    services: ServicesDep,
    _: Admin,
    query: Annotated[dict[str, Any], Depends(query_of(AdminCustomersQuery))],
) -> Any:
    return await read_page(
        services.customers.list_and_count_customers, "customers", query, ADMIN_CUSTOMER
    )


@router.post("", response_model=CustomerResponse, **RESPONSE)
async def create_customer(
    services: ServicesDep,
    actor: Admin,
    write: AdminWrite,
    query: Fields,
    body: Annotated[AdminCustomerBody | None, Body()] = None,
) -> Any:
    data = (body or AdminCustomerBody()).model_dump(exclude_unset=True)
    additional_data = data.pop("additional_data", None)
    result = await write.run(
        services.flows.start_create_customers,
        [{**data, "created_by": actor.actor_id}],
        additional_data=additional_data,
    )
    return await customer_response(services, result.customers[0].id, query)


@router.get("/{customer_id}", response_model=CustomerResponse, **RESPONSE)
async def get_customer(services: ServicesDep, _: Admin, customer_id: str, query: Fields) -> Any:
    customer = await read_one(
        services.customers.retrieve_customer,
        customer_id,
        query,
        ADMIN_CUSTOMER,
        f"Customer with id: {customer_id} not found",
    )
    return {"customer": customer}


@router.post("/{customer_id}", response_model=CustomerResponse, **RESPONSE)
async def update_customer(
    services: ServicesDep,
    write: AdminWrite,
    customer_id: str,
    query: Fields,
    body: Annotated[AdminCustomerBody | None, Body()] = None,
) -> Any:
    data = (body or AdminCustomerBody()).model_dump(exclude_unset=True)
    additional_data = data.pop("additional_data", None)
    await ensure_customer(services, customer_id)
    if data:
        await write.run(
            services.flows.start_update_customers,
            {"id": customer_id},
            data,
            additional_data=additional_data,
        )
    return await customer_response(services, customer_id, query)


@router.delete("/{customer_id}", response_model=DeleteResponse)
async def delete_customer(services: ServicesDep, write: AdminWrite, customer_id: str) -> Any:
    """remove-customer-account (SPEC §4.8); deleting an unknown or deleted customer is a
    success (decision 10): the run finds nothing to delete. The run also deletes a registered
    customer's auth identity, as its own step."""
    await write.run(services.flows.start_remove_customer_account, customer_id)
    return {"id": customer_id, "object": "customer", "deleted": True}


@router.post("/{customer_id}/customer-groups", response_model=CustomerResponse, **RESPONSE)
async def link_groups(
    services: ServicesDep,
    write: AdminWrite,
    customer_id: str,
    query: Fields,
    body: Annotated[LinkBody | None, Body()] = None,
) -> Any:
    link = body or LinkBody()
    await write.run(
        services.flows.start_link_groups_to_customer,
        customer_id,
        add=link.add or [],
        remove=link.remove or [],
    )
    return await customer_response(services, customer_id, query)
