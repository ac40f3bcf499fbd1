"""Dependencies of the routes: the composed services, the acting admin or customer, the store's
publishable key, a route's validated query, and how a write runs (idempotency key, async)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel
from temporalio.client import WorkflowHandle

from api.errors import Accepted, Unauthenticated
from api.query import parse_query
from auth.store import AuthStore, NotAllowedError, Principal
from auth.throttle import LoginThrottle
from auth.tokens import verify_token
from customer_service import CustomerModuleService
from customer_service.errors import InvalidDataError
from customer_service.validation import validate
from settings import Settings
from triggers.client import CustomerFlows

Q = TypeVar("Q", bound=BaseModel)
MAX_IDEMPOTENCY_KEY = 255


@dataclass
class Services:
    """What the app is built from (see `api.app.build_services`)."""

    settings: Settings
    flows: CustomerFlows
    customers: CustomerModuleService
    auth: AuthStore
    jwt_secret: str
    throttle: LoginThrottle


async def get_services(request: Request) -> Services:
    """Async on purpose: FastAPI runs a plain `def` dependency in its thread pool, a thread hop
    (and a GIL hand-over) per request."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def _credentials(request: Request, scheme: str) -> str | None:
    kind, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if kind.lower() == scheme and value.strip() else None


async def admin(request: Request, services: ServicesDep) -> Principal:
    """The acting admin: a user's bearer token, or a secret API key over Basic auth."""
    token = _credentials(request, "bearer")
    if token is not None:
        principal = verify_token(token, services.jwt_secret)
        if principal and principal.actor_type == "user" and principal.actor_id:
            return principal
        raise Unauthenticated
    basic = _credentials(request, "basic")
    if basic is not None:
        try:
            secret = base64.b64decode(basic, validate=True).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated from None
        key_id = await services.auth.secret_key_id(secret) if secret else None
        if key_id:
            return Principal(key_id, "api-key", "")
    raise Unauthenticated


async def customer_token(request: Request, services: ServicesDep) -> Principal:
    """A customer auth identity's token, linked to a customer or not (registration)."""
    token = _credentials(request, "bearer")
    principal = verify_token(token, services.jwt_secret) if token else None
    if principal is None or principal.actor_type != "customer":
        raise Unauthenticated
    return principal


async def customer(principal: Annotated[Principal, Depends(customer_token)]) -> str:
    """The id of the registered customer acting (every /store/customers/me route)."""
    if not principal.actor_id:
        raise Unauthenticated
    return principal.actor_id


async def publishable_key(request: Request, services: ServicesDep) -> None:
    """Every /store route needs a live publishable key (Medusa answers 400 not_allowed)."""
    token = request.headers.get("x-publishable-api-key")
    if not token:
        raise NotAllowedError(
            "Publishable API key required in the request header: x-publishable-api-key. "
            "You can manage your keys in settings in the dashboard."
        )
    if len(token) > 200 or not await services.auth.publishable_key_id(token):
        raise NotAllowedError("A valid publishable key is required to proceed with the request")


def query_of(model: type[Q]) -> Callable[[Request], Awaitable[dict[str, Any]]]:
    """A dependency validating the request's query against `model` (strict, Medusa's messages);
    it returns the validated values that were given (aliases such as `$and` kept)."""

    async def dependency(request: Request) -> dict[str, Any]:
        parsed = parse_query(request.query_params.multi_items())
        values = validate(model, parsed, "").model_dump(by_alias=True, exclude_unset=True)
        return {k: v for k, v in values.items() if v is not None or k in parsed}

    return dependency


class Write:
    """How a write runs: under the caller's idempotency key (as the run's request id) and either
    waited for, or answered at once with 202 when the caller prefers `respond-async`."""

    def __init__(self, flows: CustomerFlows, request_id: str | None, respond_async: bool) -> None:
        self.flows = flows
        self.request_id = request_id
        self.respond_async = respond_async

    async def run(
        self, start: Callable[..., Awaitable[WorkflowHandle[Any, Any]]], *args: Any, **kwargs: Any
    ) -> Any:
        """Start the run with `start(*args, request_id=…, **kwargs)`; its result once it ends."""
        handle = await start(*args, request_id=self.request_id, **kwargs)
        if self.respond_async:
            raise Accepted(handle)
        return await self.flows._result(handle, BaseModel)


def _digest(request: Request, body: bytes) -> str:
    try:
        canonical = json.dumps(json.loads(body or b"null"), sort_keys=True, separators=(",", ":"))
    except ValueError:
        canonical = body.decode(errors="replace")
    return hashlib.sha256(f"{request.method} {request.url.path}\n{canonical}".encode()).hexdigest()


async def _write(request: Request, services: Services, actor_id: str) -> Write:
    respond_async = "respond-async" in request.headers.get("prefer", "").lower()
    key = request.headers.get("idempotency-key")
    if key is None:
        return Write(services.flows, None, respond_async)
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise InvalidDataError(
            f"Invalid request: Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} printable "
            "characters",
            field="Idempotency-Key",
        )
    await services.auth.claim_idempotency_key(actor_id, key, _digest(request, await request.body()))
    scoped = hashlib.sha256(f"{actor_id}\0{key}".encode()).hexdigest()[:40]
    return Write(services.flows, f"idem-{scoped}", respond_async)


async def admin_write(
    request: Request, services: ServicesDep, actor: Annotated[Principal, Depends(admin)]
) -> Write:
    return await _write(request, services, actor.actor_id)


async def store_write(
    request: Request, services: ServicesDep, actor: Annotated[Principal, Depends(customer_token)]
) -> Write:
    return await _write(request, services, actor.auth_identity_id)


Admin = Annotated[Principal, Depends(admin)]
AdminWrite = Annotated[Write, Depends(admin_write)]
StoreWrite = Annotated[Write, Depends(store_write)]
CustomerId = Annotated[str, Depends(customer)]
