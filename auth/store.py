"""`AuthStore`: auth identities (emailpass, Argon2id), admin users, API keys and idempotency keys
in PostgreSQL. Every method is one transaction; nothing here logs or returns a password or a hash.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth.accounts import CustomerAccounts
from auth.models import ApiKey, AuthIdentity, IdempotencyKey, User
from customer_service.db import transaction
from customer_service.errors import ConflictError, CustomerModuleError, NotFoundError
from customer_service.ids import new_id

ActorType = Literal["customer", "user"]
KeyType = Literal["secret", "publishable"]
INVALID_LOGIN = "Invalid email or password"
USE_RESOLUTION = timedelta(minutes=1)


class UnauthorizedError(CustomerModuleError):
    """401: no valid credentials. Medusa's auth routes answer `{type: "unauthorized", …}`."""

    type = "unauthorized"


class NotAllowedError(CustomerModuleError):
    """400 `not_allowed` (Medusa's status for it): e.g. a /store request without a valid key."""

    type = "not_allowed"


class TooManyRequestsError(CustomerModuleError):
    type = "too_many_requests"


@dataclass(frozen=True)
class Principal:
    """Who a request acts as. `actor_id` is empty for an identity not yet linked to an actor."""

    actor_id: str
    actor_type: str
    auth_identity_id: str
    app_metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Identity:
    id: str
    email: str
    app_metadata: dict[str, Any]

    def principal(self, actor_type: ActorType) -> Principal:
        actor = self.app_metadata.get(f"{actor_type}_id") or ""
        return Principal(actor, actor_type, self.id, dict(self.app_metadata))


# One hasher (Argon2id, the library's RFC 9106 low-memory profile); hashing runs in a thread so the
# event loop keeps serving while a login is checked.
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified when the email is unknown, so an unknown user takes as long as a wrong password.
    Made on first use: an Argon2 hash costs a worker or API process 0.15 s of its start-up."""
    return _hasher.hash(secrets.token_hex(16))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _redact(token: str) -> str:
    return f"{token[:3]}***{token[-3:]}"


def api_key_dict(key: ApiKey, token: str | None = None) -> dict[str, Any]:
    """The API key as Medusa's routes show it: a secret key's token only once, when created."""
    shown = key.token if key.type == "publishable" else (token or "")
    return {
        "id": key.id,
        "token": shown,
        "redacted": key.redacted,
        "title": key.title,
        "type": key.type,
        "last_used_at": key.last_used_at,
        "created_by": key.created_by,
        "created_at": key.created_at,
        "updated_at": key.updated_at,
        "revoked_by": key.revoked_by,
        "revoked_at": key.revoked_at,
    }


class AuthStore:
    """Identities, users, keys. Construct with the same session factory as the Customer Module."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        # The account steps of create- and remove-customer-account (run by the worker's
        # activities, not by the API).
        self.accounts = CustomerAccounts(sessions)

    # ------------------------------------------------------------------ identities

    async def register(self, email: str, password: str) -> Identity:
        """A new emailpass identity; an email that has one already is refused (Medusa's 401)."""
        password_hash = await asyncio.to_thread(_hasher.hash, password)
        async with transaction(self._sessions) as session:
            row = (
                await session.execute(
                    pg_insert(AuthIdentity)
                    .values(id=new_id("authid"), email=email, password_hash=password_hash)
                    .on_conflict_do_nothing()
                    .returning(AuthIdentity)
                )
            ).scalar_one_or_none()
        if row is None:
            raise UnauthorizedError("Identity with email already exists")
        return Identity(row.id, row.email, dict(row.app_metadata))

    async def authenticate(self, email: str, password: str) -> Identity:
        """The identity whose password this is; one message for unknown email and bad password."""
        async with transaction(self._sessions) as session:
            row = (
                await session.execute(
                    select(AuthIdentity).where(func.lower(AuthIdentity.email) == email.lower())
                )
            ).scalar_one_or_none()
        stored = row.password_hash if row is not None else None

        def verify() -> None:  # the first dummy hash is made here too, off the event loop
            _hasher.verify(stored if stored is not None else _dummy_hash(), password)

        try:
            await asyncio.to_thread(verify)
        except (VerificationError, InvalidHashError):
            raise UnauthorizedError(INVALID_LOGIN) from None
        if row is None:
            raise UnauthorizedError(INVALID_LOGIN)
        return Identity(row.id, row.email, dict(row.app_metadata))

    async def identity(self, identity_id: str) -> Identity | None:
        async with transaction(self._sessions) as session:
            row = await session.get(AuthIdentity, identity_id)
        return None if row is None else Identity(row.id, row.email, dict(row.app_metadata))

    async def set_actor(self, identity_id: str, actor_type: ActorType, actor_id: str) -> None:
        """Link the identity to its actor (`app_metadata.<actor>_id`); a different link already
        there is refused, as Medusa's set-auth-app-metadata step refuses it."""
        key = f"{actor_type}_id"
        async with transaction(self._sessions) as session:
            row = await session.get(AuthIdentity, identity_id, with_for_update=True)
            if row is None:
                raise NotFoundError("Auth identity not found", field="auth_identity_id")
            current = row.app_metadata.get(key)
            if current == actor_id:
                return
            if current:
                raise ConflictError(f"Key {key} already exists in app metadata", field=key)
            row.app_metadata = {**row.app_metadata, key: actor_id}
            row.updated_at = datetime.now(UTC)

    # ------------------------------------------------------------------ admin users

    async def create_user(self, email: str, password: str) -> tuple[str, bool]:
        """The admin user for `email` (created with its identity if missing) and whether it was
        created. An existing identity for the email is linked only if `password` is its own."""
        async with transaction(self._sessions) as session:
            existing = (
                await session.execute(
                    select(User.id).where(func.lower(User.email) == email.lower())
                )
            ).scalar_one_or_none()
        if existing is not None:
            return existing, False
        try:
            identity = await self.register(email, password)
        except UnauthorizedError:
            identity = await self.authenticate(email, password)
        user_id = new_id("user")
        async with transaction(self._sessions) as session:
            await session.execute(pg_insert(User).values(id=user_id, email=email))
        await self.set_actor(identity.id, "user", user_id)
        return user_id, True

    async def user_exists(self, user_id: str) -> bool:
        async with transaction(self._sessions) as session:
            return await session.get(User, user_id) is not None

    # ------------------------------------------------------------------ API keys

    async def create_api_key(
        self, title: str, key_type: KeyType, created_by: str
    ) -> dict[str, Any]:
        """A new key; the returned dict holds a secret key's token, which is never shown again."""
        prefix = "sk" if key_type == "secret" else "pk"
        token = f"{prefix}_{secrets.token_hex(32)}"
        stored = _digest(token) if key_type == "secret" else token
        async with transaction(self._sessions) as session:
            key = ApiKey(
                id=new_id("apk"),
                token=stored,
                redacted=_redact(token),
                title=title,
                type=key_type,
                created_by=created_by,
            )
            session.add(key)
            await session.flush()
            await session.refresh(key)
        return api_key_dict(key, token)

    async def list_api_keys(
        self, key_type: str | None, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        condition = ApiKey.type == key_type if key_type else ApiKey.id.is_not(None)
        async with transaction(self._sessions) as session:
            count = (
                await session.execute(select(func.count()).select_from(ApiKey).where(condition))
            ).scalar_one()
            rows = (
                await session.execute(
                    select(ApiKey).where(condition).order_by(ApiKey.id).limit(limit).offset(offset)
                )
            ).scalars()
            return [api_key_dict(r) for r in rows], int(count)

    async def retrieve_api_key(self, key_id: str) -> dict[str, Any]:
        async with transaction(self._sessions) as session:
            row = await session.get(ApiKey, key_id)
        if row is None:
            raise NotFoundError(f"ApiKey with id: {key_id} was not found", field="id")
        return api_key_dict(row)

    async def revoke_api_key(self, key_id: str, revoked_by: str) -> dict[str, Any]:
        async with transaction(self._sessions) as session:
            row = await session.get(ApiKey, key_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"ApiKey with id: {key_id} was not found", field="id")
            if row.revoked_at is None:
                row.revoked_at = row.updated_at = datetime.now(UTC)
                row.revoked_by = revoked_by
            return api_key_dict(row)

    async def secret_key_id(self, token: str) -> str | None:
        """The id of the live secret key with this token (and marks it used), or None."""
        return await self._use_key(_digest(token), "secret")

    async def publishable_key_id(self, token: str) -> str | None:
        return await self._use_key(token, "publishable")

    async def _use_key(self, stored: str, key_type: KeyType) -> str | None:
        """The live key's id. `last_used_at` is written at most once a minute per key: every
        storefront request presents the same publishable key, and a write per request would
        queue them all on that one row."""
        live = (ApiKey.token == stored, ApiKey.type == key_type, ApiKey.revoked_at.is_(None))
        async with transaction(self._sessions) as session:
            row = (
                await session.execute(select(ApiKey.id, ApiKey.last_used_at).where(*live))
            ).first()
            if row is None:
                return None
            if row.last_used_at is None or row.last_used_at < datetime.now(UTC) - USE_RESOLUTION:
                await session.execute(
                    update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=func.now())
                )
            key_id: str = row.id
            return key_id

    # ------------------------------------------------------------------ idempotency keys

    async def claim_idempotency_key(self, actor_id: str, key: str, digest: str) -> None:
        """Record `key` for `digest`; the same key used for another request is a conflict."""
        async with transaction(self._sessions) as session:
            await session.execute(
                pg_insert(IdempotencyKey)
                .values(actor_id=actor_id, key=key, digest=digest)
                .on_conflict_do_nothing()
            )
            stored = (
                await session.execute(
                    select(IdempotencyKey.digest).where(
                        IdempotencyKey.actor_id == actor_id, IdempotencyKey.key == key
                    )
                )
            ).scalar_one()
        if stored != digest:
            raise ConflictError(
                "Idempotency-Key was already used for a different request", field="Idempotency-Key"
            )
