"""The generic write layer every entity shares: select-for-update of a `Target`, update with its
record and the compare-and-set restore that undoes it, inserts that find their own rows,
soft-delete / restore and hard delete. Entity modules add what is particular to them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from customer_service import events, ids, oplog
from customer_service.db import autocommit_engine, transaction
from customer_service.entities import D, EntitySpec
from customer_service.errors import AlreadyExistsError, ConflictError, InvalidDataError
from customer_service.filters import compile_filter
from customer_service.queries import list_rows, row_dict, to_dto
from customer_service.schemas import MAX_SELECTED_ROWS, FindConfig, WriteContext
from customer_service.service import update_at_once
from customer_service.service.targets import Target, refuse_wide

Row = dict[str, Any]
_BEFORE = "before__"  # RETURNING's label prefix for a value an update replaced
_VALUE = "value__"  # the bound parameter of a value an update writes


@dataclass(frozen=True)
class Updated(Generic[D]):
    """The rows an update wrote, and per row the values it replaced (`{"id", field: before}`)."""

    rows: list[D]
    previous: list[Row]


def merge_metadata(current: Mapping[str, Any] | None, incoming: Mapping[str, Any]) -> Row:
    """SPEC §2.6: shallow; incoming keys overwrite; `""` deletes a key; `None` is stored."""
    merged = dict(current or {})
    for key, value in incoming.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def row_values(model: BaseModel, exclude: set[str]) -> Row:
    return {k: v for k, v in model.model_dump().items() if k not in exclude}


def reuse_ids(rows: list[Row], record: oplog.Created) -> None:
    """A repeated create returns the first call's rows: give `rows` the ids it recorded."""
    if len(record.all_ids) != len(rows):
        raise ConflictError(
            "Operation was repeated with a different number of items", field="operation_id"
        )
    for row, first_id in zip(rows, record.all_ids, strict=True):
        row["id"] = first_id


class EntityWrites(Generic[D]):
    """Writes of one entity (`spec`) over the service's session factory."""

    # The workflow event an update stages (customers only: `customer.updated`).
    updated_event: str | None = None

    def __init__(self, sessions: async_sessionmaker[AsyncSession], spec: EntitySpec[D]) -> None:
        self.sessions = sessions
        self.spec = spec
        self._autocommit = autocommit_engine(sessions.kw["bind"])
        # fields written → the update of rows by id (`_write_locked`), built once
        self._update_statements: dict[tuple[str, ...], Select[Any]] = {}

    def dtos(self, rows: Sequence[Mapping[str, Any]]) -> list[D]:
        return [self.spec.dto.model_validate(r) for r in rows]

    # --- select for update, update and its compare-and-set undo -------------------------------

    async def select_for_update(self, session: AsyncSession, target: Target) -> list[Row]:
        """Live rows addressed by `target`, locked in id order; an unknown id is not_found."""
        tbl = self.spec.table
        query = (
            select(tbl)
            .where(self._where(target), self.spec.live())
            .order_by(tbl.c.id)
            .with_for_update()
        )
        if target.ids is None:  # a filter may match any number of rows: at most MAX_SELECTED_ROWS
            query = query.limit(MAX_SELECTED_ROWS + 1)
        rows = [row_dict(r) for r in (await session.execute(query)).all()]
        self._check_found(target, rows)
        return rows

    def _where(self, target: Target) -> ColumnElement[bool]:
        if target.ids is not None:
            return self.spec.table.c.id.in_(target.ids)
        if not target.where:
            raise InvalidDataError(
                "Invalid selector: an empty selector would update every row", field="selector"
            )
        return compile_filter(self.spec, target.where, "selector")

    def _check_found(self, target: Target, rows: list[Row]) -> None:
        """At most MAX_SELECTED_ROWS rows for a filter; every id of a list found."""
        refuse_wide(len(rows), "update")
        found = {r["id"] for r in rows}
        missing = [i for i in target.ids or [] if i not in found]
        if missing:
            raise self.spec.not_found(missing, target.field)

    async def update(
        self, target: Target, data: BaseModel, ctx: WriteContext
    ) -> oplog.UpdateRecord:
        """Write the fields set in `data` (metadata merged) on every addressed row; the record
        holds the values replaced and written (a repeat returns it)."""
        values = data.model_dump(include=set(data.model_fields_set))
        if "metadata" in values and not values["metadata"]:
            del values["metadata"]  # SPEC §2.6: empty metadata leaves the column unchanged
        if update_at_once.eligible(target.ids, values, ctx):  # a workflow's step: one round trip
            assert target.ids is not None
            done = await update_at_once.update_at_once(
                self._autocommit, self.spec, self.updated_event, target.ids, values, ctx
            )
            if done is not None:
                return done

        async def act(session: AsyncSession) -> oplog.UpdateRecord:
            previous, written, after = [], [], []
            for before, new, row in await self._write_locked(session, target, values):
                previous.append({"id": row["id"], **before})
                written.append({"id": row["id"], **new})
                after.append(to_dto(self.spec, row, None, {}).model_dump(mode="json"))
            row_ids = [r["id"] for r in written]
            await events.emit_internal(session, self.spec, "updated", row_ids)
            if self.updated_event is not None:
                await events.stage_workflow_events(
                    session, self.updated_event, row_ids, ctx.event_group_id
                )
            return oplog.UpdateRecord(
                entity=self.spec.key, ids=row_ids, previous=previous, written=written, rows=after
            )

        return await oplog.once(self.sessions, ctx, oplog.UpdateRecord, act)

    async def _write_locked(
        self, session: AsyncSession, target: Target, values: Row
    ) -> list[tuple[Row, Row, Row]]:
        """Write `values` on the live rows `target` addresses, locked in id order: per row, in
        id order, the values replaced, the values written and the row as stored after (RETURNING,
        no re-read, as `list_rows` would return it)."""
        if not values or "metadata" in values:
            # A row's merged metadata depends on what it holds: read it first, then write.
            out = []
            for row in await self.select_for_update(session, target):
                new = dict(values)
                if "metadata" in new:
                    new["metadata"] = merge_metadata(row["metadata"], new["metadata"])
                before = {k: row[k] for k in new}
                if new:
                    result = await session.execute(
                        update(self.spec.table)
                        .where(self.spec.table.c.id == row["id"])
                        .values(**new, updated_at=func.now())
                        .returning(*self.spec.table.c)
                    )
                    row = row_dict(result.one())
                out.append((before, new, row))
            return out
        # The same values on every row: lock, read the replaced values and write in one
        # statement (UPDATE ... FROM the rows selected FOR UPDATE, which RETURNING can name).
        params = {f"{_VALUE}{k}": v for k, v in values.items()}
        if target.ids is not None:  # the statement is built once per set of fields
            statement = self._update_statements.get(tuple(values))
            if statement is None:
                by_id = self.spec.table.c.id.in_(bindparam("ids", expanding=True))
                statement = self._update_statement(tuple(values), by_id, None)
                self._update_statements[tuple(values)] = statement
            params["ids"] = target.ids
        else:
            limit = MAX_SELECTED_ROWS + 1
            statement = self._update_statement(tuple(values), self._where(target), limit)
        rows = [row_dict(r) for r in await session.execute(statement, params)]
        self._check_found(target, rows)
        return [({k: row.pop(f"{_BEFORE}{k}") for k in values}, values, row) for row in rows]

    def _update_statement(
        self, fields: tuple[str, ...], where: ColumnElement[bool], limit: int | None
    ) -> Select[Any]:
        """Lock the live rows `where` selects in id order, write `fields` (bound as
        `_VALUE + field`) on them; the rows as stored after, with the values replaced (labelled
        `_BEFORE + field`), in the database's id order (RETURNING has none of its own)."""
        tbl = self.spec.table
        locked = select(tbl.c.id, *(tbl.c[k] for k in fields)).where(where, self.spec.live())
        if limit is not None:
            locked = locked.limit(limit)
        old = locked.order_by(tbl.c.id).with_for_update().subquery("old")
        written = (
            update(tbl)
            .where(tbl.c.id == old.c.id)
            .values({**{k: bindparam(f"{_VALUE}{k}") for k in fields}, "updated_at": func.now()})
            .returning(*tbl.c, *(old.c[k].label(f"{_BEFORE}{k}") for k in fields))
            .cte("written")
        )
        return select(written).order_by(written.c.id)

    async def undo_update(self, operation_id: str) -> bool:
        """Compare-and-set the previous values back (decision 3). A field is put back only while
        it still holds what the update wrote; one already back is done. Anything else is a
        conflict: nothing is written and `ConflictError.details` lists every conflicting field."""

        async def restore(session: AsyncSession, record: oplog.UpdateRecord) -> None:
            if record.entity != self.spec.key:
                raise InvalidDataError(
                    f"Operation {operation_id} updated a {record.entity}, not a {self.spec.key}",
                    field="operation_id",
                )
            await self._restore(session, record)

        return await oplog.undo(self.sessions, operation_id, oplog.UpdateRecord, restore)

    async def _restore(self, session: AsyncSession, record: oplog.UpdateRecord) -> None:
        tbl = self.spec.table
        query = select(tbl).where(tbl.c.id.in_(record.ids)).order_by(tbl.c.id).with_for_update()
        current = {r.id: row_dict(r) for r in (await session.execute(query)).all()}
        conflicts: list[Row] = []
        writes: list[tuple[str, Row]] = []
        for before, after in zip(record.previous, record.written, strict=True):
            row = current.get(before["id"])
            if row is None or row["deleted_at"] is not None:
                conflicts.append({"id": before["id"], "field": "*", "reason": "row is gone"})
                continue
            changes: Row = {}
            for field, value in before.items():
                now = row[field]
                if field == "id" or now == value:
                    continue
                if now == after[field]:
                    changes[field] = value
                else:
                    conflict = {"expected": after[field], "actual": now}
                    conflicts.append({"id": row["id"], "field": field, **conflict})
            if changes:
                writes.append((row["id"], changes))
        if conflicts:
            names = ", ".join(f"{c['id']}.{c['field']}" for c in conflicts)
            raise ConflictError(
                f"{self.spec.name} changed since this run wrote it: {names}",
                field=conflicts[0]["field"],
                details=conflicts,
            )
        for entity_id, changes in writes:
            await session.execute(
                update(tbl).where(tbl.c.id == entity_id).values(**changes, updated_at=func.now())
            )

    # --- inserts ------------------------------------------------------------------------------

    async def insert(self, session: AsyncSession, rows: list[Row]) -> None:
        if rows:
            await session.execute(insert(self.spec.table), rows)

    async def insert_returning(self, session: AsyncSession, rows: list[Row]) -> list[Row]:
        """`insert`, returning the rows as stored (server defaults filled in), in input order."""
        if not rows:
            return []
        tbl = self.spec.table
        result = await session.execute(insert(tbl).returning(*tbl.c), rows)
        stored = {r.id: row_dict(r) for r in result.all()}
        return [stored[r["id"]] for r in rows]

    async def skip_existing(
        self, session: AsyncSession, rows: list[Row], minted: set[str] | None = None
    ) -> list[Row]:
        """Rows whose id is new. An existing id must hold the same content (idempotent repeat).
        Ids in `minted` were just generated: they are new without a look-up."""
        lookup = [r["id"] for r in rows if not minted or r["id"] not in minted]
        if not lookup:
            return rows
        tbl = self.spec.table
        found = await session.execute(select(tbl).where(tbl.c.id.in_(lookup)))
        existing = {r.id: row_dict(r) for r in found.all()}
        fresh = []
        for row in rows:
            old = existing.get(row["id"])
            if old is None:
                fresh.append(row)
            elif old["deleted_at"] is not None or any(old.get(k) != v for k, v in row.items()):
                # A soft-deleted row holds its id too; a repeat cannot return it as created.
                raise AlreadyExistsError(
                    f"{self.spec.words} with id: {row['id']}, already exists.", field="id"
                )
        return fresh

    async def create_rows(
        self,
        items: Sequence[BaseModel],
        ctx: WriteContext,
        kind: type[oplog.CreateAddressesRecord | oplog.CreateGroupsRecord],
    ) -> list[D]:
        """Create rows of a flat entity (addresses, groups), recorded under the operation id; a
        repeat returns the rows the first call made."""
        rows = []
        for item in items:
            row = row_values(item, set())
            row["id"] = row.get("id") or ids.new_id(self.spec.prefix)
            rows.append(row)
        async with transaction(self.sessions, ctx.event_group_id) as session:
            recorded = await oplog.recorded(session, ctx, kind)
            if recorded is not None:
                reuse_ids(rows, recorded)
            else:
                fresh = await self.skip_existing(session, rows)
                await self.insert(session, fresh)
                created = [r["id"] for r in fresh]
                await events.emit_internal(session, self.spec, "created", created)
                all_ids = [r["id"] for r in rows]
                await oplog.write(session, ctx, kind(ids=created, all_ids=all_ids))
            wanted = {"id": [r["id"] for r in rows]}
            result = await list_rows(session, self.spec, wanted, FindConfig(with_deleted=True))
            by_id = {r.id: r for r in result}
            out = [by_id[r["id"]] for r in rows]
            oplog.fits(ctx, out)
        return out

    async def undo_create_rows(self, operation_id: str, kind: type[oplog.Created]) -> bool:
        """Hard-delete the rows that operation created; nothing else."""

        async def remove(session: AsyncSession, record: oplog.Created) -> None:
            await self.delete_rows(session, record.ids)

        return await oplog.undo(self.sessions, operation_id, kind, remove)

    # --- soft delete / restore ----------------------------------------------------------------

    async def check_exist(self, session: AsyncSession, target: Target) -> list[str]:
        """No silent no-op on a bad id: every id must name a row (live or soft-deleted)."""
        wanted = target.ids or []
        tbl = self.spec.table
        found = set((await session.execute(select(tbl.c.id).where(tbl.c.id.in_(wanted)))).scalars())
        missing = [i for i in wanted if i not in found]
        if missing:
            raise self.spec.not_found(missing, target.field)
        return wanted

    async def set_deleted_at(
        self, session: AsyncSession, where: ColumnElement[bool], deleting: bool
    ) -> list[str]:
        tbl = self.spec.table
        state = tbl.c.deleted_at.is_(None) if deleting else tbl.c.deleted_at.is_not(None)
        result = await session.execute(
            update(tbl)
            .where(where, state)
            .values(deleted_at=func.now() if deleting else None, updated_at=func.now())
            .returning(tbl.c.id)
        )
        changed = sorted(r.id for r in result.all())
        await events.emit_internal(
            session, self.spec, "deleted" if deleting else "restored", changed
        )
        return changed

    def ids_in(self, target: Target) -> ColumnElement[bool]:
        return self.spec.table.c.id.in_(target.ids or [])

    async def soft_delete_in(
        self, session: AsyncSession, target: Target, deleting: bool
    ) -> list[str]:
        wanted = await self.check_exist(session, target)
        return await self.set_deleted_at(session, self.spec.table.c.id.in_(wanted), deleting)

    async def soft_delete(self, target: Target) -> dict[str, list[str]]:
        async with transaction(self.sessions) as session:
            return self.changed(await self.soft_delete_in(session, target, True))

    async def restore(self, target: Target) -> dict[str, list[str]]:
        async with transaction(self.sessions) as session:
            return self.changed(await self.soft_delete_in(session, target, False))

    def changed(self, row_ids: list[str]) -> dict[str, list[str]]:
        """Medusa's answer to a soft delete / restore: `{<table>_id: [...]}`, empty if none."""
        return {f"{self.spec.table.name}_id": row_ids} if row_ids else {}

    # --- hard delete --------------------------------------------------------------------------

    async def delete_in(self, session: AsyncSession, target: Target, must_exist: bool) -> list[Row]:
        """Hard delete by ids or a filter; returns the deleted rows (by id). With `must_exist`,
        an id that matches no row is not_found (decision 5) and nothing is deleted."""
        tbl = self.spec.table
        if target.ids is None:
            if not target.where:
                raise InvalidDataError(
                    "Invalid selector: an empty selector would delete every row", field="selector"
                )
            where = compile_filter(self.spec, target.where, "selector")
            matched = select(tbl.c.id).where(where).limit(MAX_SELECTED_ROWS + 1).subquery()
            refuse_wide(
                (await session.execute(select(func.count()).select_from(matched))).scalar_one(),
                "delete",
            )
        elif not target.ids:
            return []
        else:
            where = tbl.c.id.in_(target.ids)
        result = await session.execute(delete(tbl).where(where).returning(*tbl.c))
        rows = sorted((row_dict(r) for r in result.all()), key=lambda r: str(r["id"]))
        deleted = {r["id"] for r in rows}
        missing = [i for i in target.ids or [] if i not in deleted] if must_exist else []
        if missing:
            raise self.spec.not_found(missing, target.field)
        await events.emit_internal(session, self.spec, "deleted", [r["id"] for r in rows])
        return rows

    async def delete(self, target: Target) -> None:
        """Hard delete; already gone is fine (repeat-safe)."""
        async with transaction(self.sessions) as session:
            await self.delete_in(session, target, must_exist=False)

    async def delete_rows(self, session: AsyncSession, row_ids: list[str]) -> None:
        if row_ids:
            await self.delete_in(session, Target(ids=row_ids), must_exist=False)
