"""Customers: create (with nested addresses), soft delete and restore, each next to its undo.
Updates, hard deletes and the update's undo are the generic ones (`writes.EntityWrites`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from customer_service import events, ids, oplog
from customer_service.db import transaction
from customer_service.entities import ADDRESS, CUSTOMER
from customer_service.queries import attach_new, list_rows, to_dto
from customer_service.schemas import CreateCustomerInput, CustomerDTO, FindConfig, WriteContext
from customer_service.service.create_at_once import create_at_once
from customer_service.service.targets import Target
from customer_service.service.writes import EntityWrites, Row, reuse_ids, row_values


class Customers(EntityWrites[CustomerDTO]):
    updated_event = events.CUSTOMER_UPDATED

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        super().__init__(sessions, CUSTOMER)
        self.addresses = EntityWrites(sessions, ADDRESS)

    async def create(
        self, inputs: Sequence[CreateCustomerInput], ctx: WriteContext
    ) -> list[CustomerDTO]:
        """Create customers with their nested addresses in one transaction (SPEC §2.2).

        A customer whose given id already exists with the same content is returned as it is, so
        a repeated call has one effect; with different content it is an "already exists" error.
        """
        customer_rows: list[Row] = []
        address_rows: list[Row] = []
        minted: set[str] = set()  # ids made here are new by construction: nothing to look up
        for item in inputs:
            row = row_values(item, {"addresses"})
            row["id"] = item.id or ids.new_id(CUSTOMER.prefix)
            if item.id is None:
                minted.add(row["id"])
            if item.auth_identity_id and "has_account" not in item.model_fields_set:
                row["has_account"] = True
            customer_rows.append(row)
            for address in item.addresses:
                values = row_values(address, set())
                values["id"] = address.id or ids.new_id(ADDRESS.prefix)
                if address.id is None:
                    minted.add(values["id"])
                values["customer_id"] = row["id"]
                address_rows.append(values)
        if ctx.operation_id is not None:  # a workflow's step: new rows, in one round trip
            created = await create_at_once(self._autocommit, ctx, customer_rows, address_rows)
            if created is not None:
                return created
        async with transaction(self.sessions, ctx.event_group_id) as session:
            inserted: dict[str, CustomerDTO] = {}
            recorded = await oplog.recorded(session, ctx, oplog.CreateCustomersRecord)
            if recorded is None:
                inserted = await self._insert(session, ctx, customer_rows, address_rows, minted)
            else:  # a repeat returns what the first call made, not the ids minted just now
                reuse_ids(customer_rows, recorded)
            # Rows inserted here come back from INSERT ... RETURNING; only the others are read.
            others = [r["id"] for r in customer_rows if r["id"] not in inserted]
            config = FindConfig(relations=["addresses"])
            result = await list_rows(session, CUSTOMER, {"id": others}, config) if others else []
            by_id = {**inserted, **{str(r.id): r for r in result}}
            out = [by_id[r["id"]] for r in customer_rows]
            oplog.fits(ctx, out)
        return out

    async def _insert(
        self,
        session: AsyncSession,
        ctx: WriteContext,
        customer_rows: list[Row],
        address_rows: list[Row],
        minted: set[str],
    ) -> dict[str, CustomerDTO]:
        """Insert the new customers and their addresses; returns the inserted customers (with
        their addresses) by id, as `list_rows` would read them."""
        fresh = await self.skip_existing(session, customer_rows, minted)
        fresh_ids = {r["id"] for r in fresh}
        fresh_addresses = [a for a in address_rows if a["customer_id"] in fresh_ids]
        fresh_addresses = await self.addresses.skip_existing(session, fresh_addresses, minted)
        stored = await self.insert_returning(session, fresh)
        # A customer new in this transaction has no other address: its addresses are the rows
        # inserted here, as stored (RETURNING, no re-read).
        addresses = await self.addresses.insert_returning(session, fresh_addresses)
        attach_new(stored, "addresses", ADDRESS, addresses, "customer_id")
        created = [r["id"] for r in fresh]
        address_ids = [a["id"] for a in fresh_addresses]
        await events.emit_internal(session, CUSTOMER, "created", created)
        await events.emit_internal(session, ADDRESS, "created", address_ids)
        await events.stage_workflow_events(
            session, events.CUSTOMER_CREATED, created, ctx.event_group_id
        )
        all_ids = [r["id"] for r in customer_rows]
        record = oplog.CreateCustomersRecord(ids=created, address_ids=address_ids, all_ids=all_ids)
        await oplog.write(session, ctx, record)
        return {r["id"]: to_dto(CUSTOMER, r, None, {"addresses": None}) for r in stored}

    async def undo_create(self, operation_id: str) -> bool:
        """Hard-delete the customers (and, in cascade, addresses) that operation created."""
        return await self.undo_create_rows(operation_id, oplog.CreateCustomersRecord)

    async def soft_delete_recorded(self, target: Target, ctx: WriteContext) -> dict[str, list[str]]:
        """Soft delete customers and, in cascade, their live addresses (SPEC §1.7). Unknown or
        already deleted ids are done already (decision 10): skipped, with nothing to undo and no
        `customer.deleted` event for them."""

        async def act(session: AsyncSession) -> oplog.SoftDeleteCustomersRecord:
            customers = await self.set_deleted_at(session, self.ids_in(target), True)
            addresses: list[str] = []
            if customers:
                where = ADDRESS.table.c.customer_id.in_(customers)
                addresses = await self.addresses.set_deleted_at(session, where, True)
            await events.stage_workflow_events(
                session, events.CUSTOMER_DELETED, customers, ctx.event_group_id
            )
            return oplog.SoftDeleteCustomersRecord(customer_ids=customers, address_ids=addresses)

        record = await oplog.once(self.sessions, ctx, oplog.SoftDeleteCustomersRecord, act)
        return _soft_deleted(record.customer_ids, record.address_ids)

    async def undo_soft_delete(self, operation_id: str) -> bool:
        """Restore exactly the customers and addresses that operation soft-deleted."""

        async def restore(session: AsyncSession, record: oplog.SoftDeleteCustomersRecord) -> None:
            await self.set_deleted_at(session, CUSTOMER.table.c.id.in_(record.customer_ids), False)
            where = ADDRESS.table.c.id.in_(record.address_ids)
            await self.addresses.set_deleted_at(session, where, False)

        return await oplog.undo(
            self.sessions, operation_id, oplog.SoftDeleteCustomersRecord, restore
        )

    async def restore_with_addresses(
        self, target: Target, address_ids: list[str] | None
    ) -> dict[str, list[str]]:
        """Restore customers and their soft-deleted addresses — all of them (Medusa), or only
        `address_ids`. Decision 6: a taken email is an error."""
        async with transaction(self.sessions) as session:
            customers = await self.soft_delete_in(session, target, False)
            addr = ADDRESS.table
            where: ColumnElement[bool] = addr.c.customer_id.in_(target.ids or [])
            if address_ids is not None:
                where = and_(where, addr.c.id.in_(address_ids))
            addresses = await self.addresses.set_deleted_at(session, where, False)
        return _soft_deleted(customers, addresses)


def _soft_deleted(customers: list[str], addresses: list[str]) -> dict[str, list[str]]:
    pairs = (("customer_id", customers), ("customer_address_id", addresses))
    return {key: value for key, value in pairs if value}
