"""Export pages: the live customers a list filter selects (SPEC §3.1–3.2), after a given id in id
order (keyset pagination: a page is the same whoever asks and whenever, so a resumed export
neither repeats nor skips a row), with their live addresses and groups (SPEC §4.14's columns).

A page is two queries: its ids (`page_ids`: a keyset scan of the primary key, with the filter),
then its text (`render`: one row of its row count and its JSON Lines or CSV records, rendered
and joined by PostgreSQL, which the worker writes to the file as it is: no Python object per
row). The two are separate so that the next pages' ids can be known, and those pages rendered on
other connections (other cores), while one is written. Each page is rendered as it is when
rendered: a customer deleted between the two reads is rendered as deleted, one erased is left
out, as if the export had run a moment earlier or later for that row.

The render takes the page's customers, their addresses and their groups in one index scan each
(`… = ANY(the page's ids)`: PostgreSQL walks an index once for all the sorted ids, whatever the
filter), aggregates them per customer, and merges the three in id order. So a page costs the same
at the millionth row as at the first, and one statement whatever its size. (Aggregated over the
whole address table instead, the planner hashes all of it for each page: quadratic over an
export; as a correlated subquery per customer, a lookup, a sort and an aggregate per row: several
times the cost.)"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from sqlalchemy import (
    Boolean,
    ColumnElement,
    DateTime,
    String,
    Text,
    any_,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
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


def _in_page(column: Any, ids: list[str]) -> ColumnElement[bool]:
    """`column = ANY(the page's ids)`: one index scan for all of them. (The ids are a value, not
    a subquery, so that the planner knows them: even on stale statistics the worst it can do is
    a scan with a hashed lookup, never a comparison with each id for each row.)"""
    in_page: ColumnElement[bool] = column == any_(bindparam("page_ids", ids, ARRAY(Text)))
    return in_page


def _json_array(row: Any, order: Any) -> Any:
    """The rows as one JSON array on one line (`json_agg` puts a line break between items)."""
    return func.array_to_json(func.array_agg(aggregate_order_by(row.table_valued(), order)))


def _addresses(ids: list[str]) -> Any:
    """Per customer of the page: its live addresses as a JSON array (id order)."""
    a = ADDRESS.table
    row = select(*(a.c[col] for col in ADDRESS_COLUMNS)).correlate(a).lateral("address")
    addresses = _json_array(row, row.c.id)
    return (
        select(a.c.customer_id, addresses.label("addresses"))
        .select_from(a.join(row, true()))
        .where(_in_page(a.c.customer_id, ids), a.c.deleted_at.is_(None))
        .group_by(a.c.customer_id)
        .subquery("addresses")
    )


def _groups(ids: list[str], format: Format) -> Any:
    """Per customer of the page: its live groups (id order), as a JSON array of {id, name}
    (JSON Lines) or as their ids and their names joined by `|` (CSV)."""
    p, g = MEMBERSHIP.table, GROUP.table
    if format == "jsonl":
        row = select(g.c.id, g.c.name).correlate(g).lateral("grp")
        columns = [_json_array(row, row.c.id).label("groups")]
        source: Any = p.join(g, p.c.customer_group_id == g.c.id).join(row, true())
    else:
        separator = literal(GROUP_SEPARATOR, String)
        columns = [
            func.string_agg(g.c[col], aggregate_order_by(separator, g.c.id), type_=Text).label(col)
            for col in ("id", "name")
        ]
        source = p.join(g, p.c.customer_group_id == g.c.id)
    return (
        select(p.c.customer_id, *columns)
        .select_from(source)
        .where(_in_page(p.c.customer_id, ids), p.c.deleted_at.is_(None), g.c.deleted_at.is_(None))
        .group_by(p.c.customer_id)
        .subquery("groups")
    )


def _cell(value: Any) -> Any:
    """A column as a CSV cell, rendered by PostgreSQL as Python's `csv` writes one: text as it
    is, other types in JSON's forms (ISO timestamps, true/false, objects as JSON), null as
    nothing; quoted (inner quotes doubled) if it holds a quote, a comma or a line break (which
    a timestamp or a boolean never does)."""
    if isinstance(value.type, Boolean | DateTime):
        return func.coalesce(func.to_json(value).op("#>>")(literal_column("'{}'")), "")
    if not isinstance(value.type, String):
        value = func.to_json(value).op("#>>")(literal_column("'{}'"))
    quoted = literal('"', String) + func.replace(value, '"', '""') + literal('"', String)
    needs_quotes = value.op("~")(literal('[",\r\n]', String))
    return func.coalesce(case((needs_quotes, quoted), else_=value), "")


def page_query(ids: list[str], format: Format) -> Any:
    """The render of a page (see the module's docstring): one row of (rows, text)."""
    c = CUSTOMER.table
    page = (
        select(*(c.c[col] for col in CUSTOMER_COLUMNS))
        .where(_in_page(c.c.id, ids))
        .cte("page")
        .prefix_with("MATERIALIZED")
    )
    addresses, groups = _addresses(ids), _groups(ids, format)
    empty: ColumnElement[Any] = literal_column("'[]'::json")
    found = page.outerjoin(addresses, addresses.c.customer_id == page.c.id).outerjoin(
        groups, groups.c.customer_id == page.c.id
    )
    if format == "jsonl":
        document = (
            select(
                *(page.c[col] for col in CUSTOMER_COLUMNS),
                func.coalesce(addresses.c.addresses, empty).label("addresses"),
                func.coalesce(groups.c.groups, empty).label("groups"),
            )
            .correlate(page, addresses, groups)
            .lateral("document")
        )
        found = found.join(document, true())
        line = cast(func.row_to_json(document.table_valued()), Text) + "\n"
    else:
        cells = [
            *(_cell(page.c[col]) for col in CUSTOMER_COLUMNS),
            _cell(cast(func.coalesce(addresses.c.addresses, empty), Text)),
            _cell(groups.c.id),
            _cell(groups.c.name),
        ]
        line = func.concat_ws(",", *cells) + "\n"
    text = func.string_agg(line, aggregate_order_by(literal("", String), page.c.id))
    return select(func.count(), text).select_from(found)


class BulkExports:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def page_ids(
        self, filters: Mapping[str, Any] | None, after_id: str | None, limit: int
    ) -> list[str]:
        """The ids of up to `limit` live customers `filters` selects after `after_id`, in order."""
        c = CUSTOMER.table
        where = [compile_filter(CUSTOMER, filters, "filters"), CUSTOMER.live()]
        if after_id is not None:
            where.append(c.c.id > after_id)
        chosen = select(c.c.id).where(*where).order_by(c.c.id).limit(limit)
        async with self.sessions() as session:
            return list((await session.scalars(chosen)).all())

    async def render(self, ids: list[str], format: Format) -> tuple[int, bytes]:
        """The customers `ids` as JSON Lines or CSV records, in id order (those still there), and
        how many, rendered and joined by PostgreSQL in one query."""
        if format not in ("csv", "jsonl"):
            raise InvalidDataError("Invalid format: expected csv or jsonl", field="format")
        if not ids:
            return 0, b""
        async with self.sessions() as session:
            rows, content = (await session.execute(page_query(ids, format))).one()
        return rows, (content or "").encode()
