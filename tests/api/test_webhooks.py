"""Event delivery through the admin API: a webhook registered over HTTP gets a create's events as
signed POSTs; an operator lists deliveries and sends one again with the same delivery id; the
endpoint is removed; bad bodies and missing auth are refused like every other route."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import Api, create_customer
from tests.events.receiver import Receiver, verify
from tests.helpers import eventually


def created_for(receiver: Receiver, customer_id: str) -> list[Any]:
    return [
        r
        for r in receiver.accepted()
        if r.json["event"] == "customer.created" and r.json["data"]["id"] == customer_id
    ]


async def test_a_webhook_added_over_http_gets_signed_events_and_a_redelivery(
    api: Api, admin: httpx.AsyncClient, receiver: Receiver
) -> None:
    r = await admin.post(
        "/admin/webhooks", json={"url": receiver.url, "events": ["customer.created"]}
    )
    assert r.status_code == 200, r.text
    webhook = r.json()["webhook"]
    assert webhook["id"].startswith("whk_") and webhook["secret"].startswith("whsec_")
    assert webhook["url"] == receiver.url and webhook["events"] == ["customer.created"]
    try:
        listed = (await admin.get("/admin/webhooks")).json()
        [mine] = [w for w in listed["webhooks"] if w["id"] == webhook["id"]]
        assert "secret" not in mine, "the signing secret is shown only at creation"

        customer = await create_customer(admin)

        async def delivered() -> bool:
            return len(created_for(receiver, customer["id"])) == 1

        await eventually(delivered, within=30, interval=0.1)
        [request] = created_for(receiver, customer["id"])
        assert verify(webhook["secret"], request.headers, request.body)

        r = await admin.get("/admin/event-deliveries", params={"status": "delivered"})
        assert r.status_code == 200, r.text
        [delivery] = [d for d in r.json()["deliveries"] if d["id"] == request.json["id"]]
        assert delivery["subscriber"] == webhook["id"] and delivery["attempts"] == 1

        r = await admin.post(f"/admin/event-deliveries/{delivery['id']}/redeliver")
        assert r.status_code == 200, r.text
        assert r.json() == {"delivery": {"id": delivery["id"], "status": "pending"}}

        async def sent_again() -> bool:
            return len(created_for(receiver, customer["id"])) == 2

        await eventually(sent_again, within=30, interval=0.1)
        again = created_for(receiver, customer["id"])[1]
        assert again.json["id"] == delivery["id"], "a redelivery keeps its delivery id"
        assert verify(webhook["secret"], again.headers, again.body)

        async def settled() -> bool:
            r = await admin.get("/admin/event-deliveries", params={"status": "pending"})
            return not [d for d in r.json()["deliveries"] if d["subscriber"] == webhook["id"]]

        await eventually(settled, within=30, interval=0.1)
    finally:
        r = await admin.delete(f"/admin/webhooks/{webhook['id']}")
    assert r.status_code == 200, r.text
    assert r.json() == {"id": webhook["id"], "object": "webhook", "deleted": True}
    listed = (await admin.get("/admin/webhooks")).json()
    assert webhook["id"] not in {w["id"] for w in listed["webhooks"]}
    again_deleted = await admin.delete(f"/admin/webhooks/{webhook['id']}")
    assert again_deleted.status_code == 200 and again_deleted.json()["deleted"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com/hook", "events": ["*"]}, "url"),
        ({"url": "http://example.com/hook", "events": []}, "events"),
        ({"url": "http://example.com/hook", "events": ["customer.*"]}, "customer.*"),
        ({"url": "http://example.com/hook"}, "events"),
        ({"url": "http://example.com/hook", "events": ["*"], "secret": "mine"}, "secret"),
    ],
)
async def test_a_bad_webhook_body_is_400_naming_the_field(
    admin: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    r = await admin.post("/admin/webhooks", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["type"] == "invalid_data"
    assert field in r.json()["message"]


async def test_delivery_routes_refuse_bad_input_unknown_ids_and_anonymous_callers(
    api: Api, admin: httpx.AsyncClient
) -> None:
    r = await admin.get("/admin/event-deliveries", params={"status": "lost"})
    assert r.status_code == 400 and "status" in r.json()["message"]
    r = await admin.get("/admin/event-deliveries", params={"limit": "0"})
    assert r.status_code == 400 and "limit" in r.json()["message"]
    r = await admin.post("/admin/event-deliveries/dlv_unknown/redeliver")
    assert r.status_code == 404 and r.json()["type"] == "not_found"
    async with api.client() as anonymous:
        for method, path in [
            ("GET", "/admin/webhooks"),
            ("POST", "/admin/webhooks"),
            ("DELETE", "/admin/webhooks/whk_x"),
            ("GET", "/admin/event-deliveries"),
            ("POST", "/admin/event-deliveries/dlv_x/redeliver"),
        ]:
            r = await anonymous.request(method, path)
            assert r.status_code == 401 and r.json() == {"message": "Unauthorized"}, path
