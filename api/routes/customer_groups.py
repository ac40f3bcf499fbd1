"""Admin customer groups (SPEC §5.3)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends

from api.deps import Admin, AdminWrite, ServicesDep, query_of
from api.responses import JSONRoute
from api.routes.customers import RESPONSE, Fields
from api.schemas import (
    AdminGroupsQuery,
    DeleteResponse,
    GroupCreateBody,
    GroupResponse,
    GroupsResponse,
    GroupUpdateBody,
    LinkBody,
)
from api.shapes import ADMIN_GROUP, read_one, read_page
from customer_service.validation import validate

router = APIRouter(
    route_class=JSONRoute, prefix="/admin/customer-groups", tags=["admin: customer groups"]
)


async def group_response(
    services: ServicesDep, group_id: str, query: Fields, not_found: str | None = None
) -> Any:
    group = await read_one(
        services.customers.retrieve_customer_group, group_id, query, ADMIN_GROUP, not_found
    )
    return {"customer_group": group}


@router.get("", response_model=GroupsResponse, **RESPONSE)
async def list_groups(
    services: ServicesDep,
    _: Admin,
    query: Annotated[dict[str, Any], Depends(query_of(AdminGroupsQuery))],
) -> Any:
    return await read_page(
        services.customers.list_and_count_customer_groups, "customer_groups", query, ADMIN_GROUP
    )


@router.post("", response_model=GroupResponse, **RESPONSE)
async def create_group(
    services: ServicesDep,
    actor: Admin,
    write: AdminWrite,
    query: Fields,
    body: Annotated[GroupCreateBody | None, Body()] = None,
) -> Any:
    group = body or validate(GroupCreateBody, {}, "")  # Medusa: "Field 'name' is required"
    data = {**group.model_dump(exclude_unset=True), "created_by": actor.actor_id}
    result = await write.run(services.flows.start_create_groups, [data])
    return await group_response(services, result.groups[0].id, query)


@router.get("/{group_id}", response_model=GroupResponse, **RESPONSE)
async def get_group(services: ServicesDep, _: Admin, group_id: str, query: Fields) -> Any:
    return await group_response(
        services, group_id, query, f"Customer group with id: {group_id} not found"
    )


@router.post("/{group_id}", response_model=GroupResponse, **RESPONSE)
async def update_group(
    services: ServicesDep,
    write: AdminWrite,
    group_id: str,
    query: Fields,
    body: Annotated[GroupUpdateBody | None, Body()] = None,
) -> Any:
    data = (body or GroupUpdateBody()).model_dump(exclude_unset=True)
    await group_response(
        services, group_id, {"fields": "id"}, f'Customer group with id "{group_id}" not found'
    )
    if data:
        await write.run(services.flows.start_update_groups, {"id": group_id}, data)
    return await group_response(services, group_id, query)


@router.delete("/{group_id}", response_model=DeleteResponse)
async def delete_group(services: ServicesDep, write: AdminWrite, group_id: str) -> Any:
    """Soft delete; an unknown or already deleted group is a success (decision 10): the run
    skips it, so there is no existence check to race with."""
    await write.run(services.flows.start_delete_groups, [group_id])
    return {"id": group_id, "object": "customer_group", "deleted": True}


@router.post("/{group_id}/customers", response_model=GroupResponse, **RESPONSE)
async def link_customers(
    services: ServicesDep,
    write: AdminWrite,
    group_id: str,
    query: Fields,
    body: Annotated[LinkBody | None, Body()] = None,
) -> Any:
    link = body or LinkBody()
    await write.run(
        services.flows.start_link_customers_to_group,
        group_id,
        add=link.add or [],
        remove=link.remove or [],
    )
    return await group_response(services, group_id, query)
