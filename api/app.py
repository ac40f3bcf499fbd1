"""The FastAPI application: Medusa's admin, store and auth routes over `CustomerFlows` (writes)
and the Customer Module (reads). `create_app()` composes everything from the settings when the
app starts; tests pass their own `Services`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from activities.hooks import load_hooks_module
from api.deps import Services
from api.errors import ShieldMiddleware, install_error_handlers
from api.routes import (
    api_keys,
    auth,
    customer_addresses,
    customer_groups,
    customers,
    store_customers,
    webhooks,
    workflow_executions,
)
from auth.store import AuthStore
from auth.throttle import LoginThrottle
from auth.tokens import resolve_jwt_secret
from customer_service import CustomerModuleService, create_engine, session_factory
from settings import Settings, get_settings
from triggers.client import CustomerFlows
from triggers.connection import connect


class PathCORS:
    """CORS per route family, from Medusa's variables: ADMIN_CORS for /admin, STORE_CORS for
    /store, AUTH_CORS for /auth; other paths get none."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app

        def cors(origins: str) -> ASGIApp:
            allowed = [o.strip() for o in origins.split(",") if o.strip()]
            return CORSMiddleware(
                app,
                allow_origins=allowed,
                allow_credentials=True,
                allow_methods=["*"],
                allow_headers=["*"],
                expose_headers=["Location"],
            )

        self.families = {
            "/admin": cors(settings.admin_cors),
            "/store": cors(settings.store_cors),
            "/auth": cors(settings.auth_cors),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for prefix, handler in self.families.items():
                if scope["path"].startswith(prefix):
                    await handler(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def make_services(
    settings: Settings, flows: CustomerFlows, customers: CustomerModuleService, auth: AuthStore
) -> Services:
    throttle = LoginThrottle(settings.login_max_failures, settings.login_failure_window_seconds)
    return Services(settings, flows, customers, auth, resolve_jwt_secret(settings), throttle)


@asynccontextmanager
async def _composed(settings: Settings) -> AsyncIterator[Services]:
    """Engine → Customer Module + auth store; Temporal client → CustomerFlows."""
    engine = create_engine(settings.require_database_url(), pool_size=settings.db_pool_size)
    try:
        sessions = session_factory(engine)
        customers = CustomerModuleService(sessions)
        hooks = load_hooks_module(settings.hooks_module).registered()
        flows = CustomerFlows(await connect(settings), settings, customers, hooks)
        yield make_services(settings, flows, customers, AuthStore(sessions))
    finally:
        await engine.dispose()


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if services is not None:
            app.state.services = services
            yield
            return
        async with _composed(settings) as composed:
            app.state.services = composed
            yield

    app = FastAPI(
        title="customer-flows API",
        summary="Medusa-compatible customer routes; every write runs as a durable saga.",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    for module in (
        auth,
        customers,
        customer_addresses,
        customer_groups,
        store_customers,
        api_keys,
        webhooks,
        workflow_executions,
    ):
        app.include_router(module.router)

    @app.get("/health", response_class=PlainTextResponse, tags=["health"])
    async def health() -> str:
        return "OK"

    app.add_middleware(ShieldMiddleware)
    app.add_middleware(PathCORS, settings=settings)
    return app
