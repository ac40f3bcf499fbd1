"""Addresses: create, hard delete and the default-address flags, each next to its undo.
Updates, soft delete / restore and the update's undo are the generic ones."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from customer_service import events, oplog
from customer_service.db import transaction
from customer_service.entities import ADDRESS, CUSTOMER
from customer_service.errors import ConflictError, InvalidDataError, NotFoundError
from customer_service.oplog import DEFAULT_FLAGS, DefaultFlag
from customer_service.queries import retrieve_row
from customer_service.schemas import AddressDTO, CreateAddressInput, FindConfig, WriteContext
from customer_service.service.targets import Target
from customer_service.service.writes import EntityWrites


def default_flag(flag: str) -> DefaultFlag:
    for known in DEFAULT_FLAGS:
        if flag == known:
            return known
    raise InvalidDataError(f"Invalid flag: {flag}", field="flag")


class Addresses(EntityWrites[AddressDTO]):
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        super().__init__(sessions, ADDRESS)

    async def create(
        self, inputs: Sequence[CreateAddressInput], ctx: WriteContext
    ) -> list[AddressDTO]:
        """Create addresses. Module level: a second default is an error."""
        return await self.create_rows(inputs, ctx, oplog.CreateAddressesRecord)

    async def undo_create(self, operation_id: str) -> bool:
        return await self.undo_create_rows(operation_id, oplog.CreateAddressesRecord)

    async def delete_recorded(self, target: Target, ctx: WriteContext) -> list[AddressDTO]:
        """Hard delete; returns the rows deleted (recorded: a repeat returns the same).
        Decision 5: an unknown address id is not_found (a filter may match nothing)."""

        async def act(session: AsyncSession) -> oplog.DeleteAddressesRecord:
            rows = await self.delete_in(session, target, must_exist=True)
            return oplog.DeleteAddressesRecord(
                rows=[r.model_dump(mode="json") for r in self.dtos(rows)]
            )

        record = await oplog.once(self.sessions, ctx, oplog.DeleteAddressesRecord, act)
        return self.dtos(record.rows)

    async def undo_delete(self, operation_id: str) -> bool:
        """Put the deleted rows back exactly (same ids and timestamps)."""

        async def reinsert(session: AsyncSession, record: oplog.DeleteAddressesRecord) -> None:
            values = [r.model_dump(exclude={"customer"}) for r in self.dtos(record.rows)]
            if values:
                tbl = ADDRESS.table
                insert = pg_insert(tbl).on_conflict_do_nothing(index_elements=["id"])
                await session.execute(insert, values)

        return await oplog.undo(self.sessions, operation_id, oplog.DeleteAddressesRecord, reinsert)

    async def unset_defaults(
        self, customer_ids: list[str], flag: DefaultFlag, ctx: WriteContext
    ) -> list[str]:
        """Take `flag` off the customers' current default addresses; returns those address ids
        (recorded, so a repeat returns the same list and the compensation stays exact)."""
        tbl = ADDRESS.table

        async def act(session: AsyncSession) -> oplog.UnsetDefaultRecord:
            result = await session.execute(
                update(tbl)
                .where(tbl.c.customer_id.in_(customer_ids), tbl.c[flag].is_(True))
                .values({flag: False, "updated_at": func.now()})
                .returning(tbl.c.id)
            )
            unset = sorted(r.id for r in result.all())
            await events.emit_internal(session, ADDRESS, "updated", unset)
            return oplog.UnsetDefaultRecord(flag=flag, address_ids=unset)

        record = await oplog.once(self.sessions, ctx, oplog.UnsetDefaultRecord, act)
        return record.address_ids

    async def undo_unset_defaults(self, operation_id: str) -> bool:
        """Give the flag back to the addresses that operation took it from, while no other
        address of their customer has taken it since (else `ConflictError`)."""

        async def reset(session: AsyncSession, record: oplog.UnsetDefaultRecord) -> None:
            if record.address_ids:
                await self._reset_defaults(session, record.address_ids, record.flag)

        return await oplog.undo(self.sessions, operation_id, oplog.UnsetDefaultRecord, reset)

    async def _reset_defaults(
        self, session: AsyncSession, id_list: list[str], flag: DefaultFlag
    ) -> None:
        tbl = ADDRESS.table
        rows = (
            await session.execute(
                select(tbl.c.id, tbl.c.customer_id, tbl.c[flag].label("flag"))
                .where(tbl.c.id.in_(id_list))
                .with_for_update()
            )
        ).all()
        todo = [r for r in rows if not r.flag]
        if not todo:
            return
        holders = (
            await session.execute(
                select(tbl.c.id, tbl.c.customer_id).where(
                    tbl.c.customer_id.in_({r.customer_id for r in todo}),
                    tbl.c[flag].is_(True),
                    tbl.c.id.not_in(id_list),
                )
            )
        ).all()
        if holders:
            details = [{"id": h.id, "field": flag, "customer_id": h.customer_id} for h in holders]
            raise ConflictError(
                f"Another address became the {flag.removeprefix('is_')} address since: "
                + ", ".join(h.id for h in holders),
                field=flag,
                details=details,
            )
        await session.execute(
            update(tbl)
            .where(tbl.c.id.in_([r.id for r in todo]))
            .values({flag: True, "updated_at": func.now()})
        )

    async def set_default(self, address_id: str, flag: DefaultFlag) -> AddressDTO:
        """Make one address the default, taking the flag off the customer's other addresses, in
        one transaction serialised on the customer row (so concurrent calls leave one default)."""
        tbl, ctbl = ADDRESS.table, CUSTOMER.table
        async with transaction(self.sessions) as session:
            query = select(tbl).where(tbl.c.id == address_id, ADDRESS.live())
            row = (await session.execute(query)).first()
            if row is None:
                raise NotFoundError(
                    f"CustomerAddress with id: {address_id} was not found", field="id"
                )
            await session.execute(
                select(ctbl.c.id).where(ctbl.c.id == row.customer_id).with_for_update()
            )
            await session.execute(
                update(tbl)
                .where(
                    tbl.c.customer_id == row.customer_id,
                    tbl.c.id != address_id,
                    tbl.c[flag].is_(True),
                )
                .values({flag: False, "updated_at": func.now()})
            )
            await session.execute(
                update(tbl)
                .where(tbl.c.id == address_id)
                .values({flag: True, "updated_at": func.now()})
            )
            await events.emit_internal(session, ADDRESS, "updated", [address_id])
            return await retrieve_row(session, ADDRESS, address_id, FindConfig())
