"""Export pages: the live customers a list filter selects (SPEC §3.1–3.2), after a given id in id
order (keyset pagination: a page is the same whoever asks and whenever, so a resumed export
neither repeats nor skips a row), with their live addresses and groups (SPEC §4.14's columns).

PostgreSQL builds each row's JSON or CSV cells (addresses and groups aggregated per customer in
the same query), so a page costs one round trip and no per-row object in Python. The addresses
and groups are correlated subqueries on purpose: each is an index lookup per customer, so a page
costs the same at the millionth row as at the first. (Joined to the page as CTEs, the planner
hashes the whole address table for each page: quadratic over an export.)"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from sqlalchemy import ColumnElement, String, Text, cast, func, literal, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from customer_service.entities import ADDRESS, CUSTOMER, GROUP, MEMBERSHIP
from customer_service.errors import InvalidDataError
from customer_service.filters import compile_filter
from customer_service.schemas import AddressDTO, CustomerDTO

# SPEC §4.14: the customer's columns, its addresses, its groups' ids and names.
CUSTOMER_COLUMNS = tuple(
    f
    for f in CustomerDTO.model_fields
    if f not in ("auth_identity_id", "deleted_at", "addresses", "groups")
)
ADDRESS_COLUMNS = tuple(
    f for f in AddressDTO.model_fields if f not in ("customer_id", "deleted_at", "customer")
)
# CSV: the customer's columns, its addresses as a JSON array, its groups' ids and names.
CSV_COLUMNS = (*CUSTOMER_COLUMNS, "addresses", "groups.id", "groups.name")
GROUP_SEPARATOR = "|"

Format = Literal["csv", "jsonl"]
PageRow = tuple[str, Any]  # (customer id, the row: a JSON line or a tuple of CSV cells)


def _object(table: Any, columns: tuple[str, ...]) -> ColumnElement[Any]:
    pairs: list[Any] = []
    for column in columns:
        pairs += [literal(column, String), table.c[column]]
    return func.json_build_object(*pairs)


def _empty() -> ColumnElement[Any]:
    return literal_column("'[]'::json")


def _addresses() -> Any:
    c, a = CUSTOMER.table, ADDRESS.table
    ordered = aggregate_order_by(_object(a, ADDRESS_COLUMNS), a.c.id)
    return (
        select(func.coalesce(func.json_agg(ordered), _empty()))
        .where(a.c.customer_id == c.c.id, a.c.deleted_at.is_(None))
        .scalar_subquery()
    )


def _groups(aggregate: Any) -> Any:
    """`aggregate` over the customer's live groups (id order)."""
    c, p, g = CUSTOMER.table, MEMBERSHIP.table, GROUP.table
    return (
        select(aggregate)
        .select_from(p.join(g, p.c.customer_group_id == g.c.id))
        .where(p.c.customer_id == c.c.id, p.c.deleted_at.is_(None), g.c.deleted_at.is_(None))
        .scalar_subquery()
    )


def _joined(column: Any) -> Any:
    g = GROUP.table
    return func.string_agg(column, aggregate_order_by(literal(GROUP_SEPARATOR, String), g.c.id))


def _text(value: Any) -> Any:
    """Any column as CSV text, rendered by PostgreSQL: text as it is, other types in JSON's
    forms (ISO timestamps, true/false, objects as JSON), and "" for null."""
    if not isinstance(value.type, String):
        value = func.to_json(value).op("#>>")(literal_column("'{}'"))
    return func.coalesce(value, "")


class BulkExports:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def page(
        self, filters: Mapping[str, Any] | None, after_id: str | None, limit: int, format: Format
    ) -> list[PageRow]:
        """Up to `limit` customers after `after_id`, as JSON lines or CSV cells."""
        if format not in ("csv", "jsonl"):
            raise InvalidDataError("Invalid format: expected csv or jsonl", field="format")
        c = CUSTOMER.table
        where = [compile_filter(CUSTOMER, filters, "filters"), CUSTOMER.live()]
        if after_id is not None:
            where.append(c.c.id > after_id)
        g = GROUP.table
        addresses = _addresses()
        if format == "jsonl":
            document = func.json_build_object(
                *[x for col in CUSTOMER_COLUMNS for x in (literal(col, String), c.c[col])],
                literal("addresses", String),
                addresses,
                literal("groups", String),
                _groups(
                    func.coalesce(
                        func.json_agg(aggregate_order_by(_object(g, ("id", "name")), g.c.id)),
                        _empty(),
                    )
                ),
            )
            columns: list[Any] = [c.c.id, cast(document, Text)]
        else:
            columns = [
                c.c.id,
                *(_text(c.c[col]) for col in CUSTOMER_COLUMNS),
                cast(addresses, Text),
                func.coalesce(_groups(_joined(g.c.id)), ""),
                func.coalesce(_groups(_joined(g.c.name)), ""),
            ]
        query = select(*columns).where(*where).order_by(c.c.id).limit(limit)
        async with self.sessions() as session:
            result = (await session.execute(query)).all()
        if format == "jsonl":
            return [(row[0], f"{row[1]}\n") for row in result]
        return [(row[0], tuple(row[1:])) for row in result]
