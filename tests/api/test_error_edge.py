"""The error edge on its own: failed runs and unexpected exceptions, which the real routes only
reach when something is broken, answered and logged without text that could hold SQL or PII."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI

from api.errors import STATUS, ShieldMiddleware, install_error_handlers
from triggers.client import FlowError

SECRET = "SELECT password FROM customer WHERE email = 'ann@example.com'"


def app() -> FastAPI:
    application = FastAPI()
    install_error_handlers(application)
    application.add_middleware(ShieldMiddleware)

    @application.get("/compensation-failed")
    async def compensation_failed() -> None:
        raise FlowError("CompensationFailed", SECRET, "update-customers-42")

    @application.get("/run-failed/{kind}")
    async def run_failed(kind: str) -> None:
        raise FlowError(kind, "Customer with this email already has an account", "wf-1")

    @application.get("/crash")
    async def crash() -> None:
        raise RuntimeError(SECRET)

    return application


@pytest.fixture
async def http() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app(), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://edge")


async def test_compensation_failed_is_500_naming_the_run(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    r = await http.get("/compensation-failed")
    assert r.status_code == 500
    body = r.json()
    assert body["type"] == "compensation_failed" and body["workflow_id"] == "update-customers-42"
    assert SECRET not in r.text and SECRET not in caplog.text


async def test_business_failures_of_runs_keep_their_status(http: httpx.AsyncClient) -> None:
    for kind, status in STATUS.items():
        r = await http.get(f"/run-failed/{kind}")
        assert r.status_code == status
        assert r.json()["type"] == kind
    r = await http.get("/run-failed/ActivityError")
    assert r.status_code == 500
    assert r.json() == {
        "type": "unknown_error",
        "message": "An unknown error occurred.",
        "workflow_id": "wf-1",
    }


async def test_an_unexpected_exception_is_a_bare_500(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        r = await http.get("/crash")
    assert r.status_code == 500
    assert r.json() == {"type": "unknown_error", "message": "An unknown error occurred."}
    assert "RuntimeError" in caplog.text
    assert SECRET not in caplog.text and "Traceback" not in caplog.text
