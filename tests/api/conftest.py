"""The HTTP API over a real uvicorn server on a free port, with a worker on its own task queue,
over the session's real PostgreSQL and Temporal dev server. One server for the whole session:
tests use unique emails and names, so they never see each other's rows."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from activities import hooks as hook_points
from activities.customer_activities import CustomerActivities
from activities.delivery_activities import DeliveryActivities
from activities.subscribers import SubscriberRegistry
from api.app import create_app, make_services
from api.deps import Services
from auth.store import AuthStore
from customer_service import CustomerModuleService, session_factory
from customer_service.service.deliveries import Deliveries
from customer_service.service.retention import Retention
from devstack.ports import free_port
from settings import Settings
from triggers.client import CustomerFlows
from triggers.operations import delivery_policy
from worker import build_worker

JWT_SECRET = "test-secret-" + "x" * 40
PASSWORD = "correct horse battery staple"


def unique_email(name: str = "user") -> str:
    return f"{name}.{uuid.uuid4().hex[:10]}@example.com"


@dataclass
class Api:
    """The running server: its URL, the services behind it, an admin token and a store key."""

    url: str
    services: Services
    admin_token: str
    admin_id: str
    publishable_key: str

    def client(self, **headers: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=60)

    def admin(self) -> httpx.AsyncClient:
        return self.client(authorization=f"Bearer {self.admin_token}")

    def store(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"x-publishable-api-key": self.publishable_key}
        if token:
            headers["authorization"] = f"Bearer {token}"
        return self.client(**headers)

    async def register_customer(self, email: str | None = None, **fields: Any) -> tuple[str, str]:
        """A registered customer: (customer id, a token acting as them)."""
        email = email or unique_email("shopper")
        async with self.client() as http:
            r = await http.post(
                "/auth/customer/emailpass/register", json={"email": email, "password": PASSWORD}
            )
            assert r.status_code == 200, r.text
            registration = r.json()["token"]
        async with self.store(registration) as http:
            r = await http.post("/store/customers", json={"email": email, **fields})
            assert r.status_code == 200, r.text
            customer_id: str = r.json()["customer"]["id"]
        async with self.client() as http:
            r = await http.post(
                "/auth/customer/emailpass", json={"email": email, "password": PASSWORD}
            )
            assert r.status_code == 200, r.text
            return customer_id, r.json()["token"]


def basic(secret: str) -> str:
    return "Basic " + base64.b64encode(f"{secret}:".encode()).decode()


@pytest.fixture(scope="session")
async def api(engine: AsyncEngine, temporal_client: Client) -> AsyncIterator[Api]:
    settings = Settings(
        task_queue=f"api-{uuid.uuid4().hex[:12]}",
        environment="production",
        jwt_secret=SecretStr(JWT_SECRET),
        login_max_failures=5,
        login_failure_window_seconds=60,
        delivery_first_retry_seconds=0.2,
        delivery_max_interval_seconds=1.0,
        delivery_give_up_after_seconds=30.0,
        webhook_timeout_seconds=5.0,
    )
    sessions = session_factory(engine)
    customers = CustomerModuleService(sessions)
    auth = AuthStore(sessions)
    services = make_services(
        settings, CustomerFlows(temporal_client, settings, customers), customers, auth
    )
    admin_email = unique_email("admin")
    admin_id, _ = await auth.create_user(admin_email, PASSWORD)
    key = await auth.create_api_key("test store", "publishable", admin_id)
    # Composed as worker.py does: the release step hands events to delivery (webhooks registered
    # through the API get them). A relay also sweeps every lane of the database with pending
    # deliveries now and then; this one lives through the whole session, while other tests
    # deliver their own events through relays of their own, so it sweeps only when it starts.
    deliveries = DeliveryActivities(
        Deliveries(sessions),
        Retention(sessions),
        SubscriberRegistry(),
        temporal_client,
        settings.task_queue,
        delivery_policy(settings),
        sweep_every_seconds=24 * 3600,
    )
    customer_activities = CustomerActivities(customers, hook_points.registry, deliveries)
    activities = [*customer_activities.all(), *deliveries.all()]
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, services), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    async with build_worker(temporal_client, activities, settings, settings.task_queue):
        serving = asyncio.create_task(server.serve())
        while not server.started:
            assert not serving.done(), "uvicorn stopped while starting"
            await asyncio.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=url) as http:
            r = await http.post(
                "/auth/user/emailpass", json={"email": admin_email, "password": PASSWORD}
            )
            assert r.status_code == 200, r.text
        try:
            yield Api(url, services, r.json()["token"], admin_id, key["token"])
        finally:
            server.should_exit = True
            await serving


@pytest.fixture
async def admin(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    async with api.admin() as http:
        yield http


async def create_customer(http: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"email": unique_email(), **fields}
    r = await http.post("/admin/customers", json=body)
    assert r.status_code == 200, r.text
    customer: dict[str, Any] = r.json()["customer"]
    return customer
