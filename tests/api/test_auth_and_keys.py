"""Auth (emailpass logins, tokens, throttling) and API keys over the real server."""

from __future__ import annotations

import base64
import json

import httpx
import jwt

from auth.store import Principal
from auth.tokens import issue_token
from tests.api.conftest import JWT_SECRET, PASSWORD, Api, basic, unique_email

UNAUTHORIZED = {"message": "Unauthorized"}


async def test_admin_routes_need_credentials(api: Api) -> None:
    async with api.client() as http:
        for method, path in (
            ("GET", "/admin/customers"),
            ("POST", "/admin/customers"),
            ("GET", "/admin/api-keys"),
            ("DELETE", "/admin/customers/cus_1"),
        ):
            r = await http.request(method, path)
            assert (r.status_code, r.json()) == (401, UNAUTHORIZED), path
        for header in ("Bearer garbage", "Basic !!!", basic("sk_unknown"), "Token x"):
            r = await http.get("/admin/customers", headers={"authorization": header})
            assert (r.status_code, r.json()) == (401, UNAUTHORIZED), header


async def test_admin_login_wrong_password_and_unknown_user_read_alike(api: Api) -> None:
    email = unique_email("admin2")
    await api.services.auth.create_user(email, PASSWORD)
    async with api.client() as http:
        r = await http.post("/auth/user/emailpass", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200
        claims = jwt.decode(r.json()["token"], JWT_SECRET, algorithms=["HS256"])
        assert claims["actor_type"] == "user" and claims["actor_id"].startswith("user_")
        assert claims["exp"] - claims["iat"] == 24 * 3600
        wrong = await http.post("/auth/user/emailpass", json={"email": email, "password": "nope"})
        unknown = await http.post(
            "/auth/user/emailpass", json={"email": unique_email(), "password": PASSWORD}
        )
    expected = {"type": "unauthorized", "message": "Invalid email or password"}
    assert (wrong.status_code, wrong.json()) == (401, expected)
    assert (unknown.status_code, unknown.json()) == (401, expected)
    assert "nope" not in wrong.text


async def test_expired_and_tampered_tokens_are_refused(api: Api) -> None:
    principal = Principal(api.admin_id, "user", "authid_x")
    expired = issue_token(principal, JWT_SECRET, -10)
    forged = issue_token(principal, "another-secret-" + "y" * 40, 3600)
    header, payload, signature = api.admin_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["actor_id"] = "user_someone_else"
    edited = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    tampered = f"{header}.{edited}.{signature}"
    customer_token = issue_token(Principal("cus_1", "customer", "authid_y"), JWT_SECRET, 3600)
    async with api.client() as http:
        for token in (expired, forged, tampered, customer_token):
            r = await http.get("/admin/customers", headers={"authorization": f"Bearer {token}"})
            assert (r.status_code, r.json()) == (401, UNAUTHORIZED)
        r = await http.get(
            "/admin/customers", headers={"authorization": f"Bearer {api.admin_token}"}
        )
        assert r.status_code == 200


async def test_repeated_failed_logins_are_throttled(api: Api) -> None:
    email = unique_email("target")
    await api.services.auth.register(email, PASSWORD)
    async with api.client() as http:
        statuses = [
            (
                await http.post("/auth/customer/emailpass", json={"email": email, "password": "x"})
            ).status_code
            for _ in range(6)
        ]
        assert statuses == [401] * 5 + [429]
        r = await http.post("/auth/customer/emailpass", json={"email": email, "password": PASSWORD})
        assert r.status_code == 429  # even the right password, for the rest of the window
        assert r.json()["type"] == "too_many_requests" and r.headers["retry-after"]
        other = await http.post(
            "/auth/customer/emailpass", json={"email": unique_email(), "password": "x"}
        )
        assert other.status_code == 401  # other emails are unaffected


async def test_registration_and_refresh(api: Api) -> None:
    email = unique_email("reg")
    async with api.client() as http:
        r = await http.post(
            "/auth/customer/emailpass/register", json={"email": email, "password": PASSWORD}
        )
        assert r.status_code == 200
        token = r.json()["token"]
        assert jwt.decode(token, JWT_SECRET, algorithms=["HS256"])["actor_id"] == ""
        again = await http.post(
            "/auth/customer/emailpass/register", json={"email": email, "password": PASSWORD}
        )
        assert again.status_code == 401
        assert again.json()["message"] == "Identity with email already exists"
        r = await http.post(
            "/auth/customer/emailpass/register", json={"email": "x", "password": ""}
        )
        assert r.status_code == 400
    async with api.store(token) as http:
        r = await http.post("/store/customers", json={"email": email, "first_name": "Reg"})
        assert r.status_code == 200, r.text
        customer_id = r.json()["customer"]["id"]
    async with api.client(authorization=f"Bearer {token}") as http:
        r = await http.post("/auth/token/refresh")
        assert r.status_code == 200
        claims = jwt.decode(r.json()["token"], JWT_SECRET, algorithms=["HS256"])
        assert claims["actor_id"] == customer_id and claims["actor_type"] == "customer"
    async with api.client(authorization="Bearer nope") as http:
        assert (await http.post("/auth/token/refresh")).status_code == 401


async def test_api_keys_secret_basic_auth_and_revocation(
    api: Api, admin: httpx.AsyncClient
) -> None:
    r = await admin.post("/admin/api-keys", json={"title": "ci", "type": "secret"})
    assert r.status_code == 200, r.text
    key = r.json()["api_key"]
    assert key["token"].startswith("sk_") and key["redacted"] == f"sk_***{key['token'][-3:]}"
    assert key["created_by"] == api.admin_id and key["revoked_at"] is None
    r = await admin.get("/admin/api-keys", params={"type": "secret"})
    listed = {k["id"]: k for k in r.json()["api_keys"]}
    assert listed[key["id"]]["token"] == ""  # a secret is shown only once
    async with api.client(authorization=basic(key["token"])) as http:
        r = await http.post("/admin/customers", json={"email": unique_email()})
        assert r.status_code == 200
        assert r.json()["customer"]["created_by"] == key["id"]
    r = await admin.post(f"/admin/api-keys/{key['id']}/revoke")
    assert r.status_code == 200 and r.json()["api_key"]["revoked_at"] is not None
    assert r.json()["api_key"]["revoked_by"] == api.admin_id
    async with api.client(authorization=basic(key["token"])) as http:
        r = await http.get("/admin/customers")
        assert (r.status_code, r.json()) == (401, UNAUTHORIZED)
    r = await admin.get(f"/admin/api-keys/{key['id']}")
    assert r.json()["api_key"]["id"] == key["id"]
    assert (await admin.get("/admin/api-keys/apk_missing")).status_code == 404
    assert (await admin.post("/admin/api-keys/apk_missing/revoke")).status_code == 404
    r = await admin.post("/admin/api-keys", json={"title": "x", "type": "other"})
    assert r.status_code == 400


async def test_store_routes_need_a_live_publishable_key(api: Api, admin: httpx.AsyncClient) -> None:
    async with api.client() as http:
        r = await http.get("/store/customers/me")
        assert r.status_code == 400 and r.json()["type"] == "not_allowed"
        r = await http.get("/store/customers/me", headers={"x-publishable-api-key": "pk_nope"})
        assert r.status_code == 400
        assert (
            r.json()["message"] == "A valid publishable key is required to proceed with the request"
        )
    r = await admin.post("/admin/api-keys", json={"title": "web", "type": "publishable"})
    key = r.json()["api_key"]
    assert key["token"].startswith("pk_")
    async with api.client(**{"x-publishable-api-key": key["token"]}) as http:
        r = await http.get("/store/customers/me")
        assert (r.status_code, r.json()) == (401, UNAUTHORIZED)  # key fine, no customer token
        await admin.post(f"/admin/api-keys/{key['id']}/revoke")
        r = await http.get("/store/customers/me")
        assert r.status_code == 400 and r.json()["type"] == "not_allowed"


async def test_users_create_is_idempotent_per_email(api: Api) -> None:
    email = unique_email("ops")
    first, created = await api.services.auth.create_user(email, PASSWORD)
    again, created_again = await api.services.auth.create_user(email.upper(), "other password")
    assert created and not created_again and first == again


async def test_an_expired_token_cannot_be_refreshed_or_register(api: Api) -> None:
    identity = await api.services.auth.register(unique_email("late"), PASSWORD)
    expired = issue_token(identity.principal("customer"), JWT_SECRET, -1)
    async with api.client(authorization=f"Bearer {expired}") as http:
        assert (await http.post("/auth/token/refresh")).status_code == 401
    async with api.store(expired) as http:
        r = await http.post("/store/customers", json={"email": identity.email})
        assert (r.status_code, r.json()) == (401, UNAUTHORIZED)
