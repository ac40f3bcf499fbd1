"""Registered accounts (decision 8): the account-creation check and the compare-and-set link to
an auth identity, next to its undo."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from customer_service import oplog
from customer_service.db import transaction
from customer_service.entities import CUSTOMER
from customer_service.errors import ConflictError, DuplicateError, InvalidDataError, NotFoundError
from customer_service.schemas import MAX_EMAIL, WriteContext
from customer_service.validation import validate_optional_id


class Accounts:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def validate_creation(self, email: str | None, auth_identity_id: str | None) -> None:
        """SPEC §4.7 step 1, with emails compared case-insensitively (decision 1)."""
        if not email:
            raise InvalidDataError("Email is required to create a customer", field="email")
        if not isinstance(email, str) or "\x00" in email or len(email) > MAX_EMAIL:
            raise InvalidDataError("Invalid email: expected an email address", field="email")
        validate_optional_id(auth_identity_id, "auth_identity_id")
        tbl = CUSTOMER.table
        same_email = func.lower(tbl.c.email) == email.strip().lower()
        async with transaction(self.sessions) as session:
            query = select(tbl.c.has_account).where(same_email, CUSTOMER.live())
            rows = (await session.execute(query)).all()
        has_account = any(r.has_account for r in rows)
        if has_account and auth_identity_id:
            raise DuplicateError("Customer with this email already has an account", field="email")
        if rows and not has_account and not auth_identity_id:
            raise DuplicateError("Guest customer with this email already exists", field="email")

    async def set_auth_identity(
        self,
        customer_id: str,
        auth_identity_id: str | None,
        expected: str | None,
        ctx: WriteContext,
    ) -> None:
        """Compare-and-set the customer's auth identity link (decision 8)."""

        async def act(session: AsyncSession) -> oplog.SetAuthIdentityRecord:
            await _compare_and_set(session, customer_id, auth_identity_id, expected)
            return oplog.SetAuthIdentityRecord(
                customer_id=customer_id, previous=expected, written=auth_identity_id
            )

        await oplog.once(self.sessions, ctx, oplog.SetAuthIdentityRecord, act)

    async def undo_set_auth_identity(self, operation_id: str) -> bool:
        async def undo(session: AsyncSession, record: oplog.SetAuthIdentityRecord) -> None:
            await _compare_and_set(session, record.customer_id, record.previous, record.written)

        return await oplog.undo(self.sessions, operation_id, oplog.SetAuthIdentityRecord, undo)


async def _compare_and_set(
    session: AsyncSession, customer_id: str, auth_identity_id: str | None, expected: str | None
) -> None:
    tbl = CUSTOMER.table
    query = select(tbl.c.auth_identity_id).where(tbl.c.id == customer_id).with_for_update()
    row = (await session.execute(query)).first()
    if row is None:
        raise NotFoundError(f"Customer with id: {customer_id} was not found", field="id")
    if row.auth_identity_id == auth_identity_id:
        return
    if row.auth_identity_id != expected:
        detail = {"expected": expected, "actual": row.auth_identity_id}
        raise ConflictError(
            f"Customer {customer_id} auth identity changed since",
            field="auth_identity_id",
            details=[{"id": customer_id, "field": "auth_identity_id", **detail}],
        )
    await session.execute(
        update(tbl)
        .where(tbl.c.id == customer_id)
        .values(auth_identity_id=auth_identity_id, updated_at=func.now())
    )
