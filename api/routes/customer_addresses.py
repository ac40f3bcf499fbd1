"""Admin customer addresses (SPEC §5.2). Writes answer with the parent customer, re-read.
An address of another customer is a 404 for every route (decision 5)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends

from api.deps import Admin, AdminWrite, ServicesDep, query_of
from api.responses import JSONRoute
from api.routes.customers import RESPONSE, Fields, customer_response
from api.schemas import (
    AddressesResponse,
    AddressResponse,
    AdminAddressBody,
    AdminAddressesQuery,
    CustomerResponse,
    DeleteWithParentResponse,
)
from api.shapes import ADMIN_ADDRESS, owned_address, read_page

router = APIRouter(
    route_class=JSONRoute,
    prefix="/admin/customers/{customer_id}/addresses",
    tags=["admin: addresses"],
)


@router.get("", response_model=AddressesResponse, **RESPONSE)
async def list_addresses(
    services: ServicesDep,
    _: Admin,
    customer_id: str,
    query: Annotated[dict[str, Any], Depends(query_of(AdminAddressesQuery))],
) -> Any:
    return await read_page(
        services.customers.list_and_count_customer_addresses,
        "addresses",
        query,
        ADMIN_ADDRESS,
        fixed={"customer_id": customer_id},
    )


@router.post("", response_model=CustomerResponse, **RESPONSE)
async def create_address(
    services: ServicesDep,
    write: AdminWrite,
    customer_id: str,
    query: Fields,
    body: Annotated[AdminAddressBody | None, Body()] = None,
) -> Any:
    data = (body or AdminAddressBody()).model_dump(exclude_unset=True)
    additional_data = data.pop("additional_data", None)
    await write.run(
        services.flows.start_create_addresses,
        [{**data, "customer_id": customer_id}],
        additional_data=additional_data,
    )
    return await customer_response(services, customer_id, query)


@router.get("/{address_id}", response_model=AddressResponse, **RESPONSE)
async def get_address(
    services: ServicesDep, _: Admin, customer_id: str, address_id: str, query: Fields
) -> Any:
    address = await owned_address(services.customers, customer_id, address_id, query, ADMIN_ADDRESS)
    return {"address": address}


@router.post("/{address_id}", response_model=CustomerResponse, **RESPONSE)
async def update_address(
    services: ServicesDep,
    write: AdminWrite,
    customer_id: str,
    address_id: str,
    query: Fields,
    body: Annotated[AdminAddressBody | None, Body()] = None,
) -> Any:
    data = (body or AdminAddressBody()).model_dump(exclude_unset=True)
    additional_data = data.pop("additional_data", None)
    await owned_address(services.customers, customer_id, address_id, {}, ADMIN_ADDRESS)
    if data:
        await write.run(
            services.flows.start_update_addresses,
            {"id": address_id, "customer_id": customer_id},
            data,
            additional_data=additional_data,
        )
    return await customer_response(services, customer_id, query)


@router.delete("/{address_id}", response_model=DeleteWithParentResponse, **RESPONSE)
async def delete_address(
    services: ServicesDep, write: AdminWrite, customer_id: str, address_id: str, query: Fields
) -> Any:
    await owned_address(services.customers, customer_id, address_id, {}, ADMIN_ADDRESS)
    await write.run(services.flows.start_delete_addresses, [address_id])
    parent = (await customer_response(services, customer_id, query))["customer"]
    return {"id": address_id, "object": "customer_address", "deleted": True, "parent": parent}
