"""Store customers (SPEC §5.4): registration, and the authenticated customer's own record and
addresses. Every route needs a publishable key; `/me` routes act only on the token's customer —
another customer's address id is a 404, never data."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends

from api.deps import (
    CustomerId,
    ServicesDep,
    StoreWrite,
    customer_token,
    publishable_key,
    query_of,
)
from api.responses import JSONRoute
from api.routes.customers import RESPONSE, Fields
from api.schemas import (
    AddressBody,
    AddressesResponse,
    AddressResponse,
    CustomerBody,
    CustomerResponse,
    DeleteWithParentResponse,
    StoreAddressesQuery,
    StoreCreateCustomer,
)
from api.shapes import (
    STORE_ADDRESS,
    STORE_ADDRESS_FIELDS,
    STORE_CUSTOMER,
    owned_address,
    read_one,
    read_page,
)
from auth.store import Principal
from customer_service.errors import InvalidDataError

router = APIRouter(
    route_class=JSONRoute,
    prefix="/store/customers",
    tags=["store: customers"],
    dependencies=[Depends(publishable_key)],
)
ALREADY_CUSTOMER = "Request already authenticated as a customer."


async def me_response(services: ServicesDep, customer_id: str, query: Fields) -> Any:
    customer = await read_one(
        services.customers.retrieve_customer, customer_id, query, STORE_CUSTOMER
    )
    return {"customer": customer}


@router.post("", response_model=CustomerResponse, **RESPONSE)
async def register(
    services: ServicesDep,
    principal: Annotated[Principal, Depends(customer_token)],
    write: StoreWrite,
    query: Fields,
    body: Annotated[StoreCreateCustomer | None, Body()] = None,
) -> Any:
    """create-customer-account with the registration token's identity (SPEC §4.7); the run
    links the identity to the new customer (`app_metadata.customer_id`) as one of its steps."""
    identity = await services.auth.identity(principal.auth_identity_id)
    if principal.actor_id or identity is None or identity.app_metadata.get("customer_id"):
        raise InvalidDataError(ALREADY_CUSTOMER)
    data = (body or StoreCreateCustomer()).model_dump(exclude_unset=True)
    result = await write.run(services.flows.start_register_customer, identity.id, data)
    return await me_response(services, result.customer.id, query)


@router.get("/me", response_model=CustomerResponse, **RESPONSE)
async def get_me(services: ServicesDep, customer_id: CustomerId, query: Fields) -> Any:
    return await me_response(services, customer_id, query)


@router.post("/me", response_model=CustomerResponse, **RESPONSE)
async def update_me(
    services: ServicesDep,
    customer_id: CustomerId,
    write: StoreWrite,
    query: Fields,
    body: Annotated[CustomerBody | None, Body()] = None,
) -> Any:
    data = (body or CustomerBody()).model_dump(exclude_unset=True)
    if data:
        await write.run(services.flows.start_update_customers, {"id": customer_id}, data)
    return await me_response(services, customer_id, query)


@router.get("/me/addresses", response_model=AddressesResponse, **RESPONSE)
async def list_my_addresses(
    services: ServicesDep,
    customer_id: CustomerId,
    query: Annotated[dict[str, Any], Depends(query_of(StoreAddressesQuery))],
) -> Any:
    return await read_page(
        services.customers.list_and_count_customer_addresses,
        "addresses",
        query,
        STORE_ADDRESS,
        fixed={"customer_id": customer_id},
        order_allowed=STORE_ADDRESS_FIELDS,
    )


@router.post("/me/addresses", response_model=CustomerResponse, **RESPONSE)
async def create_my_address(
    services: ServicesDep,
    customer_id: CustomerId,
    write: StoreWrite,
    query: Fields,
    body: Annotated[AddressBody | None, Body()] = None,
) -> Any:
    data = (body or AddressBody()).model_dump(exclude_unset=True)
    await write.run(services.flows.start_create_addresses, [{**data, "customer_id": customer_id}])
    return await me_response(services, customer_id, query)


@router.get("/me/addresses/{address_id}", response_model=AddressResponse, **RESPONSE)
async def get_my_address(
    services: ServicesDep, customer_id: CustomerId, address_id: str, query: Fields
) -> Any:
    address = await owned_address(services.customers, customer_id, address_id, query, STORE_ADDRESS)
    return {"address": address}


@router.post("/me/addresses/{address_id}", response_model=CustomerResponse, **RESPONSE)
async def update_my_address(
    services: ServicesDep,
    customer_id: CustomerId,
    write: StoreWrite,
    address_id: str,
    query: Fields,
    body: Annotated[AddressBody | None, Body()] = None,
) -> Any:
    data = (body or AddressBody()).model_dump(exclude_unset=True)
    await owned_address(services.customers, customer_id, address_id, {}, STORE_ADDRESS)
    if data:
        await write.run(
            services.flows.start_update_addresses,
            {"id": address_id, "customer_id": customer_id},
            data,
        )
    return await me_response(services, customer_id, query)


@router.delete("/me/addresses/{address_id}", response_model=DeleteWithParentResponse, **RESPONSE)
async def delete_my_address(
    services: ServicesDep,
    customer_id: CustomerId,
    write: StoreWrite,
    address_id: str,
    query: Fields,
) -> Any:
    """Medusa's quirk kept: `id` is the customer's id, `object` is "address"."""
    await owned_address(services.customers, customer_id, address_id, {}, STORE_ADDRESS)
    await write.run(services.flows.start_delete_addresses, [address_id])
    parent = (await me_response(services, customer_id, query))["customer"]
    return {"id": customer_id, "object": "address", "deleted": True, "parent": parent}
