"""`CustomerModuleService`: the only write path to the customer tables (SPEC §2).

Every public method is one transaction. Methods that workflows call at least once take a
`WriteContext`: its `operation_id` makes a repeated call return the first call's recorded result,
its `event_group_id` stages the workflow event in the same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar, overload

from pydantic import BaseModel, ValidationError
from sqlalchemy import and_, delete, func, insert, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from customer_service import events, ids
from customer_service import models as m
from customer_service.db import transaction
from customer_service.errors import (
    AlreadyExistsError,
    ConflictError,
    DuplicateError,
    InvalidDataError,
    NotFoundError,
)
from customer_service.filters import (
    ADDRESS,
    CUSTOMER,
    GROUP,
    MEMBERSHIP,
    EntitySpec,
    compile_filter,
)
from customer_service.queries import (
    attach_relations,
    count_rows,
    list_rows,
    live,
    parse_config,
    retrieve_row,
    row_dict,
    table,
    to_dto,
)
from customer_service.schemas import (
    DTO,
    MAX_EMAIL,
    AddressDTO,
    CreateAddressInput,
    CreateCustomerInput,
    CreateGroupInput,
    CustomerDTO,
    FieldRestore,
    FindConfig,
    GroupDTO,
    MembershipChange,
    MembershipDTO,
    MembershipInput,
    UpdateAddressInput,
    UpdateCustomerInput,
    UpdateGroupInput,
    UpdateOutcome,
    WriteContext,
)
from customer_service.validation import (
    validate,
    validate_id,
    validate_ids,
    validate_many,
    validate_optional_id,
)

D = TypeVar("D", bound=DTO)
Target = str | Sequence[str] | Mapping[str, Any]
Config = FindConfig | Mapping[str, Any] | None
DefaultFlag = Literal["is_default_shipping", "is_default_billing"]

_PREFIX = {"Customer": ids.CUSTOMER, "CustomerAddress": ids.ADDRESS,
           "CustomerGroup": ids.GROUP, "CustomerGroupCustomer": ids.MEMBERSHIP}  # fmt: skip
_WORKFLOW_EVENTS = {"created": events.CUSTOMER_CREATED, "updated": events.CUSTOMER_UPDATED,
                    "deleted": events.CUSTOMER_DELETED}  # fmt: skip
_DEFAULT_FLAGS = ("is_default_shipping", "is_default_billing")
_UPDATE_INPUTS: dict[str, type[BaseModel]] = {
    "Customer": UpdateCustomerInput,
    "CustomerAddress": UpdateAddressInput,
    "CustomerGroup": UpdateGroupInput,
}

# Operation log names (the kind of change recorded under an operation_id) and their end states.
OP_CREATE_CUSTOMERS = "create customers"
OP_SOFT_DELETE_CUSTOMERS = "soft delete customers"
OP_CREATE_ADDRESSES = "create customer addresses"
OP_DELETE_ADDRESSES = "delete customer addresses"
OP_CREATE_GROUPS = "create customer groups"
OP_SOFT_DELETE_GROUPS = "soft delete customer groups"
OP_CHANGE_MEMBERSHIPS = "change memberships"
OP_SET_AUTH_IDENTITY = "set auth identity"
CANCELLED = " (cancelled)"
COMPENSATED = " (compensated)"


def op_update(spec: EntitySpec) -> str:
    return f"update {spec.name}"


def op_unset_default(flag: str) -> str:
    return f"unset {flag}"


def merge_metadata(
    current: Mapping[str, Any] | None, incoming: Mapping[str, Any]
) -> dict[str, Any]:
    """SPEC §2.6: shallow; incoming keys overwrite; `""` deletes a key; `None` is stored."""
    merged = dict(current or {})
    for key, value in incoming.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _row_values(model: BaseModel, exclude: set[str]) -> dict[str, Any]:
    return {k: v for k, v in model.model_dump().items() if k not in exclude}


def _reuse_ids(rows: list[dict[str, Any]], recorded: Mapping[str, Any]) -> None:
    """A repeated create returns the first call's rows: give `rows` the ids it recorded."""
    first_ids = recorded.get("all_ids") or []
    if len(first_ids) != len(rows):
        raise ConflictError(
            "Operation was repeated with a different number of items", field="operation_id"
        )
    for row, first_id in zip(rows, first_ids, strict=True):
        row["id"] = first_id


def _ctx(ctx: WriteContext | Mapping[str, Any] | None) -> WriteContext:
    return WriteContext() if ctx is None else validate(WriteContext, ctx, "ctx")


class CustomerModuleService:
    """Customers, addresses, groups and memberships on PostgreSQL (async)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self._sessions

    # ------------------------------------------------------------------ generic reads

    async def _retrieve(self, spec: EntitySpec, entity_id: Any, config: Config) -> DTO:
        async with transaction(self._sessions) as session:
            return await retrieve_row(session, spec, entity_id, parse_config(config))

    async def _list(self, spec: EntitySpec, filters: Any, config: Config) -> list[DTO]:
        async with transaction(self._sessions) as session:
            return await list_rows(session, spec, filters, parse_config(config))

    async def _list_and_count(
        self, spec: EntitySpec, filters: Any, config: Config
    ) -> tuple[list[DTO], int]:
        cfg = parse_config(config)
        async with transaction(self._sessions) as session:
            return await list_rows(session, spec, filters, cfg), await count_rows(
                session, spec, filters, cfg
            )

    # ------------------------------------------------------------------ operation log

    @staticmethod
    async def _recorded(session: AsyncSession, ctx: WriteContext) -> Any:
        """The recorded result of this operation, if it already ran. An operation that a
        compensation has fenced off (or undone) must not act any more: that is a conflict."""
        if ctx.operation_id is None:
            return None
        # Attempts of one operation may overlap (a retry while the first is still running):
        # serialise them, so a later one finds the earlier one's record instead of racing it.
        await session.execute(
            select(func.pg_advisory_xact_lock(func.hashtextextended(ctx.operation_id, 0)))
        )
        row = await session.get(m.OperationRecord, ctx.operation_id)
        if row is None:
            return None
        if row.name.endswith((CANCELLED, COMPENSATED)):
            raise ConflictError(
                f"Operation {ctx.operation_id} was already compensated", field="operation_id"
            )
        return row.result

    @staticmethod
    async def _record(session: AsyncSession, ctx: WriteContext, name: str, result: Any) -> None:
        if ctx.operation_id is not None:
            await session.execute(
                insert(m.OperationRecord).values(
                    operation_id=ctx.operation_id, name=name, result=result
                )
            )

    # ------------------------------------------------------------------ generic writes

    async def _select_for_update(
        self, session: AsyncSession, spec: EntitySpec, target: Target, root: str = "selector"
    ) -> tuple[list[dict[str, Any]], bool]:
        """Live rows addressed by an id, a list of ids or a selector, locked in id order."""
        tbl = table(spec)
        single = isinstance(target, str)
        if isinstance(target, Mapping):
            where = compile_filter(spec, target, root)
        else:
            wanted = validate_ids(target, "id" if single else "ids")
            where = tbl.c.id.in_(wanted)
        query = select(tbl).where(where, live(spec)).order_by(tbl.c.id).with_for_update()
        rows = [row_dict(r) for r in (await session.execute(query)).all()]
        if not isinstance(target, Mapping):
            missing = [i for i in wanted if i not in {r["id"] for r in rows}]
            if missing:
                raise NotFoundError(
                    f'{spec.name} with id "{", ".join(missing)}" not found',
                    field="id" if single else "ids",
                )
        return rows, single

    async def _update(
        self,
        spec: EntitySpec,
        target: Target,
        data: BaseModel,
        ctx: WriteContext,
        workflow_event: bool = False,
    ) -> tuple[UpdateOutcome, bool]:
        if isinstance(target, Mapping | str):
            pass
        elif not isinstance(target, list | tuple):
            raise InvalidDataError(
                "Invalid selector: expected an id, ids or a filter", field="selector"
            )
        fields = [f for f in data.model_fields_set]
        values = data.model_dump(include=set(fields))
        if "metadata" in values and not values["metadata"]:
            del values["metadata"]  # SPEC §2.6: empty metadata leaves the column unchanged
        tbl = table(spec)
        async with transaction(self._sessions, ctx.event_group_id) as session:
            recorded = await self._recorded(session, ctx)
            if recorded is not None:
                return UpdateOutcome.model_validate(recorded), isinstance(target, str)
            rows, single = await self._select_for_update(session, spec, target)
            previous, written = [], []
            for row in rows:
                new = dict(values)
                if "metadata" in new:
                    new["metadata"] = merge_metadata(row["metadata"], new["metadata"])
                previous.append({"id": row["id"], **{k: row[k] for k in new}})
                written.append({"id": row["id"], **new})
                if new:
                    await session.execute(
                        update(tbl)
                        .where(tbl.c.id == row["id"])
                        .values(**new, updated_at=func.now())
                    )
            row_ids = [r["id"] for r in rows]
            await events.emit_internal(session, spec.name, "updated", row_ids)
            if workflow_event:
                await events.stage_workflow_events(
                    session, events.CUSTOMER_UPDATED, row_ids, ctx.event_group_id
                )
            after = await list_rows(session, spec, {"id": row_ids}, FindConfig()) if row_ids else []
            outcome = UpdateOutcome(
                previous=previous,
                written=written,
                ids=row_ids,
                rows=[r.model_dump(mode="json") for r in after],
            )
            await self._record(session, ctx, op_update(spec), outcome.model_dump(mode="json"))
            return outcome, single

    async def _updated_dtos(
        self, spec: EntitySpec, outcome: UpdateOutcome, single: bool
    ) -> DTO | list[DTO]:
        rows = await self._list(spec, {"id": outcome.ids}, None) if outcome.ids else []
        return rows[0] if single else rows

    async def _restore_fields(
        self, spec: EntitySpec, restores: Sequence[FieldRestore | Mapping[str, Any]]
    ) -> list[str]:
        """Compare-and-set (decision 3). A field is put back to `previous` only while it still
        holds `expected`; one already equal to `previous` is done. Anything else is a conflict:
        nothing is written and `ConflictError.details` lists every conflicting field."""
        if not isinstance(restores, list | tuple):
            raise InvalidDataError("Invalid restores: expected a list", field="restores")
        items = [validate(FieldRestore, r, f"restores[{i}]") for i, r in enumerate(restores)]
        updatable = _UPDATE_INPUTS[spec.name]
        for i, item in enumerate(items):
            # Only fields an update may write, with values it would accept (types, NUL, length).
            validate(updatable, item.expected, f"restores[{i}].expected")
            validate(updatable, item.previous, f"restores[{i}].previous")
        async with transaction(self._sessions) as session:
            return await self._restore_fields_in(session, spec, items)

    async def _restore_fields_in(
        self, session: AsyncSession, spec: EntitySpec, items: list[FieldRestore]
    ) -> list[str]:
        tbl = table(spec)
        wanted = sorted({i.id for i in items})
        query = select(tbl).where(tbl.c.id.in_(wanted)).order_by(tbl.c.id).with_for_update()
        current = {r.id: row_dict(r) for r in (await session.execute(query)).all()}
        conflicts: list[dict[str, Any]] = []
        writes: list[tuple[str, dict[str, Any]]] = []
        for item in items:
            row = current.get(item.id)
            if row is None or row["deleted_at"] is not None:
                conflicts.append({"id": item.id, "field": "*", "reason": "row is gone"})
                continue
            changes: dict[str, Any] = {}
            for field, before in item.previous.items():
                if field not in spec.columns or field in ("id", "created_at", "deleted_at"):
                    raise InvalidDataError(f"Unknown field '{field}'", field=field)
                now = row[field]
                if now == before:
                    continue
                if field in item.expected and now == item.expected[field]:
                    changes[field] = before
                else:
                    conflicts.append(
                        {"id": item.id, "field": field, "expected": item.expected.get(field),
                         "actual": now}
                    )  # fmt: skip
            if changes:
                writes.append((item.id, changes))
        if conflicts:
            names = ", ".join(f"{c['id']}.{c['field']}" for c in conflicts)
            raise ConflictError(
                f"{spec.name} changed since this run wrote it: {names}",
                field=conflicts[0]["field"],
                details=conflicts,
            )
        for entity_id, changes in writes:
            await session.execute(
                update(tbl).where(tbl.c.id == entity_id).values(**changes, updated_at=func.now())
            )
        await events.emit_internal(session, spec.name, "updated", [w[0] for w in writes])
        return [w[0] for w in writes]

    async def _delete(
        self, spec: EntitySpec, target: Target, must_exist: bool = False
    ) -> list[str]:
        """Hard delete by id(s) or selector. With `must_exist`, an id that matches no row is
        not_found (decision 5) and nothing is deleted."""
        tbl = table(spec)
        async with transaction(self._sessions) as session:
            id_list: list[str] = []
            if isinstance(target, Mapping):
                if not target:
                    raise InvalidDataError(
                        "Invalid selector: an empty selector would delete every row",
                        field="selector",
                    )
                where = compile_filter(spec, target, "selector")
            else:
                id_list = validate_ids(target)
                if not id_list:
                    return []
                where = tbl.c.id.in_(id_list)
            result = await session.execute(delete(tbl).where(where).returning(tbl.c.id))
            deleted = sorted(r.id for r in result.all())
            missing = [i for i in id_list if i not in set(deleted)] if must_exist else []
            if missing:
                raise NotFoundError(
                    f'{spec.name} with id "{", ".join(missing)}" not found',
                    field="id" if isinstance(target, str) else "ids",
                )
            await events.emit_internal(session, spec.name, "deleted", deleted)
            return deleted

    @staticmethod
    async def _check_exist(
        session: AsyncSession, spec: EntitySpec, id_list: list[str], single: bool
    ) -> None:
        """No silent no-op on a bad id: every id must name a row (live or soft-deleted)."""
        tbl = table(spec)
        found = set(
            (await session.execute(select(tbl.c.id).where(tbl.c.id.in_(id_list)))).scalars()
        )
        missing = [i for i in id_list if i not in found]
        if missing:
            raise NotFoundError(
                f'{spec.name} with id "{", ".join(missing)}" not found',
                field="id" if single else "ids",
            )

    async def _set_deleted_at(
        self,
        session: AsyncSession,
        spec: EntitySpec,
        where: Any,
        deleting: bool,
    ) -> list[str]:
        tbl = table(spec)
        state = tbl.c.deleted_at.is_(None) if deleting else tbl.c.deleted_at.is_not(None)
        result = await session.execute(
            update(tbl)
            .where(where, state)
            .values(deleted_at=func.now() if deleting else None, updated_at=func.now())
            .returning(tbl.c.id)
        )
        changed = sorted(r.id for r in result.all())
        await events.emit_internal(
            session, spec.name, "deleted" if deleting else "restored", changed
        )
        return changed

    async def _soft_delete_or_restore(
        self, spec: EntitySpec, target: Any, deleting: bool, ctx: Any = None, op: str = ""
    ) -> dict[str, list[str]]:
        id_list = validate_ids(target)
        context = _ctx(ctx)
        key = f"{table(spec).name}_id"
        async with transaction(self._sessions, context.event_group_id) as session:
            recorded = await self._recorded(session, context)
            if recorded is not None:
                return dict(recorded)
            await self._check_exist(session, spec, id_list, isinstance(target, str))
            changed = await self._set_deleted_at(
                session, spec, table(spec).c.id.in_(id_list), deleting
            )
            result = {key: changed} if changed else {}
            await self._record(session, context, op, result)
            return result

    # ------------------------------------------------------------------ customers

    async def retrieve_customer(self, customer_id: str, config: Config = None) -> CustomerDTO:
        return await self._retrieve(CUSTOMER, customer_id, config)  # type: ignore[return-value]

    async def list_customers(self, filters: Any = None, config: Config = None) -> list[CustomerDTO]:
        return await self._list(CUSTOMER, filters, config)  # type: ignore[return-value]

    async def list_and_count_customers(
        self, filters: Any = None, config: Config = None
    ) -> tuple[list[CustomerDTO], int]:
        return await self._list_and_count(CUSTOMER, filters, config)  # type: ignore[return-value]

    @overload
    async def create_customers(
        self, data: CreateCustomerInput | Mapping[str, Any], ctx: WriteContext | None = None
    ) -> CustomerDTO: ...
    @overload
    async def create_customers(
        self,
        data: Sequence[CreateCustomerInput | Mapping[str, Any]],
        ctx: WriteContext | None = None,
    ) -> list[CustomerDTO]: ...
    async def create_customers(self, data: Any, ctx: Any = None) -> Any:
        """Create customers with their nested addresses in one transaction (SPEC §2.2).

        A customer whose given id already exists with the same content is returned as it is, so
        a repeated call has one effect; with different content it is an "already exists" error.
        """
        inputs, single = validate_many(CreateCustomerInput, data, "data")
        context = _ctx(ctx)
        customer_rows: list[dict[str, Any]] = []
        address_rows: list[dict[str, Any]] = []
        minted: set[str] = set()  # ids made here are new by construction: nothing to look up
        for item in inputs:
            row = _row_values(item, {"addresses"})
            row["id"] = item.id or ids.new_id(ids.CUSTOMER)
            if item.id is None:
                minted.add(row["id"])
            if item.auth_identity_id and "has_account" not in item.model_fields_set:
                row["has_account"] = True
            customer_rows.append(row)
            for address in item.addresses:
                values = _row_values(address, set())
                values["id"] = address.id or ids.new_id(ids.ADDRESS)
                if address.id is None:
                    minted.add(values["id"])
                values["customer_id"] = row["id"]
                address_rows.append(values)
        async with transaction(self._sessions, context.event_group_id) as session:
            inserted: dict[str, DTO] = {}
            recorded = await self._recorded(session, context)
            if recorded is None:
                inserted = await self._insert_customers(
                    session, context, customer_rows, address_rows, minted
                )
            else:  # a repeat returns what the first call made, not the ids minted just now
                _reuse_ids(customer_rows, recorded)
            # Rows inserted here come back from INSERT ... RETURNING; only the others are read.
            others = [r["id"] for r in customer_rows if r["id"] not in inserted]
            config = FindConfig(relations=["addresses"])
            result = await list_rows(session, CUSTOMER, {"id": others}, config) if others else []
        by_id: dict[str, DTO] = {**inserted, **{str(r.id): r for r in result}}
        out = [by_id[r["id"]] for r in customer_rows]
        return out[0] if single else out

    async def _insert_customers(
        self,
        session: AsyncSession,
        context: WriteContext,
        customer_rows: list[dict[str, Any]],
        address_rows: list[dict[str, Any]],
        minted: set[str] | None = None,
    ) -> dict[str, DTO]:
        """Insert the new customers and their addresses; returns the inserted customers (with
        their addresses) by id, as `list_rows` would read them."""
        fresh = await self._skip_existing(session, CUSTOMER, customer_rows, minted)
        fresh_ids = {r["id"] for r in fresh}
        fresh_addresses = [a for a in address_rows if a["customer_id"] in fresh_ids]
        fresh_addresses = await self._skip_existing(session, ADDRESS, fresh_addresses, minted)
        stored = await self._insert_returning(session, CUSTOMER, fresh)
        await self._insert(session, ADDRESS, fresh_addresses)
        if fresh_addresses:
            await attach_relations(session, CUSTOMER, stored, {"addresses": None}, False)
        else:
            for row in stored:
                row["addresses"] = []  # a customer new in this transaction has no other address
        created = [r["id"] for r in fresh]
        await events.emit_internal(session, "Customer", "created", created)
        await events.emit_internal(
            session, "CustomerAddress", "created", [a["id"] for a in fresh_addresses]
        )
        await events.stage_workflow_events(
            session, events.CUSTOMER_CREATED, created, context.event_group_id
        )
        await self._record(
            session, context, OP_CREATE_CUSTOMERS,
            {"ids": created, "address_ids": [a["id"] for a in fresh_addresses],
             "all_ids": [r["id"] for r in customer_rows]},
        )  # fmt: skip
        relations: dict[str, list[str] | None] = {"addresses": None}
        return {r["id"]: to_dto(CUSTOMER, r, None, relations) for r in stored}

    async def _create(
        self, spec: EntitySpec, model: type[BaseModel], op: str, data: Any, ctx: Any
    ) -> Any:
        """Create rows of a flat entity (addresses, groups): one, or a list in the same shape."""
        inputs, single = validate_many(model, data, "data")
        rows = []
        for item in inputs:
            row = _row_values(item, set())
            row["id"] = row.get("id") or ids.new_id(_PREFIX[spec.name])
            rows.append(row)
        context = _ctx(ctx)
        async with transaction(self._sessions, context.event_group_id) as session:
            await self._insert_new(session, context, spec, rows, op)
            result = await list_rows(
                session, spec, {"id": [r["id"] for r in rows]}, FindConfig(with_deleted=True)
            )
        by_id = {r.id: r for r in result}
        out = [by_id[r["id"]] for r in rows]
        return out[0] if single else out

    async def _insert_new(
        self,
        session: AsyncSession,
        context: WriteContext,
        spec: EntitySpec,
        rows: list[dict[str, Any]],
        op: str,
    ) -> None:
        """Insert the rows whose id is new and record them (once) under the operation id. On a
        repeat, `rows` take the ids the first call used."""
        recorded = await self._recorded(session, context)
        if recorded is not None:
            _reuse_ids(rows, recorded)
            return
        fresh = await self._skip_existing(session, spec, rows)
        await self._insert(session, spec, fresh)
        await events.emit_internal(session, spec.name, "created", [r["id"] for r in fresh])
        await self._record(
            session, context, op,
            {"ids": [r["id"] for r in fresh], "all_ids": [r["id"] for r in rows]},
        )  # fmt: skip

    async def _insert(
        self, session: AsyncSession, spec: EntitySpec, rows: list[dict[str, Any]]
    ) -> None:
        if rows:
            await session.execute(insert(table(spec)), rows)

    async def _insert_returning(
        self, session: AsyncSession, spec: EntitySpec, rows: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """`_insert`, returning the rows as stored (server defaults filled in), in input order."""
        if not rows:
            return []
        tbl = table(spec)
        result = await session.execute(insert(tbl).returning(*tbl.c), rows)
        stored = {r.id: row_dict(r) for r in result.all()}
        return [stored[r["id"]] for r in rows]

    async def _skip_existing(
        self,
        session: AsyncSession,
        spec: EntitySpec,
        rows: list[dict[str, Any]],
        minted: set[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Rows whose id is new. An existing id must hold the same content (idempotent repeat).
        Ids in `minted` were just generated: they are new without a look-up."""
        lookup = [r["id"] for r in rows if not minted or r["id"] not in minted]
        if not lookup:
            return rows
        tbl = table(spec)
        found = await session.execute(select(tbl).where(tbl.c.id.in_(lookup)))
        existing = {r.id: row_dict(r) for r in found.all()}
        fresh = []
        for row in rows:
            old = existing.get(row["id"])
            if old is None:
                fresh.append(row)
            elif old["deleted_at"] is not None or any(old.get(k) != v for k, v in row.items()):
                # A soft-deleted row holds its id too; a repeat cannot return it as created.
                words = spec.table_words
                raise AlreadyExistsError(
                    f"{words} with id: {row['id']}, already exists.", field="id"
                )
        return fresh

    @overload
    async def update_customers(
        self, target: str, data: UpdateCustomerInput | Mapping[str, Any], ctx: Any = None
    ) -> CustomerDTO: ...
    @overload
    async def update_customers(
        self,
        target: list[str] | tuple[str, ...] | Mapping[str, Any],
        data: UpdateCustomerInput | Mapping[str, Any],
        ctx: Any = None,
    ) -> list[CustomerDTO]: ...
    async def update_customers(self, target: Any, data: Any, ctx: Any = None) -> Any:
        """Update by id (returns one), ids or selector (returns a list); metadata is merged."""
        outcome, single = await self._update(
            CUSTOMER, target, validate(UpdateCustomerInput, data, "data"), _ctx(ctx), True
        )
        return await self._updated_dtos(CUSTOMER, outcome, single)

    async def update_customers_tracked(
        self, target: Target, data: UpdateCustomerInput | Mapping[str, Any], ctx: Any = None
    ) -> UpdateOutcome:
        """`update_customers` returning the values it replaced (for an exact compensation)."""
        outcome, _ = await self._update(
            CUSTOMER, target, validate(UpdateCustomerInput, data, "data"), _ctx(ctx), True
        )
        return outcome

    async def restore_customer_fields(
        self, restores: Sequence[FieldRestore | Mapping[str, Any]]
    ) -> list[str]:
        return await self._restore_fields(CUSTOMER, restores)

    async def delete_customers(self, target: Target) -> None:
        """Hard delete; addresses and memberships go with them (FK cascade). Repeat-safe."""
        await self._delete(CUSTOMER, target)

    async def soft_delete_customers(
        self, customer_ids: str | Sequence[str], ctx: Any = None
    ) -> dict[str, list[str]]:
        """Soft delete customers and, in cascade, their live addresses (SPEC §1.7)."""
        id_list = validate_ids(customer_ids)
        context = _ctx(ctx)
        async with transaction(self._sessions, context.event_group_id) as session:
            recorded = await self._recorded(session, context)
            if recorded is not None:
                return dict(recorded)
            await self._check_exist(session, CUSTOMER, id_list, isinstance(customer_ids, str))
            customers = await self._set_deleted_at(
                session, CUSTOMER, table(CUSTOMER).c.id.in_(id_list), True
            )
            addresses: list[str] = []
            if customers:
                addresses = await self._set_deleted_at(
                    session, ADDRESS, table(ADDRESS).c.customer_id.in_(customers), True
                )
            await events.stage_workflow_events(
                session, events.CUSTOMER_DELETED, id_list, context.event_group_id
            )
            result = {k: v for k, v in
                      (("customer_id", customers), ("customer_address_id", addresses)) if v}  # fmt: skip
            await self._record(session, context, OP_SOFT_DELETE_CUSTOMERS, result)
            return result

    async def restore_customers(
        self, customer_ids: str | Sequence[str], *, address_ids: Sequence[str] | None = None
    ) -> dict[str, list[str]]:
        """Restore customers and their soft-deleted addresses — all of them (Medusa), or only
        `address_ids` (what a compensation cascaded). Decision 6: a taken email is an error."""
        id_list = validate_ids(customer_ids)
        only = None if address_ids is None else validate_ids(address_ids, "address_ids")
        async with transaction(self._sessions) as session:
            await self._check_exist(session, CUSTOMER, id_list, isinstance(customer_ids, str))
            customers = await self._set_deleted_at(
                session, CUSTOMER, table(CUSTOMER).c.id.in_(id_list), False
            )
            addr = table(ADDRESS)
            where = (
                addr.c.customer_id.in_(id_list)
                if only is None
                else and_(addr.c.customer_id.in_(id_list), addr.c.id.in_(only))
            )
            addresses = await self._set_deleted_at(session, ADDRESS, where, False)
            return {k: v for k, v in
                    (("customer_id", customers), ("customer_address_id", addresses)) if v}  # fmt: skip

    # ------------------------------------------------------------------ addresses

    async def retrieve_customer_address(self, address_id: str, config: Config = None) -> AddressDTO:
        return await self._retrieve(ADDRESS, address_id, config)  # type: ignore[return-value]

    async def list_customer_addresses(
        self, filters: Any = None, config: Config = None
    ) -> list[AddressDTO]:
        return await self._list(ADDRESS, filters, config)  # type: ignore[return-value]

    async def list_and_count_customer_addresses(
        self, filters: Any = None, config: Config = None
    ) -> tuple[list[AddressDTO], int]:
        return await self._list_and_count(ADDRESS, filters, config)  # type: ignore[return-value]

    async def create_customer_addresses(self, data: Any, ctx: Any = None) -> Any:
        """Create addresses (one or a list). Module level: a second default is an error."""
        return await self._create(ADDRESS, CreateAddressInput, OP_CREATE_ADDRESSES, data, ctx)

    async def update_customer_addresses(self, target: Any, data: Any, ctx: Any = None) -> Any:
        outcome, single = await self._update(
            ADDRESS, target, validate(UpdateAddressInput, data, "data"), _ctx(ctx)
        )
        return await self._updated_dtos(ADDRESS, outcome, single)

    async def update_customer_addresses_tracked(
        self, target: Target, data: Any, ctx: Any = None
    ) -> UpdateOutcome:
        outcome, _ = await self._update(
            ADDRESS, target, validate(UpdateAddressInput, data, "data"), _ctx(ctx)
        )
        return outcome

    async def restore_customer_address_fields(
        self, restores: Sequence[FieldRestore | Mapping[str, Any]]
    ) -> list[str]:
        return await self._restore_fields(ADDRESS, restores)

    async def delete_customer_addresses(self, target: Target) -> None:
        """Hard delete. Decision 5: an unknown address id is not_found (a selector may match
        nothing)."""
        await self._delete(ADDRESS, target, must_exist=True)

    async def delete_customer_addresses_tracked(
        self, address_ids: Sequence[str], ctx: Any = None
    ) -> list[dict[str, Any]]:
        """Hard delete, returning the full rows deleted (recorded: a repeat returns the same)."""
        id_list = validate_ids(address_ids)
        context = _ctx(ctx)
        tbl = table(ADDRESS)
        async with transaction(self._sessions, context.event_group_id) as session:
            recorded = await self._recorded(session, context)
            if recorded is not None:
                return list(recorded)
            result = await session.execute(
                delete(tbl).where(tbl.c.id.in_(id_list)).returning(*tbl.c)
            )
            rows = sorted((row_dict(r) for r in result.all()), key=lambda r: r["id"])
            missing = sorted(set(id_list) - {r["id"] for r in rows})
            if missing:  # decision 5: no silent no-op on a bad id
                raise NotFoundError(
                    f'CustomerAddress with id "{", ".join(missing)}" not found', field="ids"
                )
            payload = [AddressDTO.model_validate(r).model_dump(mode="json") for r in rows]
            await events.emit_internal(
                session, "CustomerAddress", "deleted", [r["id"] for r in rows]
            )
            await self._record(session, context, OP_DELETE_ADDRESSES, payload)
            return payload

    async def reinsert_customer_addresses(self, rows: Sequence[Mapping[str, Any]]) -> list[str]:
        """Put deleted address rows back exactly (same ids and timestamps). Repeat-safe."""
        if not isinstance(rows, list | tuple):
            raise InvalidDataError("Invalid rows: expected a list", field="rows")
        values = []
        for i, r in enumerate(rows):
            try:
                values.append(AddressDTO.model_validate(r).model_dump())
            except ValidationError:
                raise InvalidDataError(
                    f"Invalid rows[{i}]: expected an address row", field=f"rows[{i}]"
                ) from None
        for v in values:
            v.pop("customer", None)
        if not values:
            return []
        async with transaction(self._sessions) as session:
            return await self._reinsert_addresses_in(session, values)

    async def _reinsert_addresses_in(
        self, session: AsyncSession, values: list[dict[str, Any]]
    ) -> list[str]:
        tbl = table(ADDRESS)
        result = await session.execute(
            pg_insert(tbl).on_conflict_do_nothing(index_elements=["id"]).returning(tbl.c.id),
            values,
        )
        inserted = sorted(r.id for r in result.all())
        await events.emit_internal(session, "CustomerAddress", "created", inserted)
        return inserted

    async def soft_delete_customer_addresses(self, address_ids: Any) -> dict[str, list[str]]:
        return await self._soft_delete_or_restore(ADDRESS, address_ids, True)

    async def restore_customer_addresses(self, address_ids: Any) -> dict[str, list[str]]:
        return await self._soft_delete_or_restore(ADDRESS, address_ids, False)

    async def unset_default_addresses(
        self, customer_ids: Sequence[str], flag: DefaultFlag, ctx: Any = None
    ) -> list[str]:
        """Take `flag` off the customers' current default addresses; returns those address ids
        (recorded, so a repeat returns the same list and the compensation stays exact)."""
        if flag not in _DEFAULT_FLAGS:
            raise InvalidDataError(f"Invalid flag: {flag}", field="flag")
        id_list = validate_ids(customer_ids, "customer_ids")
        context = _ctx(ctx)
        tbl = table(ADDRESS)
        async with transaction(self._sessions, context.event_group_id) as session:
            recorded = await self._recorded(session, context)
            if recorded is not None:
                return list(recorded)
            result = await session.execute(
                update(tbl)
                .where(tbl.c.customer_id.in_(id_list), tbl.c[flag].is_(True))
                .values({flag: False, "updated_at": func.now()})
                .returning(tbl.c.id)
            )
            unset = sorted(r.id for r in result.all())
            await events.emit_internal(session, "CustomerAddress", "updated", unset)
            await self._record(session, context, op_unset_default(flag), unset)
            return unset

    async def reset_default_addresses(self, address_ids: Sequence[str], flag: DefaultFlag) -> None:
        """Compensation of `unset_default_addresses`: give `flag` back to these addresses while no
        other address of the customer has taken it since (else `ConflictError`)."""
        if flag not in _DEFAULT_FLAGS:
            raise InvalidDataError(f"Invalid flag: {flag}", field="flag")
        id_list = validate_ids(address_ids, "address_ids")
        if not id_list:
            return
        async with transaction(self._sessions) as session:
            await self._reset_defaults_in(session, id_list, flag)

    async def _reset_defaults_in(
        self, session: AsyncSession, id_list: list[str], flag: DefaultFlag
    ) -> None:
        tbl = table(ADDRESS)
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
        await events.emit_internal(session, "CustomerAddress", "updated", [r.id for r in todo])

    async def set_default_address(self, address_id: str, flag: DefaultFlag) -> AddressDTO:
        """Make one address the default, taking the flag off the customer's other addresses, in
        one transaction serialised on the customer row (so concurrent calls leave one default)."""
        address_id = validate_id(address_id, "address_id")
        if flag not in _DEFAULT_FLAGS:
            raise InvalidDataError(f"Invalid flag: {flag}", field="flag")
        tbl, ctbl = table(ADDRESS), table(CUSTOMER)
        async with transaction(self._sessions) as session:
            row = (
                await session.execute(select(tbl).where(tbl.c.id == address_id, live(ADDRESS)))
            ).first()
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
            await events.emit_internal(session, "CustomerAddress", "updated", [address_id])
            return await retrieve_row(session, ADDRESS, address_id, FindConfig())  # type: ignore[return-value]

    # ------------------------------------------------------------------ groups

    async def retrieve_customer_group(self, group_id: str, config: Config = None) -> GroupDTO:
        return await self._retrieve(GROUP, group_id, config)  # type: ignore[return-value]

    async def list_customer_groups(
        self, filters: Any = None, config: Config = None
    ) -> list[GroupDTO]:
        return await self._list(GROUP, filters, config)  # type: ignore[return-value]

    async def list_and_count_customer_groups(
        self, filters: Any = None, config: Config = None
    ) -> tuple[list[GroupDTO], int]:
        return await self._list_and_count(GROUP, filters, config)  # type: ignore[return-value]

    async def create_customer_groups(self, data: Any, ctx: Any = None) -> Any:
        """Create groups (one or a list). A live group's name is taken."""
        return await self._create(GROUP, CreateGroupInput, OP_CREATE_GROUPS, data, ctx)

    async def update_customer_groups(self, target: Any, data: Any, ctx: Any = None) -> Any:
        outcome, single = await self._update(
            GROUP, target, validate(UpdateGroupInput, data, "data"), _ctx(ctx)
        )
        return await self._updated_dtos(GROUP, outcome, single)

    async def update_customer_groups_tracked(
        self, target: Target, data: Any, ctx: Any = None
    ) -> UpdateOutcome:
        outcome, _ = await self._update(
            GROUP, target, validate(UpdateGroupInput, data, "data"), _ctx(ctx)
        )
        return outcome

    async def restore_customer_group_fields(
        self, restores: Sequence[FieldRestore | Mapping[str, Any]]
    ) -> list[str]:
        return await self._restore_fields(GROUP, restores)

    async def delete_customer_groups(self, target: Target) -> None:
        await self._delete(GROUP, target)

    async def soft_delete_customer_groups(
        self, group_ids: Any, ctx: Any = None
    ) -> dict[str, list[str]]:
        """Soft delete groups; nothing cascades (SPEC §1.7)."""
        return await self._soft_delete_or_restore(
            GROUP, group_ids, True, ctx, OP_SOFT_DELETE_GROUPS
        )

    async def restore_customer_groups(self, group_ids: Any) -> dict[str, list[str]]:
        return await self._soft_delete_or_restore(GROUP, group_ids, False)

    # ------------------------------------------------------------------ memberships

    async def retrieve_customer_group_customer(
        self, membership_id: str, config: Config = None
    ) -> MembershipDTO:
        return await self._retrieve(MEMBERSHIP, membership_id, config)  # type: ignore[return-value]

    async def list_customer_group_customers(
        self, filters: Any = None, config: Config = None
    ) -> list[MembershipDTO]:
        return await self._list(MEMBERSHIP, filters, config)  # type: ignore[return-value]

    async def list_and_count_customer_group_customers(
        self, filters: Any = None, config: Config = None
    ) -> tuple[list[MembershipDTO], int]:
        return await self._list_and_count(MEMBERSHIP, filters, config)  # type: ignore[return-value]

    @staticmethod
    async def _lock_memberships(session: AsyncSession, keys: list[str]) -> int:
        """Lock the pairs `keys` ("customer_id/group_id", sorted: two operations never wait on
        each other crosswise) and return this transaction's id. Operations on one pair then run
        one at a time, and their transaction ids give their order."""
        for key in keys:
            await session.execute(
                select(func.pg_advisory_xact_lock(func.hashtextextended("membership " + key, 0)))
            )
        return int((await session.execute(text("SELECT pg_current_xact_id()::text"))).scalar_one())

    async def _add_pairs(
        self, session: AsyncSession, pairs: list[MembershipInput]
    ) -> tuple[list[str], list[tuple[str, str]]]:
        """Insert missing memberships (a set: decision 2). Returns the membership id of every pair
        and the pairs that were really added."""
        tbl = table(MEMBERSHIP)
        unique: dict[tuple[str, str], MembershipInput] = {}
        for p in pairs:
            unique.setdefault((p.customer_id, p.customer_group_id), p)
        rows = [
            {"id": p.id or ids.new_id(ids.MEMBERSHIP), "customer_id": p.customer_id,
             "customer_group_id": p.customer_group_id, "created_by": p.created_by,
             "metadata": p.metadata}
            for p in unique.values()
        ]  # fmt: skip
        added: list[tuple[str, str]] = []
        if rows:
            statement = (
                pg_insert(tbl)
                .on_conflict_do_nothing(
                    index_elements=["customer_id", "customer_group_id"],
                    index_where=tbl.c.deleted_at.is_(None),
                )
                .returning(tbl.c.id, tbl.c.customer_id, tbl.c.customer_group_id)
            )
            result = await session.execute(statement, rows)
            added = [(r.customer_id, r.customer_group_id) for r in result.all()]
        existing = await session.execute(
            select(tbl.c.id, tbl.c.customer_id, tbl.c.customer_group_id).where(
                tuple_(tbl.c.customer_id, tbl.c.customer_group_id).in_(list(unique)),
                tbl.c.deleted_at.is_(None),
            )
        )
        by_pair = {(r.customer_id, r.customer_group_id): r.id for r in existing.all()}
        membership_ids = [by_pair[(p.customer_id, p.customer_group_id)] for p in pairs]
        created_ids = sorted(by_pair[pair] for pair in added)
        await events.emit_internal(session, "CustomerGroupCustomer", "created", created_ids)
        return membership_ids, added

    async def _remove_pairs(
        self, session: AsyncSession, pairs: list[MembershipInput]
    ) -> list[dict[str, Any]]:
        """Hard-delete every row of the pairs; returns the deleted rows in full (as JSON, by id),
        so a compensation can put back the very same rows."""
        if not pairs:
            return []
        tbl = table(MEMBERSHIP)
        keys = list({(p.customer_id, p.customer_group_id) for p in pairs})
        result = await session.execute(
            delete(tbl)
            .where(tuple_(tbl.c.customer_id, tbl.c.customer_group_id).in_(keys))
            .returning(*tbl.c)
        )
        rows = sorted((row_dict(r) for r in result.all()), key=lambda r: r["id"])
        deleted_ids = [r["id"] for r in rows]
        await events.emit_internal(session, "CustomerGroupCustomer", "deleted", deleted_ids)
        return [MembershipDTO.model_validate(r).model_dump(mode="json") for r in rows]

    async def _reinsert_memberships_in(
        self, session: AsyncSession, rows: list[dict[str, Any]]
    ) -> None:
        """Put deleted membership rows back exactly (same ids and timestamps); a pair that is a
        member again meanwhile keeps its newer row (decision 2: a set)."""
        values = [
            MembershipDTO.model_validate(r).model_dump(exclude={"customer", "customer_group"})
            for r in rows
        ]
        if values:
            await session.execute(pg_insert(table(MEMBERSHIP)).on_conflict_do_nothing(), values)

    async def add_customer_to_group(self, data: Any) -> Any:
        """Add memberships; returns `{id}` (or a list) of the membership rows. An existing member
        keeps its row (decision 2). Unknown customer or group → not_found."""
        pairs, single = validate_many(MembershipInput, data, "data")
        async with transaction(self._sessions) as session:
            membership_ids, _ = await self._add_pairs(session, pairs)
        out = [{"id": i} for i in membership_ids]
        return out[0] if single else out

    async def remove_customer_from_group(self, data: Any) -> None:
        """Hard-delete the memberships of the given pairs; a non-member is a no-op."""
        pairs, _ = validate_many(MembershipInput, data, "data")
        async with transaction(self._sessions) as session:
            await self._remove_pairs(session, pairs)

    async def change_memberships(
        self,
        add: Sequence[MembershipInput | Mapping[str, Any]] = (),
        remove: Sequence[MembershipInput | Mapping[str, Any]] = (),
        ctx: Any = None,
    ) -> MembershipChange:
        """Add and remove memberships in one transaction, reporting the pairs really changed
        (recorded, so a repeat reports the same and the compensation undoes exactly those)."""
        for name, pairs in (("add", add), ("remove", remove)):
            if not isinstance(pairs, list | tuple):
                raise InvalidDataError(f"Invalid {name}: expected a list of pairs", field=name)
        add_pairs, _ = validate_many(MembershipInput, list(add), "add")
        remove_pairs, _ = validate_many(MembershipInput, list(remove), "remove")
        context = _ctx(ctx)
        async with transaction(self._sessions, context.event_group_id) as session:
            recorded = await self._recorded(session, context)
            if recorded is not None:
                return MembershipChange.model_validate(recorded)
            # Every pair asked for is recorded, no-ops included: a compensation must not undo a
            # pair that a later operation asked for (the undo below).
            requested = sorted(
                {f"{p.customer_id}/{p.customer_group_id}" for p in [*add_pairs, *remove_pairs]}
            )
            xid = await self._lock_memberships(session, requested)
            deleted = await self._remove_pairs(session, remove_pairs)
            removed = sorted(
                {(r["customer_id"], r["customer_group_id"]) for r in deleted if not r["deleted_at"]}
            )
            membership_ids, added = await self._add_pairs(session, add_pairs)
            by_pair = {
                (p.customer_id, p.customer_group_id): i
                for p, i in zip(add_pairs, membership_ids, strict=True)
            }
            change = MembershipChange(
                added=added,
                removed=removed,
                membership_ids=membership_ids,
                added_ids=[by_pair[pair] for pair in added],
            )
            # The deleted rows are recorded too: the compensation re-inserts them as they were.
            record = {
                **change.model_dump(mode="json"),
                "removed_rows": deleted,
                "requested": requested,
                "xid": xid,
            }
            await self._record(session, context, OP_CHANGE_MEMBERSHIPS, record)
            return change

    async def delete_customer_group_customers(self, target: Target) -> None:
        await self._delete(MEMBERSHIP, target)

    async def soft_delete_customer_group_customers(
        self, membership_ids: Any
    ) -> dict[str, list[str]]:
        return await self._soft_delete_or_restore(MEMBERSHIP, membership_ids, True)

    async def restore_customer_group_customers(self, membership_ids: Any) -> dict[str, list[str]]:
        return await self._soft_delete_or_restore(MEMBERSHIP, membership_ids, False)

    # ------------------------------------------------------------------ accounts (decision 8)

    async def validate_customer_account_creation(
        self, email: str | None, auth_identity_id: str | None
    ) -> None:
        """SPEC §4.7 step 1, with emails compared case-insensitively (decision 1)."""
        if not email:
            raise InvalidDataError("Email is required to create a customer", field="email")
        if not isinstance(email, str) or "\x00" in email or len(email) > MAX_EMAIL:
            raise InvalidDataError("Invalid email: expected an email address", field="email")
        validate_optional_id(auth_identity_id, "auth_identity_id")
        tbl = table(CUSTOMER)
        async with transaction(self._sessions) as session:
            rows = (
                await session.execute(
                    select(tbl.c.has_account).where(
                        func.lower(tbl.c.email) == email.strip().lower(), live(CUSTOMER)
                    )
                )
            ).all()
        has_account = any(r.has_account for r in rows)
        if has_account and auth_identity_id:
            raise DuplicateError("Customer with this email already has an account", field="email")
        if rows and not has_account and not auth_identity_id:
            raise DuplicateError("Guest customer with this email already exists", field="email")

    async def set_auth_identity(
        self, customer_id: str, auth_identity_id: str | None, expected: str | None, ctx: Any = None
    ) -> None:
        """Compare-and-set the customer's auth identity link (decision 8)."""
        validate_id(customer_id, "customer_id")
        validate_optional_id(auth_identity_id, "auth_identity_id")
        validate_optional_id(expected, "expected")
        context = _ctx(ctx)
        async with transaction(self._sessions, context.event_group_id) as session:
            if await self._recorded(session, context) is not None:
                return
            await self._set_auth_identity_in(session, customer_id, auth_identity_id, expected)
            await self._record(
                session, context, OP_SET_AUTH_IDENTITY,
                {"customer_id": customer_id, "previous": expected, "written": auth_identity_id},
            )  # fmt: skip

    async def _set_auth_identity_in(
        self,
        session: AsyncSession,
        customer_id: str,
        auth_identity_id: str | None,
        expected: str | None,
    ) -> None:
        tbl = table(CUSTOMER)
        row = (
            await session.execute(
                select(tbl.c.auth_identity_id).where(tbl.c.id == customer_id).with_for_update()
            )
        ).first()
        if row is None:
            raise NotFoundError(f"Customer with id: {customer_id} was not found", field="id")
        if row.auth_identity_id == auth_identity_id:
            return
        if row.auth_identity_id != expected:
            raise ConflictError(
                f"Customer {customer_id} auth identity changed since",
                field="auth_identity_id",
                details=[{"id": customer_id, "field": "auth_identity_id",
                          "expected": expected, "actual": row.auth_identity_id}],
            )  # fmt: skip
        await session.execute(
            update(tbl)
            .where(tbl.c.id == customer_id)
            .values(auth_identity_id=auth_identity_id, updated_at=func.now())
        )

    # ------------------------------------------------------------------ events

    async def release_events(self, event_group_id: str) -> int:
        """Publish the run's staged events (repeat-safe)."""
        return await self._move_events(event_group_id, events.RELEASED)

    async def discard_events(self, event_group_id: str) -> int:
        """Drop the run's staged events: a compensated run publishes nothing (repeat-safe)."""
        return await self._move_events(event_group_id, events.DISCARDED)

    async def _move_events(self, event_group_id: str, status: str) -> int:
        # A run's "<workflow id>:<run id>" (schemas.EventGroupId) is longer than an entity id.
        try:
            valid = isinstance(event_group_id, str) and bool(
                WriteContext(event_group_id=event_group_id)
            )
        except ValidationError:
            valid = False
        if not valid:
            raise InvalidDataError("Invalid event_group_id: expected an id", field="event_group_id")
        tbl = m.table_of(m.OutboxEvent)
        staged = and_(tbl.c.event_group_id == event_group_id, tbl.c.status == events.STAGED)
        async with transaction(self._sessions) as session:
            if status == events.DISCARDED:
                # Discarded events are deleted: the outbox then is as if the run never happened.
                result = await session.execute(delete(tbl).where(staged).returning(tbl.c.id))
            else:
                result = await session.execute(
                    update(tbl)
                    .where(staged)
                    .values(status=status, status_changed_at=func.now())
                    .returning(tbl.c.id)
                )
            return len(result.all())

    async def list_events(
        self,
        *,
        event_group_id: str | None = None,
        status: str | None = None,
        name: str | None = None,
        internal: bool | None = None,
    ) -> list[dict[str, Any]]:
        for key, value, kind in (("event_group_id", event_group_id, str), ("status", status, str),
                                 ("name", name, str), ("internal", internal, bool)):  # fmt: skip
            if value is not None and not isinstance(value, kind):
                raise InvalidDataError(f"Invalid {key}: expected a {kind.__name__}", field=key)
        tbl = m.table_of(m.OutboxEvent)
        conditions = [
            c
            for c, v in (
                (tbl.c.event_group_id == event_group_id, event_group_id),
                (tbl.c.status == status, status),
                (tbl.c.name == name, name),
                (tbl.c.internal == internal, internal),
            )
            if v is not None
        ]
        async with transaction(self._sessions) as session:
            result = await session.execute(select(tbl).where(*conditions).order_by(tbl.c.id))
            return [row_dict(r) for r in result.all()]

    # ------------------------------------------------------------------ compensations

    async def _undo(
        self,
        operation_id: str,
        kind: str,
        undo: Callable[[AsyncSession, Any], Awaitable[None]],
    ) -> bool:
        """Undo the operation recorded under `operation_id`, once.

        Registered before its step runs, a compensation may find nothing recorded: the step never
        committed. It then leaves a "cancelled" mark, so a late attempt of that step (still in
        flight on some worker) fails instead of committing after the saga has moved on. Returns
        whether anything was undone; repeats are no-ops."""
        operation_id = validate_ids(operation_id, "operation_id")[0]
        tbl = m.table_of(m.OperationRecord)
        async with transaction(self._sessions) as session:
            # The run's staged events are discarded with its event group; an undo adds none.
            events.mute(session)
            row = (
                await session.execute(
                    select(tbl).where(tbl.c.operation_id == operation_id).with_for_update()
                )
            ).first()
            if row is None:
                await session.execute(
                    insert(tbl).values(operation_id=operation_id, name=kind + CANCELLED, result={})
                )
                return False
            if row.name in (kind + CANCELLED, kind + COMPENSATED):
                return False
            if row.name != kind:
                raise InvalidDataError(
                    f"Operation {operation_id} is a {row.name!r}, not a {kind!r}",
                    field="operation_id",
                )
            await undo(session, row.result)
            await session.execute(
                update(tbl)
                .where(tbl.c.operation_id == operation_id)
                .values(name=kind + COMPENSATED)
            )
            return True

    async def _delete_rows(
        self, session: AsyncSession, spec: EntitySpec, row_ids: list[str]
    ) -> None:
        if row_ids:
            tbl = table(spec)
            result = await session.execute(
                delete(tbl).where(tbl.c.id.in_(row_ids)).returning(tbl.c.id)
            )
            await events.emit_internal(
                session, spec.name, "deleted", sorted(r.id for r in result.all())
            )

    async def undo_create_customers(self, operation_id: str) -> bool:
        """Hard-delete the customers (and addresses) that operation created; nothing else."""

        async def undo(session: AsyncSession, result: Any) -> None:
            await self._delete_rows(session, CUSTOMER, result["ids"])

        return await self._undo(operation_id, OP_CREATE_CUSTOMERS, undo)

    async def undo_update(self, operation_id: str, entity: str) -> bool:
        """Compare-and-set the previous values back (decision 3); a conflict fails loudly."""
        spec = {"customer": CUSTOMER, "address": ADDRESS, "group": GROUP}.get(entity)
        if spec is None:
            raise InvalidDataError(f"Invalid entity: {entity}", field="entity")

        async def undo(session: AsyncSession, result: Any) -> None:
            outcome = UpdateOutcome.model_validate(result)
            items = [
                FieldRestore(id=before["id"], expected=after, previous=before)
                for before, after in zip(outcome.previous, outcome.written, strict=True)
            ]
            for item in items:
                item.expected.pop("id", None)
                item.previous.pop("id", None)
            await self._restore_fields_in(session, spec, items)

        return await self._undo(operation_id, op_update(spec), undo)

    async def undo_soft_delete_customers(self, operation_id: str) -> bool:
        """Restore exactly the customers and addresses that operation soft-deleted."""

        async def undo(session: AsyncSession, result: Any) -> None:
            customers = result.get("customer_id", [])
            addresses = result.get("customer_address_id", [])
            if customers:
                await self._set_deleted_at(
                    session, CUSTOMER, table(CUSTOMER).c.id.in_(customers), False
                )
            if addresses:
                await self._set_deleted_at(
                    session, ADDRESS, table(ADDRESS).c.id.in_(addresses), False
                )

        return await self._undo(operation_id, OP_SOFT_DELETE_CUSTOMERS, undo)

    async def undo_unset_default_addresses(self, operation_id: str, flag: DefaultFlag) -> bool:
        if flag not in _DEFAULT_FLAGS:
            raise InvalidDataError(f"Invalid flag: {flag}", field="flag")

        async def undo(session: AsyncSession, result: Any) -> None:
            if result:
                await self._reset_defaults_in(session, list(result), flag)

        return await self._undo(operation_id, op_unset_default(flag), undo)

    async def undo_create_customer_addresses(self, operation_id: str) -> bool:
        async def undo(session: AsyncSession, result: Any) -> None:
            await self._delete_rows(session, ADDRESS, result["ids"])

        return await self._undo(operation_id, OP_CREATE_ADDRESSES, undo)

    async def undo_delete_customer_addresses(self, operation_id: str) -> bool:
        async def undo(session: AsyncSession, result: Any) -> None:
            values = [AddressDTO.model_validate(r).model_dump() for r in result]
            for v in values:
                v.pop("customer", None)
            if values:
                await self._reinsert_addresses_in(session, values)

        return await self._undo(operation_id, OP_DELETE_ADDRESSES, undo)

    async def undo_create_customer_groups(self, operation_id: str) -> bool:
        async def undo(session: AsyncSession, result: Any) -> None:
            await self._delete_rows(session, GROUP, result["ids"])

        return await self._undo(operation_id, OP_CREATE_GROUPS, undo)

    async def undo_soft_delete_customer_groups(self, operation_id: str) -> bool:
        async def undo(session: AsyncSession, result: Any) -> None:
            groups = result.get("customer_group_id", [])
            if groups:
                await self._set_deleted_at(session, GROUP, table(GROUP).c.id.in_(groups), False)

        return await self._undo(operation_id, OP_SOFT_DELETE_GROUPS, undo)

    async def undo_change_memberships(self, operation_id: str) -> bool:
        """Remove only the pairs that operation added; put back exactly the rows it removed.

        Compare-and-set per pair (decision 3): when a later operation that is not compensated
        asked for one of the pairs this one changed — even as a no-op, like adding a member
        again — undoing it would overwrite that operation's outcome. That is a conflict: nothing
        is undone and the run reports it."""

        async def undo(session: AsyncSession, result: Any) -> None:
            change = MembershipChange.model_validate(result)
            pair = MembershipInput
            if "xid" in result:
                changed = sorted({f"{c}/{g}" for c, g in [*change.added, *change.removed]})
                await self._lock_memberships(session, changed)
                later = await session.execute(
                    text(
                        "SELECT operation_id, result->'requested' FROM operation_log "
                        "WHERE name = :name AND operation_id <> :op "
                        "AND (result->>'xid')::bigint > :xid AND result->'requested' ?| :keys "
                        "ORDER BY operation_id"
                    ),
                    {"name": OP_CHANGE_MEMBERSHIPS, "op": operation_id, "xid": result["xid"],
                     "keys": changed},
                )  # fmt: skip
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
            if change.added_ids:  # only the rows this operation created, nothing older
                await self._delete_rows(session, MEMBERSHIP, change.added_ids)
            else:
                await self._remove_pairs(
                    session, [pair(customer_id=c, customer_group_id=g) for c, g in change.added]
                )
            if "removed_rows" in result:
                await self._reinsert_memberships_in(session, result["removed_rows"])
            else:  # recorded without its rows: re-add the pairs (new membership rows)
                await self._add_pairs(
                    session, [pair(customer_id=c, customer_group_id=g) for c, g in change.removed]
                )

        return await self._undo(operation_id, OP_CHANGE_MEMBERSHIPS, undo)

    async def undo_set_auth_identity(self, operation_id: str) -> bool:
        async def undo(session: AsyncSession, result: Any) -> None:
            await self._set_auth_identity_in(
                session, result["customer_id"], result["previous"], result["written"]
            )

        return await self._undo(operation_id, OP_SET_AUTH_IDENTITY, undo)
