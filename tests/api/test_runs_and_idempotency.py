"""Idempotency keys, `Prefer: respond-async`, the run route, health and the OpenAPI docs."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from tests.api.conftest import Api, unique_email


async def test_idempotency_key_replays_and_conflicts(api: Api, admin: httpx.AsyncClient) -> None:
    key = {"idempotency-key": f"order-{uuid.uuid4().hex}"}
    body = {"email": unique_email("idem")}
    first = await admin.post("/admin/customers", json=body, headers=key)
    again = await admin.post("/admin/customers", json=body, headers=key)
    assert first.status_code == again.status_code == 200, again.text
    assert again.json()["customer"]["id"] == first.json()["customer"]["id"]
    r = await admin.get("/admin/customers", params={"email": body["email"]})
    assert r.json()["count"] == 1  # one run, one customer
    other = await admin.post("/admin/customers", json={"email": unique_email()}, headers=key)
    assert other.status_code == 409
    assert other.json()["type"] == "conflict"
    elsewhere = await admin.post("/admin/customer-groups", json={"name": "x"}, headers=key)
    assert elsewhere.status_code == 409
    r = await admin.post("/admin/customers", json={}, headers={"idempotency-key": "x" * 300})
    assert r.status_code == 400


async def test_respond_async_answers_202_and_the_run_route_follows_it(
    api: Api, admin: httpx.AsyncClient
) -> None:
    email = unique_email("async")
    r = await admin.post(
        "/admin/customers", json={"email": email}, headers={"prefer": "respond-async"}
    )
    assert r.status_code == 202, r.text
    started = r.json()
    assert started["workflow_id"].startswith("create-customers-") and started["run_id"]
    assert r.headers["location"] == f"/admin/workflows-executions/{started['workflow_id']}"
    for _ in range(100):
        run = (await admin.get(r.headers["location"])).json()["workflow_execution"]
        if run["status"] != "running":
            break
        await asyncio.sleep(0.1)
    assert run["status"] == "completed" and run["saga_status"] == "completed"
    assert run["workflow_type"] == "CreateCustomersWorkflow"
    assert run["result"]["customers"][0]["email"] == email
    assert run["steps"] and all(s["state"] == "completed" for s in run["steps"])
    listed = await admin.get("/admin/customers", params={"email": email})
    assert listed.json()["count"] == 1


async def test_a_failed_run_shows_its_error(admin: httpx.AsyncClient) -> None:
    r = await admin.post(
        "/admin/customers/cus_missing/addresses", json={}, headers={"prefer": "respond-async"}
    )
    assert r.status_code == 202
    location = r.headers["location"]
    for _ in range(100):
        run = (await admin.get(location)).json()["workflow_execution"]
        if run["status"] != "running":
            break
        await asyncio.sleep(0.1)
    assert run["status"] == "failed"
    assert run["error"]["type"] == "not_found"
    assert run["saga_status"] == "compensated"
    assert [s["state"] for s in run["steps"]] == ["compensated"]
    assert run["result"] is None


async def test_unknown_run_is_404_and_needs_admin(api: Api, admin: httpx.AsyncClient) -> None:
    r = await admin.get("/admin/workflows-executions/no-such-run")
    assert r.status_code == 404 and r.json()["type"] == "not_found"
    async with api.client() as http:
        assert (await http.get("/admin/workflows-executions/no-such-run")).status_code == 401


async def test_health_docs_and_unknown_routes(api: Api) -> None:
    async with api.client() as http:
        r = await http.get("/health")
        assert (r.status_code, r.text) == (200, "OK")
        r = await http.get("/openapi.json")
        paths = r.json()["paths"]
        assert "/admin/customers/{customer_id}/addresses/{address_id}" in paths
        assert "/store/customers/me/addresses" in paths
        assert (await http.get("/docs")).status_code == 200
        r = await http.get("/admin/nothing-here")
        assert r.status_code == 404 and r.json()["type"] == "not_found"


async def test_cors_per_route_family(api: Api) -> None:
    async with api.client() as http:
        preflight = {"access-control-request-method": "POST"}
        r = await http.options(
            "/store/customers", headers={**preflight, "origin": "http://localhost:8000"}
        )
        assert r.headers.get("access-control-allow-origin") == "http://localhost:8000"
        r = await http.options(
            "/admin/customers", headers={**preflight, "origin": "http://localhost:8000"}
        )
        assert "access-control-allow-origin" not in r.headers
        r = await http.options(
            "/admin/customers", headers={**preflight, "origin": "http://localhost:5173"}
        )
        assert r.headers.get("access-control-allow-origin") == "http://localhost:5173"
