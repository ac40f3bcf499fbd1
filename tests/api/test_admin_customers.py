"""Admin customer routes (SPEC §5.1) over the real server: shapes, validation, filters, fields,
order and paging, membership, deletes."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import Api, create_customer, unique_email

DEFAULT_FIELDS = {
    "id",
    "company_name",
    "first_name",
    "last_name",
    "email",
    "phone",
    "metadata",
    "has_account",
    "created_by",
    "created_at",
    "updated_at",
    "deleted_at",
}


async def test_create_answers_200_with_the_default_fields_and_the_acting_admin(
    api: Api, admin: httpx.AsyncClient
) -> None:
    email = unique_email("Ann")
    r = await admin.post(
        "/admin/customers",
        json={
            "email": email,
            "first_name": "Ann",
            "metadata": {"tier": "gold"},
            "additional_data": {"source": "test"},
        },
    )
    assert r.status_code == 200, r.text
    customer = r.json()["customer"]
    assert set(customer) == DEFAULT_FIELDS
    assert customer["id"].startswith("cus_")
    assert customer["email"] == email
    assert customer["has_account"] is False
    assert customer["created_by"] == api.admin_id
    assert customer["metadata"] == {"tier": "gold"}
    assert customer["deleted_at"] is None and customer["last_name"] is None
    assert r.headers["content-type"].startswith("application/json")


async def test_an_empty_body_creates_a_customer_with_every_field_null(
    admin: httpx.AsyncClient,
) -> None:
    r = await admin.post("/admin/customers", json={})
    assert r.status_code == 200, r.text
    assert r.json()["customer"]["email"] is None


async def test_strict_bodies_and_medusa_messages(admin: httpx.AsyncClient) -> None:
    cases = [
        ({"has_account": True}, "Invalid request: Unrecognized fields: 'has_account'"),
        ({"email": "not-an-email"}, "Invalid request: Invalid email: is not a valid email address"),
        ({"email": 123}, "Invalid request: Expected type: 'string' for field 'email', got: '123'"),
        (
            {"metadata": "x"},
            "Invalid request: Expected type: 'record' for field 'metadata', got: 'x'",
        ),
    ]
    for body, message in cases:
        r = await admin.post("/admin/customers", json=body)
        assert r.status_code == 400, (body, r.text)
        assert r.json() == {"type": "invalid_data", "message": message}


async def test_malformed_json_is_invalid_data(admin: httpx.AsyncClient) -> None:
    r = await admin.post(
        "/admin/customers", content=b'{"email": ', headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert r.json()["type"] == "invalid_data"
    assert "Traceback" not in r.text


async def test_duplicate_email_is_400_already_exists(admin: httpx.AsyncClient) -> None:
    customer = await create_customer(admin)
    typed = customer["email"].upper()
    r = await admin.post("/admin/customers", json={"email": typed})
    assert r.status_code == 400
    assert r.json() == {
        "type": "invalid_data",
        "message": f"Customer with email: {typed}, has_account: false, already exists.",
    }


async def test_retrieve_and_its_404(admin: httpx.AsyncClient) -> None:
    customer = await create_customer(admin, first_name="Bo")
    r = await admin.get(f"/admin/customers/{customer['id']}")
    assert r.status_code == 200
    assert r.json()["customer"] == customer
    r = await admin.get("/admin/customers/cus_missing")
    assert r.status_code == 404
    assert r.json() == {"type": "not_found", "message": "Customer with id: cus_missing not found"}


async def test_fields_replace_add_remove_and_relations(admin: httpx.AsyncClient) -> None:
    customer = await create_customer(admin, first_name="Cy")
    url = f"/admin/customers/{customer['id']}"
    r = await admin.get(url, params={"fields": "email"})
    assert r.json()["customer"] == {"id": customer["id"], "email": customer["email"]}
    r = await admin.get(url, params={"fields": "-metadata,-created_by"})
    assert set(r.json()["customer"]) == DEFAULT_FIELDS - {"metadata", "created_by"}
    r = await admin.get(url, params={"fields": "+addresses.city,*groups"})
    body = r.json()["customer"]
    assert body["addresses"] == [] and body["groups"] == []
    assert set(body) == DEFAULT_FIELDS | {"addresses", "groups"}
    r = await admin.get(f"{url}?fields=id,*addresses")  # a raw "+" would arrive as a space
    assert r.json()["customer"] == {"id": customer["id"], "addresses": []}
    r = await admin.get(url, params={"fields": "password"})
    assert r.status_code == 400
    assert r.json()["message"] == "Invalid request: Unknown field 'password' in fields"


async def test_update_merges_metadata_and_404s_as_medusa(admin: httpx.AsyncClient) -> None:
    customer = await create_customer(admin, metadata={"n": 1, "tier": "gold"})
    r = await admin.post(
        f"/admin/customers/{customer['id']}",
        json={"last_name": "Lee", "metadata": {"tier": "platinum"}},
    )
    assert r.status_code == 200, r.text
    updated = r.json()["customer"]
    assert updated["last_name"] == "Lee"
    assert updated["metadata"] == {"n": 1, "tier": "platinum"}
    assert updated["updated_at"] > customer["updated_at"]
    r = await admin.post("/admin/customers/cus_nope", json={"first_name": "X"})
    assert r.status_code == 404
    assert r.json()["message"] == 'Customer with id "cus_nope" not found'
    r = await admin.post(f"/admin/customers/{customer['id']}", json={"foo": 1})
    assert r.status_code == 400
    assert r.json()["message"] == "Invalid request: Unrecognized fields: 'foo'"


async def test_delete_is_200_and_idempotent(admin: httpx.AsyncClient) -> None:
    customer = await create_customer(admin)
    for _ in range(2):
        r = await admin.delete(f"/admin/customers/{customer['id']}")
        assert r.status_code == 200, r.text
        assert r.json() == {"id": customer["id"], "object": "customer", "deleted": True}
    assert (await admin.get(f"/admin/customers/{customer['id']}")).status_code == 404
    r = await admin.delete("/admin/customers/cus_never_existed")
    assert r.json() == {"id": "cus_never_existed", "object": "customer", "deleted": True}
    # the email is free again
    r = await admin.post("/admin/customers", json={"email": customer["email"]})
    assert r.status_code == 200


async def test_list_envelope_filters_order_and_paging(admin: httpx.AsyncClient) -> None:
    tag = unique_email("tag").split("@")[0].replace(".", "")
    made = [
        await create_customer(admin, email=f"{tag}{i}@example.com", company_name=tag)
        for i in range(3)
    ]
    r = await admin.get("/admin/customers", params={"company_name": tag})
    body = r.json()
    assert r.status_code == 200
    assert body["count"] == 3 and body["offset"] == 0 and body["limit"] == 50
    assert [c["id"] for c in body["customers"]] == [c["id"] for c in made]
    r = await admin.get(
        "/admin/customers",
        params={"company_name": tag, "order": "-created_at", "limit": 2, "offset": 1},
    )
    body = r.json()
    assert body["count"] == 3 and body["limit"] == 2 and body["offset"] == 1
    assert [c["id"] for c in body["customers"]] == [made[1]["id"], made[0]["id"]]
    # q, email lists (comma-split), $or, operator maps, has_account
    r = await admin.get("/admin/customers", params={"q": tag, "fields": "id"})
    assert r.json()["count"] == 3
    emails = f"{made[0]['email']},{made[2]['email']}"
    r = await admin.get("/admin/customers", params={"email": emails})
    assert [c["id"] for c in r.json()["customers"]] == [made[0]["id"], made[2]["id"]]
    r = await admin.get(
        "/admin/customers",
        params={"$or[0][email]": made[1]["email"], "$or[1][email]": made[2]["email"]},
    )
    assert r.json()["count"] == 2
    r = await admin.get(
        "/admin/customers",
        params={"$and[0][company_name]": tag, "$and[1][id][$nin]": made[0]["id"]},
    )
    assert [c["id"] for c in r.json()["customers"]] == [made[1]["id"], made[2]["id"]]
    r = await admin.get(
        "/admin/customers",
        params={
            "company_name": tag,
            "created_at[$gt]": made[0]["created_at"],
            "has_account": "false",
        },
    )
    assert [c["id"] for c in r.json()["customers"]] == [made[1]["id"], made[2]["id"]]
    r = await admin.get("/admin/customers", params={"id[$in]": f"{made[0]['id']},{made[1]['id']}"})
    assert r.json()["count"] == 2


async def test_bad_queries_are_400_naming_the_field(admin: httpx.AsyncClient) -> None:
    cases = [
        ({"foo": "1"}, "Invalid request: Unrecognized fields: 'foo'"),
        (
            {"limit": "abc"},
            "Invalid request: Expected type: 'number' for field 'limit', got: 'abc'",
        ),
        ({"order": "shoe_size"}, "Order field shoe_size is not valid"),
        (
            {"with_deleted": "maybe"},
            "Invalid request: Expected type: 'boolean' for field 'with_deleted', got: 'maybe'",
        ),
        ({"email[$foo]": "x"}, None),
        ({"a.b.c": "x"}, None),
    ]
    for params, message in cases:
        r = await admin.get("/admin/customers", params=params)
        assert r.status_code == 400, (params, r.text)
        assert r.json()["type"] == "invalid_data"
        if message:
            assert r.json()["message"] == message


async def test_with_deleted_lists_soft_deleted_customers(admin: httpx.AsyncClient) -> None:
    customer = await create_customer(admin)
    await admin.delete(f"/admin/customers/{customer['id']}")
    r = await admin.get("/admin/customers", params={"id": customer["id"]})
    assert r.json()["count"] == 0
    r = await admin.get("/admin/customers", params={"id": customer["id"], "with_deleted": "true"})
    assert r.json()["customers"][0]["deleted_at"] is not None


async def test_customer_groups_membership_from_the_customer(admin: httpx.AsyncClient) -> None:
    customer = await create_customer(admin)
    r = await admin.post("/admin/customer-groups", json={"name": unique_email("grp")})
    group = r.json()["customer_group"]
    url = f"/admin/customers/{customer['id']}/customer-groups"
    r = await admin.post(url, json={"add": [group["id"]]}, params={"fields": "id,*groups"})
    assert r.status_code == 200, r.text
    assert [g["id"] for g in r.json()["customer"]["groups"]] == [group["id"]]
    r = await admin.get("/admin/customers", params={"groups": group["id"]})
    assert [c["id"] for c in r.json()["customers"]] == [customer["id"]]
    r = await admin.post(url, json={"remove": [group["id"]]}, params={"fields": "id,*groups"})
    assert r.json()["customer"]["groups"] == []
    r = await admin.post(url, json={"add": "cusgroup_x"})
    assert r.status_code == 400
    r = await admin.post(url, json={"add": ["cusgroup_missing"]})
    assert r.status_code == 404
    assert r.json()["type"] == "not_found"


async def test_a_list_count_is_exact_up_to_1000_and_an_estimate_above(
    admin: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    """Decision 14: a q matching 1,001 customers answers more than 1,000 (estimated); once one
    of them is deleted, exactly 1,000."""
    tag = f"Bulkcount{uuid.uuid4().hex[:8]}"
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO customer (id, email, last_name, has_account, created_at, updated_at)"
                " SELECT 'cus_' || :tag || g, :tag || g || '@example.com', :tag, false, now(),"
                " now() FROM generate_series(1, 1001) g"
            ),
            {"tag": tag},
        )
    r = await admin.get("/admin/customers", params={"q": tag, "limit": 2, "fields": "id"})
    assert r.status_code == 200, r.text
    assert len(r.json()["customers"]) == 2
    assert r.json()["count"] > 1000
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE customer SET deleted_at = now() WHERE id = 'cus_' || :tag || '1'"),
            {"tag": tag},
        )
    r = await admin.get("/admin/customers", params={"q": tag, "limit": 2})
    assert (r.json()["count"], len(r.json()["customers"])) == (1000, 2)
