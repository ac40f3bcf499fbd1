"""Admin API keys: secret keys (admin access over Basic auth) and publishable keys (the
`x-publishable-api-key` of /store routes). A secret key's token is shown once, at creation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel

from api.deps import Admin, ServicesDep, query_of
from api.schemas import ApiKeyCreateBody, ApiKeysQuery, Strict

router = APIRouter(prefix="/admin/api-keys", tags=["admin: api keys"])


class ApiKeyOut(BaseModel):
    id: str
    token: str
    redacted: str
    title: str
    type: str
    last_used_at: datetime | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    revoked_by: str | None
    revoked_at: datetime | None


class ApiKeyResponse(BaseModel):
    api_key: ApiKeyOut


class ApiKeysResponse(BaseModel):
    api_keys: list[ApiKeyOut]
    count: int
    offset: int
    limit: int


class RevokeBody(Strict):
    pass


@router.get("", response_model=ApiKeysResponse)
async def list_api_keys(
    services: ServicesDep,
    _: Admin,
    query: Annotated[dict[str, Any], Depends(query_of(ApiKeysQuery))],
) -> Any:
    offset, limit = query.get("offset", 0), query.get("limit", 50)
    keys, count = await services.auth.list_api_keys(query.get("type"), limit, offset)
    return {"api_keys": keys, "count": count, "offset": offset, "limit": limit}


@router.post("", response_model=ApiKeyResponse)
async def create_api_key(
    services: ServicesDep, actor: Admin, body: Annotated[ApiKeyCreateBody, Body()]
) -> Any:
    return {"api_key": await services.auth.create_api_key(body.title, body.type, actor.actor_id)}


@router.get("/{key_id}", response_model=ApiKeyResponse)
async def get_api_key(services: ServicesDep, _: Admin, key_id: str) -> Any:
    return {"api_key": await services.auth.retrieve_api_key(key_id)}


@router.post("/{key_id}/revoke", response_model=ApiKeyResponse)
async def revoke_api_key(
    services: ServicesDep,
    actor: Admin,
    key_id: str,
    body: Annotated[RevokeBody | None, Body()] = None,
) -> Any:
    """Revoked at once: the key stops working for every later request."""
    return {"api_key": await services.auth.revoke_api_key(key_id, actor.actor_id)}
