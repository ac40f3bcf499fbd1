"""Medusa's emailpass auth routes: admin and customer login, customer registration, refresh.
Unknown email and wrong password answer alike; a burst of failures for one email is refused
with 429 for a while. Passwords never reach a log."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Request

from api.deps import Services, ServicesDep
from api.errors import Unauthenticated
from api.schemas import EmailPassBody, TokenResponse
from auth.store import Principal, UnauthorizedError
from auth.tokens import issue_token, verify_token

router = APIRouter(prefix="/auth", tags=["auth"])


def _token(services: Services, principal: Principal) -> TokenResponse:
    secret, expires = services.jwt_secret, services.settings.jwt_expires_in_seconds
    return TokenResponse(token=issue_token(principal, secret, expires))


@router.post("/{actor_type}/emailpass", response_model=TokenResponse)
async def login(
    services: ServicesDep,
    actor_type: Literal["user", "customer"],
    body: Annotated[EmailPassBody, Body()],
) -> TokenResponse:
    """A token for the identity: its actor id is its user (admin) or customer, or empty when the
    identity has none yet (a customer who registered but has not created their account)."""
    services.throttle.check(body.email)
    try:
        identity = await services.auth.authenticate(body.email, body.password)
    except UnauthorizedError:
        services.throttle.failed(body.email)
        raise
    services.throttle.succeeded(body.email)
    return _token(services, identity.principal(actor_type))


@router.post("/customer/emailpass/register", response_model=TokenResponse)
async def register(services: ServicesDep, body: Annotated[EmailPassBody, Body()]) -> TokenResponse:
    """A registration token: the new identity, not yet linked to a customer (`POST
    /store/customers` with this token creates the customer)."""
    identity = await services.auth.register(body.email, body.password)
    return _token(services, identity.principal("customer"))


@router.post("/token/refresh", response_model=TokenResponse)
async def refresh(services: ServicesDep, request: Request) -> TokenResponse:
    """A fresh token for a valid one, with the identity's current links (so a customer who has
    just registered gets their customer id)."""
    kind, _, token = request.headers.get("authorization", "").partition(" ")
    principal = (
        verify_token(token.strip(), services.jwt_secret) if kind.lower() == "bearer" else None
    )
    if principal is None or principal.actor_type not in ("user", "customer"):
        raise Unauthenticated
    identity = await services.auth.identity(principal.auth_identity_id)
    if identity is None:
        raise Unauthenticated
    actor: Literal["user", "customer"] = "user" if principal.actor_type == "user" else "customer"
    return _token(services, identity.principal(actor))
