"""Customer groups: create and soft delete, each next to its undo. Updates, hard deletes,
restores and the update's undo are the generic ones."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from customer_service import oplog
from customer_service.entities import GROUP
from customer_service.schemas import CreateGroupInput, GroupDTO, WriteContext
from customer_service.service.targets import Target
from customer_service.service.writes import EntityWrites


class Groups(EntityWrites[GroupDTO]):
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        super().__init__(sessions, GROUP)

    async def create(self, inputs: Sequence[CreateGroupInput], ctx: WriteContext) -> list[GroupDTO]:
        """Create groups. A live group's name is taken."""
        return await self.create_rows(inputs, ctx, oplog.CreateGroupsRecord)

    async def undo_create(self, operation_id: str) -> bool:
        return await self.undo_create_rows(operation_id, oplog.CreateGroupsRecord)

    async def soft_delete_recorded(self, target: Target, ctx: WriteContext) -> dict[str, list[str]]:
        """Soft delete groups; nothing cascades (SPEC §1.7). Unknown or already deleted ids are
        done already (decision 10): skipped, with nothing to undo."""

        async def act(session: AsyncSession) -> oplog.SoftDeleteGroupsRecord:
            deleted = await self.set_deleted_at(session, self.ids_in(target), True)
            return oplog.SoftDeleteGroupsRecord(group_ids=deleted)

        record = await oplog.once(self.sessions, ctx, oplog.SoftDeleteGroupsRecord, act)
        return self.changed(record.group_ids)

    async def undo_soft_delete(self, operation_id: str) -> bool:
        """Restore exactly the groups that operation soft-deleted."""

        async def restore(session: AsyncSession, record: oplog.SoftDeleteGroupsRecord) -> None:
            await self.set_deleted_at(session, GROUP.table.c.id.in_(record.group_ids), False)

        return await oplog.undo(self.sessions, operation_id, oplog.SoftDeleteGroupsRecord, restore)
