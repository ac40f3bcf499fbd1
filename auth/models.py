"""Tables of the auth module (migration `0003_auth`): auth identities (emailpass), admin users,
API keys, and the HTTP API's idempotency keys. The migration must agree with these mappings (a test
compares them, as for the Customer Module)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, MetaData, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from customer_service.models import NAMING_CONVENTION


class AuthBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _created() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class AuthIdentity(AuthBase):
    """An emailpass identity. `app_metadata` links it to its actors (`customer_id`, `user_id`)."""

    __tablename__ = "auth_identity"
    __table_args__ = (Index("IDX_auth_identity_email_unique", text("lower(email)"), unique=True),)

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    email: Mapped[str] = mapped_column(Text)
    password_hash: Mapped[str] = mapped_column(Text)
    app_metadata: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()


class User(AuthBase):
    """An admin user (Medusa's `user`)."""

    __tablename__ = "admin_user"
    __table_args__ = (Index("IDX_admin_user_email_unique", text("lower(email)"), unique=True),)

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    email: Mapped[str] = mapped_column(Text)
    first_name: Mapped[str | None] = mapped_column(Text)
    last_name: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()


class ApiKey(AuthBase):
    """A secret key (admin access over Basic auth; only its SHA-256 is stored) or a publishable
    key (`x-publishable-api-key` on /store routes; stored as issued, as Medusa does)."""

    __tablename__ = "api_key"
    __table_args__ = (Index("IDX_api_key_token_unique", "token", unique=True),)

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    token: Mapped[str] = mapped_column(Text)
    redacted: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(Text)
    revoked_by: Mapped[str | None] = mapped_column(Text)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()


class IdempotencyKey(AuthBase):
    """An `Idempotency-Key` an actor used, with the digest of the request it came with: the same
    key with another request is a conflict, never a silent replay of the first answer."""

    __tablename__ = "api_idempotency_key"

    actor_id: Mapped[str] = mapped_column(Text, primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    digest: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
