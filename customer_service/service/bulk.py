"""Bulk import and export of customers (the service half of the bulk workflows).

Import: one batch of rows is one transaction, recorded in the operation log under a key made
from (import id, batch number): a repeat (a retried activity, a worker killed after the commit, a
re-submitted file with the same request id) returns the recorded outcome and writes nothing. Each
row is validated like a single create (`CreateCustomerInput`, same messages); a bad row is
reported (row number, field, message) and never stops the batch. Groups are created or matched by
name. Modes: `create` (an email already live, ignoring case, is a row error) and `upsert` (such a
row updates that customer). The batch's `customer.created` / `customer.updated` events are staged
under the run's event group and released in the same transaction: an import is not rolled back,
so the batch is its own pivot (DESIGN rule 10).

Export: keyset pages (id order) of the customers a list filter selects, with their addresses and
groups, read in one query per page.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, literal, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from customer_service import events, ids
from customer_service import models as m
from customer_service.db import transaction
from customer_service.entities import ADDRESS, CUSTOMER, GROUP, MEMBERSHIP
from customer_service.errors import ConflictError, CustomerModuleError, InvalidDataError
from customer_service.schemas import AddressFields, CreateCustomerInput, CreateGroupInput
from customer_service.validation import validate

Mode = Literal["create", "upsert"]
RECORD_NAME = "import customers batch"
CUSTOMER_FIELDS = ("email", "first_name", "last_name", "company_name", "phone", "metadata")
ADDRESS_PREFIX = "address."
ADDRESS_FIELDS = tuple(AddressFields.model_fields)
GROUPS_COLUMN = "groups"
GROUP_SEPARATOR = "|"
UNREADABLE = (
    "Invalid request: the row is not a JSON object, or has more or fewer cells than the header"
)


class RowError(BaseModel):
    model_config = ConfigDict(frozen=True)

    row: int  # 1-based data row of the file (the header is not counted)
    field: str
    message: str


class BatchOutcome(BaseModel):
    """What one batch did; stored in the operation log, returned again on a repeat."""

    batch: int
    read: int = 0
    created: int = 0
    updated: int = 0
    errors: list[RowError] = []


def batch_operation_id(import_id: str, batch: int) -> str:
    """The operation-log key of a batch: at most 64 characters, whatever the import id."""
    digest = hashlib.sha256(import_id.encode()).hexdigest()[:40]
    return f"import:{digest}:{batch}"


def _flatten(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON Lines object may nest `address` as an object; CSV columns are flat."""
    flat = {k: v for k, v in raw.items() if k != "address"}
    nested = raw.get("address")
    if isinstance(nested, Mapping):
        flat.update({f"{ADDRESS_PREFIX}{k}": v for k, v in nested.items()})
    elif nested is not None:
        flat[f"{ADDRESS_PREFIX}*"] = nested
    return flat


def _cell(value: Any) -> Any:
    return None if value == "" else value


def parse_row(raw: Mapping[str, Any]) -> tuple[CreateCustomerInput, list[str]]:
    """One file row as a create input and its group names, or an `InvalidDataError` naming the
    column. The customer is validated exactly as a single create validates it."""
    data: dict[str, Any] = {}
    address: dict[str, Any] = {}
    groups: Any = []
    for key, value in _flatten(raw).items():
        value = _cell(value)
        if key == GROUPS_COLUMN:
            groups = value or []
        elif key.startswith(ADDRESS_PREFIX):
            if value is not None:
                address[key.removeprefix(ADDRESS_PREFIX)] = value
        elif value is not None:
            data[key] = value
    if isinstance(data.get("metadata"), str):
        try:
            data["metadata"] = json.loads(data["metadata"])
        except json.JSONDecodeError:
            raise InvalidDataError(
                "Invalid request: Invalid metadata: not a JSON object", field="metadata"
            ) from None
    for flag in ("is_default_shipping", "is_default_billing"):
        if isinstance(address.get(flag), str):
            address[flag] = {"true": True, "false": False}.get(address[flag].lower(), address[flag])
    if address:
        data["addresses"] = [address]
    try:
        customer = validate(CreateCustomerInput, data, "")
    except InvalidDataError as exc:
        raise InvalidDataError(exc.message, field=_column(exc.field)) from None
    if isinstance(groups, str):
        groups = [g.strip() for g in groups.split(GROUP_SEPARATOR) if g.strip()]
    if not isinstance(groups, list):
        raise InvalidDataError(
            "Invalid request: Expected type: 'array' for field 'groups'", field=GROUPS_COLUMN
        )
    names = [validate(CreateGroupInput, {"name": g}, GROUPS_COLUMN).name for g in groups]
    return customer, list(dict.fromkeys(names))


def _column(field: str | None) -> str:
    """The file column a validation error is about (`addresses.0.city` → `address.city`)."""
    field = field or ""
    return (
        ADDRESS_PREFIX + field.removeprefix("addresses.0.") if field.startswith("addr") else field
    )


class BulkImports:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def import_batch(
        self,
        import_id: str,
        batch: int,
        rows: Sequence[tuple[int, Mapping[str, Any] | None]],
        mode: Mode,
        event_group_id: str | None,
    ) -> BatchOutcome:
        """Import `rows` (row number, raw values or None for an unreadable row) as batch `batch` of `import_id`, once."""
        if mode not in ("create", "upsert"):
            raise InvalidDataError("Invalid mode: expected create or upsert", field="mode")
        operation_id = batch_operation_id(import_id, batch)
        async with transaction(self.sessions) as session:
            recorded = await _recorded(session, operation_id)
            if recorded is not None:
                if recorded.batch != batch or recorded.read != len(rows):
                    raise ConflictError(
                        f"Batch {batch} of this import was recorded with other rows",
                        field="batch",
                    )
                return recorded
            outcome = BatchOutcome(batch=batch, read=len(rows))
            parsed: list[tuple[int, CreateCustomerInput, list[str]]] = []
            for number, raw in rows:
                if raw is None:
                    outcome.errors.append(RowError(row=number, field="", message=UNREADABLE))
                    continue
                try:
                    customer, groups = parse_row(raw)
                except CustomerModuleError as exc:
                    outcome.errors.append(
                        RowError(row=number, field=exc.field, message=exc.message)
                    )
                    continue
                parsed.append((number, customer, groups))
            await _BatchWriter(session, mode, event_group_id, outcome).write(parsed)
            result = outcome.model_dump(mode="json")
            await session.execute(
                pg_insert(m.OperationRecord).values(
                    operation_id=operation_id, name=RECORD_NAME, result=result, state="done"
                )
            )
            return outcome

    async def outcomes(self, import_id: str, batches: int) -> list[BatchOutcome]:
        """The recorded outcome of batches 0 … batches-1 of an import (the error report's
        source), in batch order; batches never run are missing."""
        wanted = [batch_operation_id(import_id, b) for b in range(batches)]
        tbl = m.table_of(m.OperationRecord)
        found: list[BatchOutcome] = []
        async with self.sessions() as session:
            for start in range(0, len(wanted), 1000):
                query = select(tbl.c.result).where(
                    tbl.c.operation_id.in_(wanted[start : start + 1000]),
                    tbl.c.name == RECORD_NAME,
                )
                found += [BatchOutcome.model_validate(r) for r in (await session.scalars(query))]
        return sorted(found, key=lambda o: o.batch)


async def _recorded(session: AsyncSession, operation_id: str) -> BatchOutcome | None:
    # Overlapping attempts of one batch (a retry while the first still runs) are serialised.
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtextextended(operation_id, 0)))
    )
    row = await session.get(m.OperationRecord, operation_id)
    return None if row is None else BatchOutcome.model_validate(row.result)


def _copy_value(value: Any) -> Any:
    return Jsonb(value) if isinstance(value, dict | list) else value


class _BatchWriter:
    """The writes of one batch, inside its transaction."""

    def __init__(
        self, session: AsyncSession, mode: Mode, group: str | None, outcome: BatchOutcome
    ) -> None:
        self.session = session
        self.mode = mode
        self.group = group
        self.outcome = outcome

    async def write(self, parsed: list[tuple[int, CreateCustomerInput, list[str]]]) -> None:
        known = await self._existing_emails([c.email for _, c, _ in parsed if c.email])
        customers: list[dict[str, Any]] = []
        addresses: list[dict[str, Any]] = []
        updates: list[tuple[str, CreateCustomerInput]] = []
        memberships: list[tuple[str, list[str]]] = []
        for number, item, groups in parsed:
            key = item.email.lower() if item.email else None
            customer_id = known.get(key) if key else None
            if customer_id is not None and self.mode == "create":
                message = f"Customer with email: {item.email}, has_account: false, already exists."
                self.outcome.errors.append(RowError(row=number, field="email", message=message))
                continue
            if customer_id is None:
                customer_id = ids.new_id(CUSTOMER.prefix)
                values = item.model_dump(include=set(CUSTOMER_FIELDS) | {"created_by"})
                customers.append({**values, "id": customer_id, "has_account": False})
                if key:
                    known[key] = customer_id
            else:
                updates.append((customer_id, item))
            for address in item.addresses:
                row = address.model_dump(exclude={"id"})
                addresses.append(
                    {**row, "id": ids.new_id(ADDRESS.prefix), "customer_id": customer_id}
                )
            if groups:
                memberships.append((customer_id, groups))
        await self._insert(CUSTOMER.table, customers)
        updated = await self._update(updates)
        await self._add_addresses(addresses, updated)
        await self._link(memberships)
        created = [c["id"] for c in customers]
        await events.emit_internal(self.session, CUSTOMER, "created", created)
        await events.emit_internal(self.session, CUSTOMER, "updated", updated)
        await self._release(events.CUSTOMER_CREATED, created)
        await self._release(events.CUSTOMER_UPDATED, list(dict.fromkeys(updated)))
        self.outcome.created += len(created)
        self.outcome.updated += len(updates)

    async def _existing_emails(self, emails: list[str]) -> dict[str, str]:
        """Live customers by lower-cased email. Upsert matches the guest (`has_account` false,
        the key an imported customer would take) before a registered customer."""
        if not emails:
            return {}
        tbl = CUSTOMER.table
        query = (
            select(func.lower(tbl.c.email), tbl.c.id)
            .where(func.lower(tbl.c.email).in_({e.lower() for e in emails}), CUSTOMER.live())
            .order_by(tbl.c.has_account.desc(), tbl.c.id)
        )
        if self.mode == "create":
            query = query.where(tbl.c.has_account.is_(False))
        # Later rows win: the guest (ordered last) replaces a registered match.
        return {email: cid for email, cid in (await self.session.execute(query)).all()}

    async def _insert(self, table: Any, rows: list[dict[str, Any]]) -> None:
        """COPY the rows in (the batch's own transaction, on its connection): several times
        cheaper than INSERTs, for the server as for this process."""
        if not rows:
            return
        columns = list(rows[0])
        connection = await self.session.connection()
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None
        names = ", ".join(f'"{c}"' for c in columns)
        statement = f'COPY "{table.name}" ({names}) FROM STDIN'
        async with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                await copy.write_row([_copy_value(row[c]) for c in columns])

    async def _update(self, updates: list[tuple[str, CreateCustomerInput]]) -> list[str]:
        tbl = CUSTOMER.table
        for customer_id, item in updates:
            # The email is the match key: the stored one (and its case) stays.
            values: dict[str, Any] = {
                f: getattr(item, f)
                for f in CUSTOMER_FIELDS
                if f in item.model_fields_set and f != "email"
            }
            if "metadata" in values:  # merged, as an update merges it (SPEC §2.6, shallow)
                current = func.coalesce(tbl.c.metadata, text("'{}'::jsonb"))
                values["metadata"] = current.op("||")(literal(values["metadata"], JSONB))
            query = update(tbl).where(tbl.c.id == customer_id)
            await self.session.execute(query.values(**values, updated_at=func.now()))
        return [customer_id for customer_id, _ in updates]

    async def _add_addresses(self, rows: list[dict[str, Any]], updated: list[str]) -> None:
        """New addresses; for a matched customer, one equal to a live address is skipped and a
        default flag moves to the new address."""
        if updated and rows:
            tbl = ADDRESS.table
            existing = await self.session.execute(
                select(tbl).where(tbl.c.customer_id.in_(updated), ADDRESS.live())
            )
            compared = [f for f in ADDRESS_FIELDS if f not in ("metadata",)]
            have = {(r.customer_id, *(getattr(r, f) for f in compared)) for r in existing}
            rows = [r for r in rows if (r["customer_id"], *(r[f] for f in compared)) not in have]
            for flag in ("is_default_shipping", "is_default_billing"):
                moved = [r["customer_id"] for r in rows if r[flag] and r["customer_id"] in updated]
                if moved:
                    await self.session.execute(
                        update(tbl)
                        .where(tbl.c.customer_id.in_(moved), tbl.c[flag].is_(True))
                        .values({flag: False, "updated_at": func.now()})
                    )
        await self._insert(ADDRESS.table, rows)
        await events.emit_internal(self.session, ADDRESS, "created", [r["id"] for r in rows])

    async def _link(self, memberships: list[tuple[str, list[str]]]) -> None:
        """Groups created or matched by name; memberships added unless already there."""
        names = sorted({n for _, groups in memberships for n in groups})
        if not names:
            return
        live = text("deleted_at IS NULL")
        tbl = GROUP.table
        new_groups = [{"id": ids.new_id(GROUP.prefix), "name": n} for n in names]
        inserted = await self.session.execute(
            pg_insert(tbl)
            .values(new_groups)
            .on_conflict_do_nothing(index_elements=["name"], index_where=live)
            .returning(tbl.c.id)
        )
        await events.emit_internal(self.session, GROUP, "created", list(inserted.scalars()))
        found = await self.session.execute(
            select(tbl.c.name, tbl.c.id).where(tbl.c.name.in_(names), GROUP.live())
        )
        group_ids = {name: group_id for name, group_id in found.all()}
        pairs = {(cid, group_ids[n]) for cid, groups in memberships for n in groups}
        rows = [
            {"id": ids.new_id(MEMBERSHIP.prefix), "customer_id": c, "customer_group_id": g}
            for c, g in sorted(pairs)
        ]
        pivot = MEMBERSHIP.table
        added = await self.session.execute(
            pg_insert(pivot)
            .values(rows)
            .on_conflict_do_nothing(
                index_elements=["customer_id", "customer_group_id"], index_where=live
            )
            .returning(pivot.c.id)
        )
        await events.emit_internal(self.session, MEMBERSHIP, "created", list(added.scalars()))

    async def _release(self, name: str, customer_ids: list[str]) -> None:
        """The batch's workflow events, under the run's event group. They are staged and
        released in one go: the batch commits them with its rows, and nothing after it can undo
        it (an import is not rolled back), so they are written released."""
        if not customer_ids or self.group is None:
            return
        now = (await self.session.execute(select(func.now()))).scalar_one()
        rows = [
            {
                "name": name,
                "data": {"id": i},
                "internal": False,
                "status": events.RELEASED,
                "event_group_id": self.group,
                "status_changed_at": now,
            }
            for i in customer_ids
        ]
        await self._insert(m.table_of(m.OutboxEvent), rows)


__all__ = ["BatchOutcome", "BulkImports", "RowError", "batch_operation_id"]
