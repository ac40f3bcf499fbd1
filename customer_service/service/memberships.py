"""Group memberships (a set of pairs, decision 2): add, remove, and the recorded change a
workflow makes, next to its undo. Hard delete, soft delete and restore are the generic ones."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, Text, bindparam, cast, delete, func, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from customer_service import events, ids, oplog
from customer_service.db import transaction
from customer_service.entities import MEMBERSHIP
from customer_service.errors import ConflictError
from customer_service.queries import row_dict
from customer_service.schemas import MembershipChange, MembershipDTO, MembershipInput, WriteContext
from customer_service.service.add_at_once import add_at_once
from customer_service.service.writes import EntityWrites, Row

Pair = tuple[str, str]

# Built once (a statement built per call costs more CPU than its round trip).
_ADD = (
    pg_insert(MEMBERSHIP.table)
    .on_conflict_do_nothing(
        index_elements=["customer_id", "customer_group_id"],
        index_where=MEMBERSHIP.table.c.deleted_at.is_(None),
    )
    .returning(
        MEMBERSHIP.table.c.id, MEMBERSHIP.table.c.customer_id, MEMBERSHIP.table.c.customer_group_id
    )
)


@functools.lru_cache(maxsize=64)
def _locks(count: int) -> Select[Any]:
    """The pair locks of `Memberships._lock` for `count` keys (bound as `key_0` ...)."""
    locks = [
        func.pg_advisory_xact_lock(func.hashtextextended(bindparam(f"key_{i}", type_=Text), 0))
        for i in range(count)
    ]
    return select(*locks, cast(func.pg_current_xact_id(), Text))


# Later operations, not compensated, that asked for one of the pairs an operation changed.
_LATER_REQUESTS = text(
    "SELECT operation_id, result->'requested' FROM operation_log "
    "WHERE name = :name AND state IN (:done, :released) AND operation_id <> :op "
    "AND (result->>'xid')::bigint > :xid AND result->'requested' ?| :keys "
    "ORDER BY operation_id"
)


def _key(pair: Pair) -> str:
    return f"{pair[0]}/{pair[1]}"


def _change(record: oplog.ChangeMembershipsRecord) -> MembershipChange:
    return MembershipChange(
        added=record.added,
        removed=record.removed,
        membership_ids=record.membership_ids,
        added_ids=record.added_ids,
    )


class Memberships(EntityWrites[MembershipDTO]):
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        super().__init__(sessions, MEMBERSHIP)

    async def add(self, pairs: list[MembershipInput]) -> list[str]:
        """Add memberships; returns the membership id of every pair. An existing member keeps
        its row (decision 2). Unknown customer or group → not_found."""
        async with transaction(self.sessions) as session:
            membership_ids, _ = await self._add_pairs(session, pairs)
        return membership_ids

    async def remove(self, pairs: list[MembershipInput]) -> None:
        """Hard-delete the memberships of the given pairs; a non-member is a no-op."""
        async with transaction(self.sessions) as session:
            await self._remove_pairs(session, pairs)

    async def change(
        self, add: list[MembershipInput], remove: list[MembershipInput], ctx: WriteContext
    ) -> MembershipChange:
        """Add and remove memberships in one transaction, reporting the pairs really changed
        (recorded, so a repeat reports the same and the compensation undoes exactly those)."""
        if (  # a workflow's link step: one round trip
            add and not remove and ctx.operation_id is not None and ctx.event_group_id is not None
        ):
            pairs = [(p.customer_id, p.customer_group_id) for p in add]
            requested = sorted({_key(pair) for pair in pairs})
            done = await add_at_once(self._autocommit, ctx, self._rows(add), pairs, requested)
            if done is not None:
                return _change(done)

        async def act(session: AsyncSession) -> oplog.ChangeMembershipsRecord:
            # Every pair asked for is recorded, no-ops included: a compensation must not undo a
            # pair that a later operation asked for (see `undo_change`).
            requested = sorted({_key((p.customer_id, p.customer_group_id)) for p in add + remove})
            xid = await self._lock(session, requested)
            deleted = await self._remove_pairs(session, remove)
            gone = {
                (r["customer_id"], r["customer_group_id"]) for r in deleted if not r["deleted_at"]
            }
            membership_ids, added = await self._add_pairs(session, add)
            by_pair = {
                (p.customer_id, p.customer_group_id): i
                for p, i in zip(add, membership_ids, strict=True)
            }
            return oplog.ChangeMembershipsRecord(
                added=added,
                removed=sorted(gone),
                membership_ids=membership_ids,
                added_ids=[by_pair[pair] for pair in added],
                removed_rows=deleted,
                requested=requested,
                xid=xid,
            )

        return _change(await oplog.once(self.sessions, ctx, oplog.ChangeMembershipsRecord, act))

    async def undo_change(self, operation_id: str) -> bool:
        """Remove only the rows that operation added; put back exactly the rows it removed.

        Compare-and-set per pair (decision 3): when a later operation that is not compensated
        asked for one of the pairs this one changed — even as a no-op, like adding a member
        again — undoing it would overwrite that operation's outcome. That is a conflict: nothing
        is undone and the run reports it."""

        async def undo(session: AsyncSession, record: oplog.ChangeMembershipsRecord) -> None:
            changed = sorted({_key(pair) for pair in [*record.added, *record.removed]})
            await self._lock(session, changed)
            params = {
                "name": record.kind,
                "done": oplog.State.DONE,
                "released": oplog.State.RELEASED,
                "op": operation_id,
            }
            later = await session.execute(
                _LATER_REQUESTS, {**params, "xid": record.xid, "keys": changed}
            )
            conflicts = [
                {"pair": key, "operation_id": op}
                for op, requested in later.all()
                for key in requested
                if key in changed
            ]
            if conflicts:
                raise ConflictError(
                    "Membership changed by a later operation since this run changed it: "
                    + ", ".join(sorted({c["pair"] for c in conflicts})),
                    field="membership",
                    details=conflicts,
                )
            await self.delete_rows(session, record.added_ids)
            values = [
                r.model_dump(exclude={"customer", "customer_group"})
                for r in self.dtos(record.removed_rows)
            ]
            if values:  # a pair that is a member again meanwhile keeps its newer row
                await session.execute(pg_insert(MEMBERSHIP.table).on_conflict_do_nothing(), values)

        return await oplog.undo(self.sessions, operation_id, oplog.ChangeMembershipsRecord, undo)

    @staticmethod
    async def _lock(session: AsyncSession, keys: list[str]) -> int:
        """Lock the pairs `keys` ("customer_id/group_id", sorted: two operations never wait on
        each other crosswise) and return this transaction's id. Operations on one pair then run
        one at a time, and their transaction ids give their order. One statement: PostgreSQL
        evaluates a select list in order, so the locks are taken in the keys' order."""
        params = {f"key_{i}": "membership " + key for i, key in enumerate(keys)}
        return int((await session.execute(_locks(len(keys)), params)).one()[-1])

    async def _add_pairs(
        self, session: AsyncSession, pairs: Sequence[MembershipInput]
    ) -> tuple[list[str], list[Pair]]:
        """Insert missing memberships (a set: decision 2). Returns the membership id of every pair
        and the pairs that were really added."""
        tbl = MEMBERSHIP.table
        rows = self._rows(pairs)
        inserted: dict[Pair, str] = {}
        if rows:
            result = await session.execute(_ADD, rows)
            inserted = {(r.customer_id, r.customer_group_id): r.id for r in result.all()}
        by_pair = dict(inserted)
        pairs_asked = [(r["customer_id"], r["customer_group_id"]) for r in rows]  # one per pair
        members_already = [pair for pair in pairs_asked if pair not in inserted]
        if members_already:  # their rows' ids
            existing = await session.execute(
                select(tbl.c.id, tbl.c.customer_id, tbl.c.customer_group_id).where(
                    tuple_(tbl.c.customer_id, tbl.c.customer_group_id).in_(members_already),
                    tbl.c.deleted_at.is_(None),
                )
            )
            by_pair |= {(r.customer_id, r.customer_group_id): r.id for r in existing.all()}
        membership_ids = [by_pair[(p.customer_id, p.customer_group_id)] for p in pairs]
        await events.emit_internal(session, MEMBERSHIP, "created", sorted(inserted.values()))
        return membership_ids, list(inserted)

    @staticmethod
    def _rows(pairs: Sequence[MembershipInput]) -> list[Row]:
        """The rows to insert for `pairs`: one per pair (a set: decision 2), new ids minted."""
        unique: dict[Pair, MembershipInput] = {}
        for p in pairs:
            unique.setdefault((p.customer_id, p.customer_group_id), p)
        return [
            p.model_dump(exclude={"id"}) | {"id": p.id or ids.new_id(MEMBERSHIP.prefix)}
            for p in unique.values()
        ]

    async def _remove_pairs(
        self, session: AsyncSession, pairs: Sequence[MembershipInput]
    ) -> list[Row]:
        """Hard-delete every row of the pairs; returns the deleted rows in full (as JSON, by id),
        so a compensation can put back the very same rows."""
        if not pairs:
            return []
        tbl = MEMBERSHIP.table
        keys = list({(p.customer_id, p.customer_group_id) for p in pairs})
        pair = tuple_(tbl.c.customer_id, tbl.c.customer_group_id)
        result = await session.execute(delete(tbl).where(pair.in_(keys)).returning(*tbl.c))
        rows = sorted((row_dict(r) for r in result.all()), key=lambda r: str(r["id"]))
        await events.emit_internal(session, MEMBERSHIP, "deleted", [r["id"] for r in rows])
        return [r.model_dump(mode="json") for r in self.dtos(rows)]
