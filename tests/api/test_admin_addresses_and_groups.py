"""Admin addresses (SPEC §5.2) and customer groups (SPEC §5.3) over the real server."""

from __future__ import annotations

import httpx

from tests.api.conftest import create_customer, unique_email

ADDRESS = {"address_1": "1 Main St", "city": "Berlin", "country_code": "de", "postal_code": "10115"}


async def test_address_create_answers_with_the_parent_customer(admin: httpx.AsyncClient) -> None:
    customer = await create_customer(admin)
    url = f"/admin/customers/{customer['id']}/addresses"
    r = await admin.post(
        url, json={**ADDRESS, "is_default_shipping": True}, params={"fields": "id,*addresses"}
    )
    assert r.status_code == 200, r.text
    [address] = r.json()["customer"]["addresses"]
    assert address["id"].startswith("cuaddr_") and address["is_default_shipping"] is True
    second = await admin.post(url, json={**ADDRESS, "city": "Bonn", "is_default_shipping": True})
    assert second.status_code == 200 and "addresses" not in second.json()["customer"]
    r = await admin.get(url, params={"fields": "+is_default_shipping", "order": "city"})
    body = r.json()
    assert body["count"] == 2 and body["limit"] == 50
    assert [(a["city"], a["is_default_shipping"]) for a in body["addresses"]] == [
        ("Berlin", False),
        ("Bonn", True),
    ]
    assert "is_default_billing" not in body["addresses"][0]  # Medusa's default fields
    r = await admin.get(url, params={"city": "Bonn"})
    assert r.json()["count"] == 1


async def test_address_validation_and_unknown_customer(admin: httpx.AsyncClient) -> None:
    customer = await create_customer(admin)
    url = f"/admin/customers/{customer['id']}/addresses"
    r = await admin.post(url, json={"country_code": 12})
    assert r.status_code == 400
    r = await admin.post(url, json={"customer_id": "cus_other"})
    assert r.json()["message"] == "Invalid request: Unrecognized fields: 'customer_id'"
    r = await admin.post("/admin/customers/cus_missing/addresses", json=ADDRESS)
    assert r.status_code == 404
    assert r.json()["type"] == "not_found"


async def test_address_of_another_customer_is_404_for_every_route(
    admin: httpx.AsyncClient,
) -> None:
    owner, other = await create_customer(admin), await create_customer(admin)
    r = await admin.post(
        f"/admin/customers/{owner['id']}/addresses", json=ADDRESS, params={"fields": "*addresses"}
    )
    address_id = r.json()["customer"]["addresses"][0]["id"]
    mine = f"/admin/customers/{owner['id']}/addresses/{address_id}"
    theirs = f"/admin/customers/{other['id']}/addresses/{address_id}"
    r = await admin.get(mine)
    assert r.status_code == 200 and r.json()["address"]["city"] == "Berlin"
    for method, body in (("GET", None), ("POST", {"city": "Paris"}), ("DELETE", None)):
        r = await admin.request(method, theirs, json=body)
        assert r.status_code == 404, (method, r.text)
        assert r.json()["message"] == f"Address with id: {address_id} was not found"
    r = await admin.post(mine, json={"city": "Hamburg"}, params={"fields": "id,*addresses"})
    assert r.status_code == 200
    assert r.json()["customer"]["addresses"][0]["city"] == "Hamburg"
    r = await admin.delete(mine)
    assert r.status_code == 200
    body = r.json()
    assert (body["id"], body["object"], body["deleted"]) == (address_id, "customer_address", True)
    assert body["parent"]["id"] == owner["id"]
    assert (await admin.get(mine)).status_code == 404


async def test_group_crud_and_messages(admin: httpx.AsyncClient) -> None:
    name = unique_email("VIP")
    r = await admin.post("/admin/customer-groups", json={"name": name, "metadata": {"a": 1}})
    assert r.status_code == 200, r.text
    group = r.json()["customer_group"]
    assert set(group) == {
        "id",
        "name",
        "created_by",
        "created_at",
        "updated_at",
        "deleted_at",
        "metadata",
    }
    assert group["id"].startswith("cusgroup_") and group["metadata"] == {"a": 1}
    r = await admin.post("/admin/customer-groups", json={"name": name})
    assert r.status_code == 400
    assert r.json()["message"] == f"Customer group with name: {name}, already exists."
    r = await admin.post("/admin/customer-groups", json={})
    assert r.json()["message"] == "Invalid request: Field 'name' is required"
    r = await admin.post("/admin/customer-groups")
    assert r.json()["message"] == "Invalid request: Field 'name' is required"
    r = await admin.get(f"/admin/customer-groups/{group['id']}")
    assert r.json()["customer_group"] == group
    r = await admin.get("/admin/customer-groups/cusgroup_x")
    assert r.status_code == 404
    assert r.json()["message"] == "Customer group with id: cusgroup_x not found"
    r = await admin.post("/admin/customer-groups/cusgroup_x", json={"name": "y"})
    assert r.json()["message"] == 'Customer group with id "cusgroup_x" not found'
    r = await admin.post(f"/admin/customer-groups/{group['id']}", json={"metadata": {"b": 2}})
    assert r.json()["customer_group"]["metadata"] == {"a": 1, "b": 2}
    r = await admin.get("/admin/customer-groups", params={"name": name})
    assert r.json()["count"] == 1 and r.json()["customer_groups"][0]["id"] == group["id"]
    for _ in range(2):
        r = await admin.delete(f"/admin/customer-groups/{group['id']}")
        assert r.json() == {"id": group["id"], "object": "customer_group", "deleted": True}
    assert (await admin.get(f"/admin/customer-groups/{group['id']}")).status_code == 404


async def test_group_batch_membership(admin: httpx.AsyncClient) -> None:
    a, b = await create_customer(admin), await create_customer(admin)
    r = await admin.post("/admin/customer-groups", json={"name": unique_email("batch")})
    group = r.json()["customer_group"]
    url = f"/admin/customer-groups/{group['id']}/customers"
    r = await admin.post(url, json={"add": [a["id"], b["id"]]}, params={"fields": "id,*customers"})
    assert r.status_code == 200, r.text
    assert sorted(c["id"] for c in r.json()["customer_group"]["customers"]) == sorted(
        [a["id"], b["id"]]
    )
    r = await admin.post(url, json={"add": [a["id"]], "remove": [b["id"]]})
    assert r.status_code == 200  # adding a member again is a no-op
    r = await admin.get("/admin/customer-groups", params={"customers": a["id"], "fields": "id"})
    assert [g["id"] for g in r.json()["customer_groups"]] == [group["id"]]
    r = await admin.get("/admin/customer-groups", params={"customers": b["id"], "fields": "id"})
    assert r.json()["count"] == 0
    r = await admin.post(url, json={"add": ["cus_missing"]})
    assert r.status_code == 404


async def test_customers_filtered_by_group_fields(admin: httpx.AsyncClient) -> None:
    customer = await create_customer(admin)
    name = unique_email("nested")
    group = (await admin.post("/admin/customer-groups", json={"name": name})).json()
    group_id = group["customer_group"]["id"]
    await admin.post(f"/admin/customer-groups/{group_id}/customers", json={"add": [customer["id"]]})
    r = await admin.get("/admin/customers", params={"groups[name]": name, "fields": "id"})
    assert r.json()["customers"] == [{"id": customer["id"]}]
    r = await admin.get("/admin/customers", params={"groups[colour]": "red"})
    assert r.status_code == 400
    assert r.json()["message"] == "Invalid request: Invalid groups: unknown field 'colour'"
