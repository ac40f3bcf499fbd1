"""Export pages: the live customers a list filter selects (SPEC §3.1–3.2), after a given id in id
order (keyset pagination: a page is the same whoever asks and whenever, so a resumed export
neither repeats nor skips a row), with their live addresses and groups (SPEC §4.14's columns).

PostgreSQL builds each row's JSON (addresses and groups aggregated per customer in the same
query), so a page costs one round trip and no per-row object in Python."""

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


def _page(where: list[Any], limit: int) -> Any:
    c = CUSTOMER.table
    return select(c).where(*where).order_by(c.c.id).limit(limit).cte("page")


def _addresses(page: Any) -> Any:
    """The page's customers' live addresses, one JSON array per customer (id order)."""
    a = ADDRESS.table
    ordered = aggregate_order_by(_object(a, ADDRESS_COLUMNS), a.c.id)
    return (
        select(a.c.customer_id, func.json_agg(ordered).label("addresses"))
        .join(page, page.c.id == a.c.customer_id)
        .where(a.c.deleted_at.is_(None))
        .group_by(a.c.customer_id)
        .cte("addresses")
    )


def _groups(page: Any) -> Any:
    """The page's customers' live groups: as JSON, and their ids and names joined (id order)."""
    p, g = MEMBERSHIP.table, GROUP.table

    def joined(column: Any) -> Any:
        return func.string_agg(column, aggregate_order_by(literal(GROUP_SEPARATOR, String), g.c.id))

    as_json = func.json_agg(aggregate_order_by(_object(g, ("id", "name")), g.c.id))
    return (
        select(
            p.c.customer_id,
            as_json.label("groups"),
            joined(g.c.id).label("ids"),
            joined(g.c.name).label("names"),
        )
        .select_from(p.join(g, p.c.customer_group_id == g.c.id))
        .join(page, page.c.id == p.c.customer_id)
        .where(p.c.deleted_at.is_(None), g.c.deleted_at.is_(None))
        .group_by(p.c.customer_id)
        .cte("groups")
    )


def _text(value: Any) -> Any:
    """Any value as CSV text, rendered by PostgreSQL: JSON's forms (ISO timestamps, true/false,
    objects as JSON), and "" for null."""
    return func.coalesce(func.to_json(value).op("#>>")(literal_column("'{}'")), "")


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
        page = _page(where, limit)
        addresses, groups = _addresses(page), _groups(page)
        address_list = func.coalesce(addresses.c.addresses, _empty())
        if format == "jsonl":
            document = func.json_build_object(
                *[x for col in CUSTOMER_COLUMNS for x in (literal(col, String), page.c[col])],
                literal("addresses", String),
                address_list,
                literal("groups", String),
                func.coalesce(groups.c.groups, _empty()),
            )
            columns: list[Any] = [page.c.id, cast(document, Text)]
        else:
            columns = [
                page.c.id,
                *(_text(page.c[col]) for col in CUSTOMER_COLUMNS),
                cast(address_list, Text),
                func.coalesce(groups.c.ids, ""),
                func.coalesce(groups.c.names, ""),
            ]
        query = (
            select(*columns)
            .select_from(page)
            .outerjoin(addresses, addresses.c.customer_id == page.c.id)
            .outerjoin(groups, groups.c.customer_id == page.c.id)
            .order_by(page.c.id)
        )
        async with self.sessions() as session:
            result = (await session.execute(query)).all()
        if format == "jsonl":
            return [(row[0], f"{row[1]}\n") for row in result]
        return [(row[0], tuple(row[1:])) for row in result]
