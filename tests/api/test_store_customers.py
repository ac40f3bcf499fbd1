"""Store routes (SPEC §5.4): registration, /me and its addresses, isolation between customers."""

from __future__ import annotations

import httpx

from tests.api.conftest import PASSWORD, Api, create_customer, unique_email

ADDRESS = {"address_1": "2 High St", "city": "Leeds", "country_code": "gb"}


async def test_registration_links_the_identity(api: Api) -> None:
    email = unique_email("Shopper")
    customer_id, token = await api.register_customer(email, first_name="Sam")
    async with api.store(token) as http:
        r = await http.get("/store/customers/me")
    assert r.status_code == 200, r.text
    me = r.json()["customer"]
    assert me["id"] == customer_id and me["email"] == email and me["has_account"] is True
    assert me["addresses"] == [] and "created_by" not in me
    identity = await api.services.auth.authenticate(email, PASSWORD)
    assert identity.app_metadata == {"customer_id": customer_id}


async def test_registration_rules(api: Api, admin: httpx.AsyncClient) -> None:
    _, token = await api.register_customer()
    async with api.store(token) as http:  # a token that already acts as a customer
        r = await http.post("/store/customers", json={"email": unique_email()})
        assert r.status_code == 400
        assert r.json()["message"] == "Request already authenticated as a customer."
    async with api.store() as http:
        r = await http.post("/store/customers", json={"email": unique_email()})
        assert r.status_code == 401
    guest = await create_customer(admin)  # registering next to a guest record succeeds
    customer_id, _ = await api.register_customer(guest["email"])
    assert customer_id != guest["id"]
    email = unique_email("twice")
    await api.register_customer(email)
    async with api.client() as http:
        r = await http.post(
            "/auth/customer/emailpass/register", json={"email": email, "password": PASSWORD}
        )
        assert r.status_code == 401  # the identity exists already
    registration = (await api.services.auth.register(unique_email(), PASSWORD)).principal(
        "customer"
    )
    from auth.tokens import issue_token
    from tests.api.conftest import JWT_SECRET

    async with api.store(issue_token(registration, JWT_SECRET, 60)) as http:
        r = await http.post("/store/customers", json={"first_name": "No email"})
        assert r.status_code == 400
        assert r.json()["message"] == "Email is required to create a customer"
        r = await http.post("/store/customers", json={"email": email})
        assert r.status_code == 422
        assert r.json() == {
            "type": "duplicate_error",
            "message": "Customer with this email already has an account",
        }


async def test_me_update_allows_no_email(api: Api) -> None:
    _, token = await api.register_customer()
    async with api.store(token) as http:
        r = await http.post(
            "/store/customers/me", json={"last_name": "Stone", "metadata": {"a": 1}}
        )
        assert r.status_code == 200, r.text
        assert r.json()["customer"]["last_name"] == "Stone"
        r = await http.post("/store/customers/me", json={"email": "x@example.com"})
        assert r.status_code == 400
        assert r.json()["message"] == "Invalid request: Unrecognized fields: 'email'"


async def test_store_fields_allow_list_drops_the_rest(api: Api) -> None:
    _, token = await api.register_customer()
    async with api.store(token) as http:
        r = await http.get(
            "/store/customers/me", params={"fields": "id,email,created_by,*groups,orders"}
        )
        assert r.json()["customer"].keys() == {"id", "email"}
        r = await http.get("/store/customers/me/addresses", params={"order": "created_by"})
        assert r.status_code == 400
        assert r.json()["message"] == "Order field created_by is not valid"


async def test_my_addresses_and_isolation(api: Api) -> None:
    alice_id, alice = await api.register_customer()
    _, bob = await api.register_customer()
    async with api.store(alice) as http:
        r = await http.post(
            "/store/customers/me/addresses", json={**ADDRESS, "is_default_billing": True}
        )
        assert r.status_code == 200, r.text
        [address] = r.json()["customer"]["addresses"]
        assert address["is_default_billing"] is True and address["is_default_shipping"] is False
        r = await http.get("/store/customers/me/addresses")
        assert r.json()["count"] == 1 and r.json()["addresses"][0]["id"] == address["id"]
        r = await http.get(f"/store/customers/me/addresses/{address['id']}")
        assert r.json()["address"]["city"] == "Leeds"
        r = await http.get("/store/customers/me/addresses", params={"city": "Nowhere"})
        assert r.json()["count"] == 0
    path = f"/store/customers/me/addresses/{address['id']}"
    async with api.store(bob) as http:
        for method, body in (("GET", None), ("POST", {"city": "Stolen"}), ("DELETE", None)):
            r = await http.request(method, path, json=body)
            assert r.status_code == 404, (method, r.text)
            assert r.json()["message"] == f"Address with id: {address['id']} was not found"
            assert "Leeds" not in r.text
        r = await http.get("/store/customers/me/addresses")
        assert r.json()["count"] == 0
    async with api.store(alice) as http:
        r = await http.post(path, json={"city": "York"})
        assert r.json()["customer"]["addresses"][0]["city"] == "York"
        r = await http.delete(path)
        assert r.status_code == 200
        body = r.json()
        assert (body["id"], body["object"], body["deleted"]) == (alice_id, "address", True)
        assert body["parent"]["addresses"] == []
        assert (await http.get(path)).status_code == 404


async def test_deleted_customer_token_gets_404_and_identity_is_freed(
    api: Api, admin: httpx.AsyncClient
) -> None:
    email = unique_email("leaver")
    customer_id, token = await api.register_customer(email)
    r = await admin.delete(f"/admin/customers/{customer_id}")
    assert r.status_code == 200, r.text
    async with api.store(token) as http:
        r = await http.get("/store/customers/me")
        assert r.status_code == 404
        assert r.json()["message"] == f"Customer with id: {customer_id} was not found"
    # remove-customer-account deletes the identity: the email can register again
    new_id, _ = await api.register_customer(email)
    assert new_id != customer_id
