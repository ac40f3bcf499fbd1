"""The auth side of a customer account, as saga steps (SPEC §4.7 step 4, §4.8 steps 3–4).

- `link_customer`: create-customer-account's `set-auth-app-metadata` — the registration's auth
  identity gets `app_metadata.customer_id`; its undo removes the key again.
- `remove_customer_identity`: remove-customer-account's last step — the identity pointing at the
  customer is deleted (freeing the email), or only unlinked when it also belongs to another
  actor (an admin user); its undo re-creates the identity with the same id and password hash, or
  links it again.

Each is one transaction recorded in the operation log under the step's operation id, so a retried
activity has one effect and its compensation undoes exactly that (DESIGN rule 1). The record of a
deleted identity keeps its password hash until the run is done with it: the database holds the
hash either way, and nothing here logs or returns it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth.models import AuthIdentity
from customer_service import oplog
from customer_service.errors import ConflictError, InvalidDataError, NotFoundError
from customer_service.schemas import WriteContext

CUSTOMER_KEY = "customer_id"
IDENTITY_NOT_FOUND = "Auth identity not found"


class LinkCustomerRecord(oplog.Record):
    kind: Literal["link auth identity"] = "link auth identity"
    identity_id: str
    customer_id: str
    linked: bool  # False: the link was there already, so the undo leaves it


class IdentityRow(BaseModel):
    """An auth identity as stored, to re-create it exactly."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    email: str
    password_hash: str
    app_metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class RemoveIdentityRecord(oplog.Record):
    kind: Literal["remove auth identity"] = "remove auth identity"
    customer_id: str
    identity: IdentityRow
    deleted: bool  # False: only unlinked, the identity also belongs to another actor


class CustomerAccounts:
    """The two account steps and their undos; same session factory as the Customer Module."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def link_customer(self, identity_id: str, customer_id: str, ctx: WriteContext) -> None:
        """Set `app_metadata.customer_id` on the identity. A link to another customer is
        refused, as Medusa's set-auth-app-metadata refuses it."""

        async def act(session: AsyncSession) -> LinkCustomerRecord:
            row = await session.get(AuthIdentity, identity_id, with_for_update=True)
            if row is None:
                raise NotFoundError(IDENTITY_NOT_FOUND, field="auth_identity_id")
            current = row.app_metadata.get(CUSTOMER_KEY)
            if current not in (None, customer_id):
                raise InvalidDataError(
                    f"Key {CUSTOMER_KEY} already exists in app metadata", field=CUSTOMER_KEY
                )
            if current is None:
                _set_metadata(row, {**row.app_metadata, CUSTOMER_KEY: customer_id})
            return LinkCustomerRecord(
                identity_id=identity_id, customer_id=customer_id, linked=current is None
            )

        await oplog.once(self._sessions, ctx, LinkCustomerRecord, act)

    async def undo_link_customer(self, operation_id: str) -> bool:
        async def undo(session: AsyncSession, record: LinkCustomerRecord) -> None:
            if not record.linked:
                return
            row = await session.get(AuthIdentity, record.identity_id, with_for_update=True)
            if row is not None:
                _unlink(row, record.customer_id)

        return await oplog.undo(self._sessions, operation_id, LinkCustomerRecord, undo)

    async def remove_customer_identity(
        self, customer_id: str, identity_id: str | None, ctx: WriteContext
    ) -> bool:
        """Delete the identity whose `app_metadata.customer_id` is the customer (or only
        unlink it when another actor key is set); returns whether it was deleted. `identity_id`
        (the customer's `auth_identity_id`) narrows the search to one row; no identity is
        not_found, as Medusa's get-customer-auth-identity."""

        async def act(session: AsyncSession) -> RemoveIdentityRecord:
            query = select(AuthIdentity).where(
                AuthIdentity.app_metadata[CUSTOMER_KEY].astext == customer_id
            )
            if identity_id is not None:
                query = query.where(AuthIdentity.id == identity_id)
            row = (
                await session.execute(query.order_by(AuthIdentity.id).limit(1).with_for_update())
            ).scalar_one_or_none()
            if row is None:
                raise NotFoundError(IDENTITY_NOT_FOUND, field="auth_identity_id")
            kept = any(v is not None for k, v in row.app_metadata.items() if k != CUSTOMER_KEY)
            record = RemoveIdentityRecord(
                customer_id=customer_id,
                identity=IdentityRow.model_validate(row, from_attributes=True),
                deleted=not kept,
            )
            if kept:
                _unlink(row, customer_id)
            else:
                await session.delete(row)
            return record

        return (await oplog.once(self._sessions, ctx, RemoveIdentityRecord, act)).deleted

    async def undo_remove_customer_identity(self, operation_id: str) -> bool:
        async def undo(session: AsyncSession, record: RemoveIdentityRecord) -> None:
            saved = record.identity
            if record.deleted:
                await session.execute(
                    pg_insert(AuthIdentity)
                    .values(**saved.model_dump())
                    .on_conflict_do_nothing(index_elements=[AuthIdentity.id])
                )
                return
            row = await session.get(AuthIdentity, saved.id, with_for_update=True)
            if row is None:
                raise NotFoundError(IDENTITY_NOT_FOUND, field="auth_identity_id")
            current = row.app_metadata.get(CUSTOMER_KEY)
            if current not in (None, record.customer_id):
                raise ConflictError(
                    f"Auth identity {saved.id} was linked to another customer since",
                    field=CUSTOMER_KEY,
                )
            if current is None:
                _set_metadata(row, {**row.app_metadata, CUSTOMER_KEY: record.customer_id})

        return await oplog.undo(self._sessions, operation_id, RemoveIdentityRecord, undo)


def _set_metadata(row: AuthIdentity, app_metadata: dict[str, Any]) -> None:
    row.app_metadata = app_metadata
    row.updated_at = datetime.now(UTC)


def _unlink(row: AuthIdentity, customer_id: str) -> None:
    """Remove the customer key if it still names this customer (compare-and-set)."""
    if row.app_metadata.get(CUSTOMER_KEY) == customer_id:
        _set_metadata(row, {k: v for k, v in row.app_metadata.items() if k != CUSTOMER_KEY})
