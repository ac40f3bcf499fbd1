"""Bulk import and export of customers (the service half of the bulk workflows).

Import: one batch of rows is one transaction, recorded in the operation log under a key made
from (import id, batch number): a repeat (a retried activity, a worker killed after the commit, a
re-submitted file with the same request id) returns the recorded outcome and writes nothing. Each
row is validated like a single create (`bulk_rows`, same messages); a bad row is reported (row
number, field, message) and never stops the batch. Groups are created or matched by name. Modes:
`create` (an email already live, ignoring case, is a row error) and `upsert` (such a row updates
that customer). The batch's `customer.created` / `customer.updated` events are staged under the
run's event group and released in the same transaction: an import is not rolled back, so the
batch is its own pivot (DESIGN rule 10).

The writes are set-based: each table gets one statement per batch, its rows sent as JSON that
PostgreSQL unpacks (`INSERT … SELECT … FROM json_to_recordset(…)`), so a batch costs a dozen
round trips, and no Python work per row beyond validating it.

Export: `bulk_export`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from customer_service import events, ids
from customer_service import models as m
from customer_service.db import transaction
from customer_service.entities import ADDRESS, CUSTOMER, GROUP, MEMBERSHIP
from customer_service.errors import ConflictError, InvalidDataError
from customer_service.schemas import CreateCustomerInput, NestedAddressInput
from customer_service.service.bulk_rows import (
    ADDRESS_FIELDS,
    CUSTOMER_FIELDS,
    ParsedRow,
    RowError,
    parse_rows,
)

Mode = Literal["create", "upsert"]
RECORD_NAME = "import customers batch"
# The fields of a row's JSON object → their PostgreSQL types (`json_to_recordset`).
_CUSTOMER_RECORD = {
    **{f: "jsonb" if f == "metadata" else "text" for f in CUSTOMER_FIELDS},
    "created_by": "text",
}
_ADDRESS_RECORD = {
    f: "jsonb" if f == "metadata" else "boolean" if f.startswith("is_") else "text"
    for f in ADDRESS_FIELDS
}
# Serialise a batch's validated inputs in one call each (no Python object per row).
_CUSTOMERS = TypeAdapter(list[CreateCustomerInput])
_ADDRESSES = TypeAdapter(list[NestedAddressInput])
_CUSTOMER_JSON = {"__all__": set(_CUSTOMER_RECORD)}
_ADDRESS_JSON = {"__all__": set(_ADDRESS_RECORD)}
_UPDATED_FIELDS = tuple(f for f in CUSTOMER_FIELDS if f != "email")


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
            parsed, errors = parse_rows(rows)
            outcome = BatchOutcome(batch=batch, read=len(rows), errors=errors)
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


def _rows(texts: Sequence[str], record: Mapping[str, str] | None = None) -> str:
    """`ROWS FROM (…) WITH ORDINALITY AS r(…, n)`: a batch's rows, zipped from one JSON array
    of strings per name in `texts` (the parameter of that name) and, with `record`, from the
    JSON array of objects `:rows` (its fields and their types). Python serialises each list in
    one call and PostgreSQL parses it: a batch costs one statement per table, and no Python work
    per row and column."""
    parts = [f"json_array_elements_text(CAST(:{n} AS json))" for n in texts]
    if record:
        fields = ", ".join(f"{f} {t}" for f, t in record.items())
        parts.append(f"json_to_recordset(CAST(:rows AS json)) AS ({fields})")
    names = ", ".join([*texts, *(record or {})])
    return f"ROWS FROM ({', '.join(parts)}) WITH ORDINALITY AS r({names}, n)"


async def _insert(
    session: AsyncSession,
    table: str,
    keys: Mapping[str, list[str]],
    record: Mapping[str, str],
    rows: bytes,
) -> None:
    """Rows into `table`, in row order: the `keys` columns (ids) from lists of strings, the
    others from `rows`, a JSON array of objects with `record`'s fields."""
    if not next(iter(keys.values())):
        return
    names = ", ".join([*keys, *record])
    statement = (
        f"INSERT INTO {table} ({names}) SELECT {names} FROM {_rows(list(keys), record)} ORDER BY n"
    )
    params = {k: json.dumps(v) for k, v in keys.items()}
    await session.execute(text(statement), {**params, "rows": rows.decode()})


class _BatchWriter:
    """The writes of one batch, inside its transaction: a statement per table."""

    def __init__(
        self, session: AsyncSession, mode: Mode, group: str | None, outcome: BatchOutcome
    ) -> None:
        self.session = session
        self.mode = mode
        self.group = group
        self.outcome = outcome

    async def write(self, parsed: list[ParsedRow]) -> None:
        known = await self._existing_emails([p.customer.email for p in parsed if p.customer.email])
        fresh = ids.new_ids(CUSTOMER.prefix, len(parsed))
        created: list[str] = []
        creates: list[CreateCustomerInput] = []
        updates: list[tuple[str, CreateCustomerInput]] = []
        addresses: list[tuple[str, NestedAddressInput]] = []
        memberships: list[tuple[str, list[str]]] = []
        for number, item, groups in parsed:
            key = item.email.lower() if item.email else None
            customer_id = known.get(key) if key else None
            if customer_id is not None and self.mode == "create":
                message = f"Customer with email: {item.email}, has_account: false, already exists."
                self.outcome.errors.append(RowError(row=number, field="email", message=message))
                continue
            if customer_id is None:
                customer_id = fresh[len(created)]
                created.append(customer_id)
                creates.append(item)
                if key:
                    known[key] = customer_id
            else:
                updates.append((customer_id, item))
            addresses += [(customer_id, a) for a in item.addresses]
            if groups:
                memberships.append((customer_id, groups))
        await self._insert_customers(created, creates)
        updated = await self._update(updates)
        await self._add_addresses(addresses, set(updated))
        await self._link(memberships)
        await events.emit_internal(self.session, CUSTOMER, "created", created)
        await events.emit_internal(self.session, CUSTOMER, "updated", updated)
        await self._release(created, list(dict.fromkeys(updated)))
        self.outcome.created += len(created)
        self.outcome.updated += len(updates)

    async def _existing_emails(self, emails: list[str]) -> dict[str, str]:
        """Live customers by lower-cased email. Upsert matches the guest (`has_account` false,
        the key an imported customer would take) before a registered customer."""
        if not emails:
            return {}
        query = (
            "SELECT lower(email), id FROM customer WHERE deleted_at IS NULL"
            " AND lower(email) = ANY(CAST(:emails AS text[]))"
            + (" AND NOT has_account" if self.mode == "create" else "")
            + " ORDER BY has_account DESC, id"
        )
        found = await self.session.execute(
            text(query), {"emails": list({e.lower() for e in emails})}
        )
        # Later rows win: the guest (ordered last) replaces a registered match.
        return {email: cid for email, cid in found.all()}

    async def _insert_customers(self, created: list[str], items: list[CreateCustomerInput]) -> None:
        rows = _CUSTOMERS.dump_json(items, include=_CUSTOMER_JSON)
        await _insert(self.session, CUSTOMER.table.name, {"id": created}, _CUSTOMER_RECORD, rows)

    async def _update(self, updates: list[tuple[str, CreateCustomerInput]]) -> list[str]:
        """Matched customers, in one statement: the fields the row gives (the email is the match
        key: the stored one, and its case, stays); `metadata` merged as an update merges it
        (SPEC §2.6, shallow). Several rows for one customer apply in row order."""
        merged: dict[str, dict[str, Any]] = {}
        for customer_id, item in updates:
            values = merged.setdefault(customer_id, {})
            for field in _UPDATED_FIELDS:
                if field in item.model_fields_set:
                    value = getattr(item, field)
                    if field == "metadata" and "metadata" in values:
                        value = {**values["metadata"], **value}
                    values[field] = value
        if merged:
            assignments = ", ".join(
                f"{f} = CASE WHEN u.v ? '{f}' THEN u.v->>'{f}' ELSE c.{f} END"
                for f in _UPDATED_FIELDS
                if f != "metadata"
            )
            metadata = "coalesce(c.metadata, '{}'::jsonb) || (u.v->'metadata')"
            statement = (
                f"UPDATE customer AS c SET {assignments}, "
                f"metadata = CASE WHEN u.v ? 'metadata' THEN {metadata} ELSE c.metadata END, "
                "updated_at = now() "
                "FROM ROWS FROM (json_array_elements_text(CAST(:ids AS json)), "
                "jsonb_array_elements(CAST(:values AS jsonb))) AS u(id, v) "
                "WHERE c.id = u.id"
            )
            params = {"ids": json.dumps(list(merged)), "values": json.dumps(list(merged.values()))}
            await self.session.execute(text(statement), params)
        return [customer_id for customer_id, _ in updates]

    async def _add_addresses(
        self, rows: list[tuple[str, NestedAddressInput]], updated: set[str]
    ) -> None:
        """New addresses; for a matched customer, one equal to a live address is skipped and a
        default flag moves to the new address."""
        if updated and rows:
            rows = await self._new_for_updated(rows, updated)
        address_ids = ids.new_ids(ADDRESS.prefix, len(rows))
        keys = {"id": address_ids, "customer_id": [customer_id for customer_id, _ in rows]}
        fields = _ADDRESSES.dump_json([a for _, a in rows], include=_ADDRESS_JSON)
        await _insert(self.session, ADDRESS.table.name, keys, _ADDRESS_RECORD, fields)
        await events.emit_internal(self.session, ADDRESS, "created", address_ids)

    async def _new_for_updated(
        self, rows: list[tuple[str, NestedAddressInput]], updated: set[str]
    ) -> list[tuple[str, NestedAddressInput]]:
        tbl = ADDRESS.table
        existing = await self.session.execute(
            select(tbl).where(tbl.c.customer_id.in_(updated), ADDRESS.live())
        )
        compared = [f for f in ADDRESS_FIELDS if f not in ("metadata",)]
        have = {(r.customer_id, *(getattr(r, f) for f in compared)) for r in existing}
        rows = [(c, a) for c, a in rows if (c, *(getattr(a, f) for f in compared)) not in have]
        for flag in ("is_default_shipping", "is_default_billing"):
            moved = [c for c, a in rows if getattr(a, flag) and c in updated]
            if moved:
                await self.session.execute(
                    tbl.update()
                    .where(tbl.c.customer_id.in_(moved), tbl.c[flag].is_(True))
                    .values({flag: False, "updated_at": func.now()})
                )
        return rows

    async def _link(self, memberships: list[tuple[str, list[str]]]) -> None:
        """Groups created or matched by name; memberships added unless already there."""
        names = sorted({n for _, groups in memberships for n in groups})
        if not names:
            return
        live = text("deleted_at IS NULL")
        tbl = GROUP.table
        new_groups = [
            {"id": i, "name": n}
            for i, n in zip(ids.new_ids(GROUP.prefix, len(names)), names, strict=True)
        ]
        inserted = await self.session.execute(
            pg_insert(tbl)
            .values(new_groups)
            .on_conflict_do_nothing(index_elements=["name"], index_where=live)
            .returning(tbl.c.id)
        )
        await events.emit_internal(self.session, GROUP, "created", list(inserted.scalars()))
        pairs = sorted({(c, n) for c, groups in memberships for n in groups})
        statement = (
            "INSERT INTO customer_group_customer (id, customer_id, customer_group_id) "
            f"SELECT r.id, r.customer_id, g.id FROM {_rows(['id', 'customer_id', 'name'])} "
            "JOIN customer_group AS g ON g.name = r.name AND g.deleted_at IS NULL ORDER BY r.n "
            "ON CONFLICT (customer_id, customer_group_id) WHERE deleted_at IS NULL DO NOTHING "
            "RETURNING id"
        )
        columns = {
            "id": ids.new_ids(MEMBERSHIP.prefix, len(pairs)),
            "customer_id": [c for c, _ in pairs],
            "name": [n for _, n in pairs],
        }
        params = {k: json.dumps(v) for k, v in columns.items()}
        added = await self.session.execute(text(statement), params)
        await events.emit_internal(self.session, MEMBERSHIP, "created", list(added.scalars()))

    async def _release(self, created: list[str], updated: list[str]) -> None:
        """The batch's workflow events (`customer.created` per created customer, then
        `customer.updated` per updated one), under the run's event group, in one statement.
        They are staged and released in one go: the batch commits them with its rows, and
        nothing after it can undo it (an import is not rolled back), so they are written
        released."""
        if not (created or updated) or self.group is None:
            return
        names = [events.CUSTOMER_CREATED] * len(created) + [events.CUSTOMER_UPDATED] * len(updated)
        statement = (
            "INSERT INTO event_outbox "
            "(name, data, internal, status, event_group_id, status_changed_at) "
            "SELECT r.name, jsonb_build_object('id', r.id), false, :status, :group, now() "
            f"FROM {_rows(['name', 'id'])} ORDER BY r.n"
        )
        params = {"name": json.dumps(names), "id": json.dumps([*created, *updated])}
        await self.session.execute(
            text(statement), {**params, "status": events.RELEASED, "group": self.group}
        )


__all__ = ["BatchOutcome", "BulkImports", "RowError", "batch_operation_id"]
